#!/usr/bin/env bash
# Benchmarks org-members with wrk on loopback. See bench/README.md.
#   bench/run.sh [--db sqlite|postgres|mariadb] [--members N] [--duration 15s] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

parse_options "$@"
wrk_options=""
install_tools
build
bin="$PWD/target/$profile/org-members"

work=$(mktemp -d)
port=18380
smtp_port=18381
server=""
sink=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "$sink" ] && kill "$sink" 2>/dev/null || true
  [ "$db" = sqlite ] || server_sql "drop database if exists om_bench" >/dev/null 2>&1 || true
}
trap cleanup EXIT
echo "bench: working in $work" >&2

# server_sql SQL: runs SQL on the database server (PostgreSQL, MariaDB), outside om_bench.
server_sql() {
  case "$db" in
    postgres) PGOPTIONS=--client-min-messages=warning psql -q -h 127.0.0.1 -U postgres -d test -c "$1" ;;
    mariadb) mariadb -h 127.0.0.1 -u root -e "$1" ;;
  esac
}
# query SQL: one value from the bench database.
query() {
  case "$db" in
    sqlite) sqlite3 "$work/bench.sqlite3" "$1" ;;
    postgres) psql -h 127.0.0.1 -U postgres -d om_bench -Atc "$1" ;;
    mariadb) mariadb -h 127.0.0.1 -u root -N -B om_bench -e "$1" ;;
  esac
}
case "$db" in
  sqlite) export DATABASE_URL="sqlite://$work/bench.sqlite3?mode=rwc" ;;
  postgres) export DATABASE_URL="postgres://postgres@127.0.0.1:5432/om_bench" ;;
  mariadb) export DATABASE_URL="mysql://root@127.0.0.1:3306/om_bench" ;;
esac
if [ "$db" != sqlite ]; then
  server_sql "drop database if exists om_bench" >/dev/null
  server_sql "create database om_bench" >/dev/null
fi
export PORT=$port ACCESS_TOKEN_TTL=2h RUST_LOG=warn JWT_SECRET=bench-secret-bench-secret-bench-secret-0123
# wrk logs in thousands of times from one address as one person, and invites thousands of
# addresses a minute: the rate limits and the daily email limits would answer 429 to nearly all
# of it. The benchmark measures the endpoints; the limits have their own tests.
export RATE_LIMIT_PER_ADDRESS=0 RATE_LIMIT_PER_EMAIL=0 EMAILS_PER_RECIPIENT_PER_DAY=0 EMAILS_PER_ORGANIZATION_PER_DAY=0
B="http://127.0.0.1:$port"
password="bench password"

"$bin" migrate >/dev/null
seed_started=$(date +%s.%N)
read -r org _ < <("$bin" seed --owner bench-owner@example.org --password "$password" \
  --members "$members" --invitations $((members / 10)))
seed_seconds=$(seconds_since "$seed_started")

# Starts the service; sets $server and $ready_seconds (spawn to the first 200 from /ready).
start_server() {
  if curl -fs "$B/health" >/dev/null 2>&1; then
    echo "bench: something already listens on port $port; stop it first" >&2
    exit 1
  fi
  local started; started=$(date +%s.%N)
  "$bin" >"$work/server.log" 2>&1 &
  server=$!
  wait_until_ready "$B/ready" 60
  ready_seconds=$(seconds_since "$started")
}
start_server

login=$(jq -nc --arg p "$password" '{email: "bench-owner@example.org", password: $p}')
access=$(curl -fs "$B/api/auth/login" -H 'content-type: application/json' -d "$login" | jq -r .access)
auth="Authorization: Bearer $access"
target=$(curl -fs "$B/api/organizations/$org/memberships?role=AN&page_size=1" -H "$auth" | jq -r '.results[0].user.id')

results="$work/results.md"
printf '| endpoint | requests/s | p50 | p99 | errors | resident after |\n|---|---:|---:|---:|---:|---:|\n' >"$results"

M="$B/api/organizations/$org/memberships"
found() { curl -fs "$M?search=$1&page_size=1" -H "$auth" | jq .count; }
search_counts="member12 $(found member12), member999. $(found member999.)"
load "GET /api/invite" "$connections" "$B/api/invite"
load "GET /api/current-user/whoami" "$connections" "$B/api/current-user/whoami"
load "GET memberships (page of 20)" "$connections" "$M?page_size=20"
load "GET memberships?role=NO" "$connections" "$M?role=NO"
load "GET memberships?search=member12" "$connections" "$M?search=member12"
# A search's cost follows what it finds, not the organization's size: member12 finds 11 members
# of 1,000 and 1,111 of 100,000; member999. finds one at every size.
load "GET memberships?search=member999. (one match)" "$connections" "$M?search=member999."
load "GET memberships/{user_id}" "$connections" "$M/$target"
load "PATCH memberships (role)" "$connections" "$M" PATCH "{\"user_id\": $target, \"role\": \"RE\"}"
load "POST /api/invite/reset-token" "$connections" "$B/api/invite/reset-token" POST '{}'
# The rest of the traffic while one organization's writes queue on its row: a burst must not
# take the pool from everyone else (src/turns.rs).
load_beside "GET /api/invite, 8 connections, while 32 reset the link" 8 "$B/api/invite" \
  "$connections" "$B/api/invite/reset-token" POST '{}'
# The peak before the password hashes: each hashing thread (one per core) keeps its 7 MiB.
rss_before_login_mib=$(peak_mib "$server")
load "POST /api/auth/login (Argon2id)" "$connections" "$B/api/auth/login" POST "$login"
load "POST /api/invite/send-email (100 new addresses)" 8 "$B/api/invite/send-email" SCRIPT bench/send_email.lua

rss_mib=$(peak_mib "$server")
first_ready_seconds=$ready_seconds

# The email sender: restart with an SMTP server and time the queue draining.
kill "$server"; wait "$server" 2>/dev/null || true; server=""
python3 bench/smtp_sink.py "$smtp_port" "$work/sent.count" 2>/dev/null &
sink=$!
sleep 0.5
queued=$(query "select count(*) from email_outbox where status = 'queued'")
export SMTP_URL="smtp://127.0.0.1:$smtp_port" PUBLIC_URL=http://members.test EMAIL_CONCURRENCY=8 EMAIL_POLL_INTERVAL=1s
drain_limit=$([ "$smoke" = 1 ] && echo 200 || echo 1000)
start_server
drain_started=$(date +%s.%N)
target_count=$(( queued < drain_limit ? queued : drain_limit ))
deadline=$(( $(date +%s) + 120 ))
# The sink replaces the count file as it goes; before its first message there is none.
sent_so_far() { local n; n=$(cat "$work/sent.count" 2>/dev/null || true); echo "${n:-0}"; }
until [ "$(sent_so_far)" -ge "$target_count" ] || [ "$(date +%s)" -ge "$deadline" ]; do
  sleep 0.2
done
drain_seconds=$(seconds_since "$drain_started")
sent_count=$(sent_so_far)

{
  echo "## $db, $members members ($(date -u +%Y-%m-%d), $(nproc) cores, profile $profile, wrk -t2 -c$connections -d$duration)"
  echo
  cat "$results"
  echo
  echo "- peak resident memory: $rss_before_login_mib MiB before the login run, $rss_mib MiB in all (Argon2id: 7 MiB kept by each hashing thread, one per core)"
  echo "- start to ready on a migrated database: $(printf '%.3f' "$first_ready_seconds") s"
  echo "- seeding: $(printf '%.1f' "$seed_seconds") s"
  echo "- members each search finds: $search_counts"
  echo "- the resets beside the last GET load: $beside_rps requests/s"
  echo "- email sender: $sent_count messages in $(printf '%.1f' "$drain_seconds") s ($(echo "$sent_count / $drain_seconds" | bc) messages/s, EMAIL_CONCURRENCY=8, a discarding SMTP server on loopback; $queued were queued)"
  machine_settings
}
