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
build --bin org-members --example ceiling
bin="$PWD/target/$profile/org-members"
ceiling_bin="$PWD/target/$profile/examples/ceiling"

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
ceiling_port=18384
server=""
ceiling=""
# Each service is measured in a subshell of its own environment, which stops it (and the
# ceiling, when it runs beside it) on any exit.
cleanup() { for pid in $server $ceiling; do kill "$pid" 2>/dev/null || true; done; }
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

# The ceiling: a bare actix-web handler of the same JSON, no authentication, no database; and the
# same handler with one query of organization ORG on the service's database, made as the service
# makes its caller's (bench/ceiling.rs). Measured in rounds, each right next to a run of org-members'
# GET /api/invite at INVITE_URL: the machine's speed drifts within minutes (the same build's
# GET /api/invite 9,000-17,000 req/s in one evening), and shares taken from runs far apart would
# measure the drift. Writes a row per round to $work/ceiling.md, $work/one-query.md, $work/share.md.
measure_share() {
  local invite_url=$1 org=$2 service=$server round
  PORT=$ceiling_port ORGANIZATION_ID=$org "$ceiling_bin" &
  ceiling=$!
  wait_until_ready "$C/api/invite" 60
  for round in $(seq "$rounds"); do
    server=$ceiling results="$work/ceiling.md"
    load "GET /api/invite (ceiling, round $round)" "$connections" "$C/api/invite"
    results="$work/one-query.md"
    load "GET /api/invite (one query, round $round)" "$connections" "$C/api/invite/one-query"
    server=$service results="$work/share.md"
    load "GET /api/invite (round $round)" "$connections" "$invite_url"
  done
  kill "$ceiling"
  wait "$ceiling" 2>/dev/null || true
  ceiling="" server=$service
}
C="http://127.0.0.1:$ceiling_port"
rounds=$([ "$smoke" = 1 ] && echo 1 || echo 3)

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
    RATE_LIMIT_PER_ADDRESS=0 RATE_LIMIT_PER_EMAIL=0
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
  measure_share "$B/api/invite" "$org"
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

# One line per round of measure_share: requests/s of the ceiling, of its one-query handler and of
# org-members, then the shares (%) of the ceiling the last two make.
share_rounds() {
  paste -d'|' <(cut -d'|' -f3 "$work/ceiling.md") <(cut -d'|' -f3 "$work/one-query.md") \
    <(cut -d'|' -f3 "$work/share.md") \
    | awk -F'|' '{ceiling = ($1 > 0) ? $1 : 1;
                  printf "%.0f %.0f %.0f %.1f %.1f\n", $1, $2, $3, 100 * $2 / ceiling, 100 * $3 / ceiling}'
}
rounds_text=$(share_rounds | awk '{printf "%s%s / %s (%s%%) / %s (%s%%)", (NR > 1) ? "; " : "", $1, $2, $4, $3, $5}')
# The median of column N of share_rounds.
median_of() { share_rounds | sort -n -k"$1" | awk -v n="$1" '{v[NR] = $n} END {print v[int((NR + 1) / 2)]}'; }

{
  echo "## Label Studio $label_studio_version and org-members, $db, $members members ($(date -u +%Y-%m-%d), $(nproc) cores, profile $profile, wrk -t2 -c$connections -d$duration $wrk_options)"
  echo
  echo "| endpoint | Label Studio req/s | p50 | p99 | errors | org-members req/s | p50 | p99 | errors | speed-up |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  side_by_side
  echo
  echo "- \`GET /api/invite\` against the ceiling (\`bench/ceiling.rs\`: actix-web, the same JSON, no authentication, no database), the ceiling with one query (the organization by its key, read as org-members reads its caller: on SQLite on the HTTP worker's thread, else through its pool) and org-members, one right after the other in $([ "$rounds" = 1 ] && echo "1 round" || echo "$rounds rounds"), req/s (share of the ceiling): $rounds_text. Median shares: one query $(median_of 4)%, org-members $(median_of 5)% (issue 5's target: 30%)"
  echo "- peak resident memory: Label Studio $(cat "$work/label-studio.peak") MiB, org-members $(cat "$work/org-members.peak") MiB"
  echo "- start to ready on a migrated database: Label Studio $(printf '%.2f' "$(cat "$work/label-studio.ready")") s, org-members $(printf '%.3f' "$(cat "$work/org-members.ready")") s"
  echo "- each on a fresh $db database; org-members with rate limits off (as in bench/run.sh), Label Studio with its defaults and legacy API tokens on"
  machine_settings
}
