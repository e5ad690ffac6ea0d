#!/usr/bin/env bash
# Label Studio and org-members side by side, in one run, on this machine. See bench/README.md.
#   bench/compare.sh [--db sqlite|postgres] [--members N] [--duration 15s] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

# Label Studio Community Edition from PyPI, pinned so that runs on different days compare. It has
# the endpoints measured here (the invite link, its reset, whoami, the members list and one
# member); the roles and pending users are Enterprise's, which is not on PyPI.
label_studio_version=1.23.2
parse_options "$@"
if [ "$db" = mariadb ]; then
  echo "bench: Label Studio runs on SQLite or PostgreSQL; bench/run.sh --db mariadb measures org-members alone" >&2
  exit 2
fi
# Label Studio's members page takes seconds per request under this load: with wrk's default
# 2-second timeout those requests would count as errors and drop out of the latencies. Both
# services get the same options.
wrk_options="--timeout 30s"

install_tools
build --bin org-members
bin="$PWD/target/$profile/org-members"

# About 1 GiB and two to three minutes to install; kept between runs.
venv=${LABEL_STUDIO_VENV:-$HOME/.cache/org-members-bench/label-studio-$label_studio_version}
if [ ! -x "$venv/bin/label-studio" ]; then
  echo "bench: installing label-studio==$label_studio_version into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "label-studio==$label_studio_version"
fi

work=$(mktemp -d)
port=18382
ls_port=18383
server=""
# Each service is measured in a subshell of its own environment, which stops it on any exit.
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; }
# On PostgreSQL each service gets a fresh database of its own on 127.0.0.1:5432.
pg() { PGOPTIONS=--client-min-messages=warning psql -q -h 127.0.0.1 -U postgres -d test -c "$1" >/dev/null; }
drop_databases() { pg "drop database if exists om_compare" && pg "drop database if exists ls_compare"; }
if [ "$db" = postgres ]; then
  drop_databases
  pg "create database om_compare"
  pg "create database ls_compare"
  trap 'drop_databases 2>/dev/null || true' EXIT
fi
echo "bench: working in $work" >&2
owner=bench-owner@example.org
password="bench password"

# Stops the service under measurement.
stop_server() {
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
}

# The endpoints both services have, with the same load, then the service's peak memory; stops
# the service. measure NAME BASE ORG MEMBER_URL writes $work/NAME.md and $work/NAME.peak.
measure() {
  local name=$1 base=$2 org=$3 member_url=$4
  results="$work/$name.md"
  load "GET /api/invite" "$connections" "$base/api/invite"
  load "GET /api/current-user/whoami" "$connections" "$base/api/current-user/whoami"
  load "GET memberships (page of 20)" "$connections" "$base/api/organizations/$org/memberships?page_size=20"
  load "GET memberships/{user_id}" "$connections" "$member_url"
  load "POST /api/invite/reset-token" "$connections" "$base/api/invite/reset-token" POST '{}'
  peak_mib "$server" >"$work/$name.peak"
  stop_server
}

# org-members as bench/run.sh runs it.
B="http://127.0.0.1:$port"
(
  trap cleanup EXIT
  case "$db" in
    sqlite) export DATABASE_URL="sqlite://$work/org-members.sqlite3?mode=rwc" ;;
    postgres) export DATABASE_URL="postgres://postgres@127.0.0.1:5432/om_compare" ;;
  esac
  export PORT=$port RUST_LOG=warn \
    ACCESS_TOKEN_TTL=2h JWT_SECRET=bench-secret-bench-secret-bench-secret-0123 \
    RATE_LIMIT_PER_ADDRESS=0 RATE_LIMIT_PER_EMAIL=0 EMAILS_PER_RECIPIENT_PER_DAY=0 \
    EMAILS_PER_ORGANIZATION_PER_DAY=0
  "$bin" migrate >/dev/null
  read -r org _ < <("$bin" seed --owner "$owner" --password "$password" \
    --members "$members" --invitations $((members / 10)))
  started=$(date +%s.%N)
  "$bin" >"$work/org-members.log" 2>&1 &
  server=$!
  wait_until_ready "$B/ready" 60
  seconds_since "$started" >"$work/org-members.ready"
  login=$(jq -nc --arg e "$owner" --arg p "$password" '{email: $e, password: $p}')
  access=$(curl -fs "$B/api/auth/login" -H 'content-type: application/json' -d "$login" | jq -r .access)
  auth="Authorization: Bearer $access"
  member=$(curl -fs "$B/api/organizations/$org/memberships?role=AN&page_size=1" -H "$auth" \
    | jq -r '.results[0].user.id')
  measure org-members "$B" "$org" "$B/api/organizations/$org/memberships/$member"
)

# Label Studio with its defaults: `label-studio start` (Django's server), SQLite in its data dir
# or its PostgreSQL settings.
L="http://127.0.0.1:$ls_port"
(
  trap cleanup EXIT
  export LABEL_STUDIO_BASE_DATA_DIR="$work/label-studio"
  if [ "$db" = postgres ]; then
    export DJANGO_DB=default POSTGRE_HOST=127.0.0.1 POSTGRE_PORT=5432 POSTGRE_USER=postgres \
      POSTGRE_PASSWORD="" POSTGRE_NAME=ls_compare
  fi
  start_label_studio() {
    "$venv/bin/label-studio" start --no-browser --internal-host 127.0.0.1 --port "$ls_port" "$@" \
      >>"$work/label-studio.log" 2>&1 &
    server=$!
    wait_until_ready "$L/health" 600
  }
  # The first start migrates the database and creates the Owner; the measured one is the next.
  start_label_studio --username "$owner" --password "$password"
  stop_server
  read -r org token < <("$venv/bin/python" bench/label_studio_seed.py "$owner" "$members" \
    2>>"$work/label-studio.log")
  started=$(date +%s.%N)
  start_label_studio
  seconds_since "$started" >"$work/label-studio.ready"
  auth="Authorization: Token $token"
  member=$(curl -fs "$L/api/organizations/$org/memberships?page=2&page_size=1" -H "$auth" \
    | jq -r '.results[0].user.id')
  measure label-studio "$L" "$org" "$L/api/organizations/$org/memberships/$member/"
)

# One row per endpoint: Label Studio's columns, then org-members', then the ratio of their requests/s.
side_by_side() {
  paste -d'|' <(cut -d'|' -f2-6 "$work/label-studio.md") <(cut -d'|' -f3-6 "$work/org-members.md") \
    | awk -F'|' '{ times = ($2 > 0) ? sprintf("%.0f", $6 / $2) : "-";
                   printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s| %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, times }'
}

{
  echo "## Label Studio $label_studio_version and org-members, $db, $members members ($(date -u +%Y-%m-%d), $(nproc) cores, profile $profile, wrk -t2 -c$connections -d$duration $wrk_options)"
  echo
  echo "| endpoint | Label Studio req/s | p50 | p99 | errors | org-members req/s | p50 | p99 | errors | speed-up |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  side_by_side
  echo
  echo "- peak resident memory: Label Studio $(cat "$work/label-studio.peak") MiB, org-members $(cat "$work/org-members.peak") MiB"
  echo "- start to ready on a migrated database: Label Studio $(printf '%.2f' "$(cat "$work/label-studio.ready")") s, org-members $(printf '%.3f' "$(cat "$work/org-members.ready")") s"
  echo "- each on a fresh $db database; org-members with rate limits off (as in bench/run.sh), Label Studio with its defaults and legacy API tokens on"
  machine_settings
}
