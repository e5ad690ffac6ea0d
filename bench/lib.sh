# Shared by bench/run.sh and bench/compare.sh (sourced, not run): their options, their tools,
# and one wrk run per endpoint, appended as a Markdown row to $results (wrk's report to
# $results with .wrk.txt for .md).
#
# Reads: $auth (the Authorization header), $server (the pid whose memory is read), $duration,
# $smoke (1: no warm-up second), $results, and $wrk_options (extra wrk options, may be empty).

# Sets $db, $members, $duration, $connections, $smoke and $profile from the options
# [--db sqlite|postgres|mariadb] [--members N] [--duration 15s] [--smoke].
parse_options() {
  db=sqlite members=1000 duration=15s connections=32 smoke=0 profile=release
  while [ $# -gt 0 ]; do
    case "$1" in
      --db) db=$2; shift 2 ;;
      --members) members=$2; shift 2 ;;
      --duration) duration=$2; shift 2 ;;
      --smoke) smoke=1; members=200; duration=2s; profile=debug; shift ;;
      *) echo "unknown option $1" >&2; exit 2 ;;
    esac
  done
  profile=${BENCH_PROFILE:-$profile}
  case "$db" in sqlite | postgres | mariadb) ;; *) echo "--db sqlite, postgres or mariadb" >&2; exit 2 ;; esac
}

# Installs wrk and jq from Debian's packages when they are missing.
install_tools() {
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
}

# Builds the release or debug binaries named (cargo's target options, e.g. --bin org-members).
build() {
  if [ "$profile" = release ]; then cargo build --release --locked -q "$@"; else cargo build --locked -q "$@"; fi
}

# load NAME CONNECTIONS URL [METHOD BODY]; METHOD SCRIPT runs the wrk script BODY.
load() {
  local name=$1 conns=$2 url=$3 method=${4:-GET} body=${5:-}
  local out
  # A request wrk gave up on (its timeout, or the end of the previous run) may still be in the
  # service's queue: Label Studio's are seconds long. Each run starts on an idle service.
  wait_until_idle "$server"
  # shellcheck disable=SC2086 # $wrk_options is a list of options
  if [ "$method" = GET ]; then
    # One unmeasured second first: the pool opens its connections and prepares its statements
    # on the first endpoint that needs them, which would otherwise count against that endpoint.
    if [ "$smoke" != 1 ]; then
      wrk -t2 -c"$conns" -d1s $wrk_options -H "$auth" "$url" >/dev/null
      wait_until_idle "$server"
    fi
    out=$(wrk -t2 -c"$conns" -d"$duration" --latency $wrk_options -H "$auth" "$url")
  elif [ "$method" = SCRIPT ]; then
    out=$(wrk -t2 -c"$conns" -d"$duration" --latency $wrk_options -s "$body" -H "$auth" "$url")
  else
    out=$(METHOD=$method BODY=$body wrk -t2 -c"$conns" -d"$duration" --latency $wrk_options \
      -s bench/post.lua -H "$auth" "$url")
  fi
  record "$name" "$out"
}

# load_beside NAME CONNECTIONS URL BESIDE_CONNECTIONS BESIDE_URL METHOD BODY: the row of a GET
# load on URL, measured while BESIDE_CONNECTIONS more clients send METHOD BODY to BESIDE_URL all
# along (one organization's burst of writes beside the rest of the traffic). The other load's
# requests/s is left in $beside_rps, its report in the wrk reports.
load_beside() {
  local name=$1 conns=$2 url=$3 beside_conns=$4 beside_url=$5 method=$6 body=$7
  local beside_out=${results%.md}.beside.txt beside out
  wait_until_idle "$server"
  # shellcheck disable=SC2086 # $wrk_options is a list of options
  METHOD=$method BODY=$body wrk -t1 -c"$beside_conns" -d1h $wrk_options -s bench/post.lua \
    -H "$auth" "$beside_url" >"$beside_out" &
  beside=$!
  sleep 1 # the burst under way before the measured load begins
  # shellcheck disable=SC2086
  out=$(wrk -t1 -c"$conns" -d"$duration" --latency $wrk_options -H "$auth" "$url")
  # wrk stops on SIGINT and reports what it did until then.
  kill -INT "$beside"
  wait "$beside" || true
  record "$name" "$out"
  printf '### beside it: %s\n%s\n\n' "$beside_url" "$(cat "$beside_out")" >>"${results%.md}.wrk.txt"
  beside_rps=$(awk '/Requests\/sec/ {print $2}' "$beside_out")
}

# record NAME WRK_REPORT: appends NAME's row to $results, and the report to the wrk reports.
record() {
  local name=$1 out=$2
  # wrk's own report, kept beside the table: what an error was (a timeout, a status) is there.
  printf '### %s\n%s\n\n' "$name" "$out" >>"${results%.md}.wrk.txt"
  local rps p50 p99 errors non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  errors=$(awk '/Socket errors/ {print $4 + $6 + $8 + $10}' <<<"$out" | tr -d ',')
  local rss_now; rss_now=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$server/status")
  printf '| %s | %s | %s | %s | %s | %s MiB |\n' "$name" "$rps" "$p50" "$p99" \
    "$(( ${non2xx:-0} + ${errors:-0} ))" "$rss_now" >>"$results"
  echo "$name: $rps req/s, p50 $p50, p99 $p99" >&2
}

# Seconds since START (a `date +%s.%N`).
seconds_since() {
  echo "$(date +%s.%N) - $1" | bc
}

# Waits until URL answers 200, at most LIMIT seconds; fails after that.
wait_until_ready() {
  local url=$1 limit=$2 deadline
  deadline=$(( $(date +%s) + limit ))
  until curl -fs "$url" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: $url not ready after ${limit}s" >&2; return 1; }
    sleep 0.005
  done
}

# Waits until process PID uses under 5% of a core over half a second, at most 120 seconds.
wait_until_idle() {
  local pid=$1 ticks=$(( $(getconf CLK_TCK) / 40 )) before after deadline
  deadline=$(( $(date +%s) + 120 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    before=$(cpu_ticks "$pid"); sleep 0.5; after=$(cpu_ticks "$pid")
    [ $((after - before)) -le "$ticks" ] && return 0
  done
  echo "bench: process $pid still busy after 120 s; measuring anyway" >&2
}

# CPU time a process has used (user and system), in clock ticks.
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# Peak resident memory of a process in MiB.
peak_mib() {
  awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"
}

# The machine's settings that the measurements depend on, as Markdown list items.
machine_settings() {
  local halt_poll autogroup
  # On a virtual machine, how long an idle vCPU polls before it halts decides how fast a woken
  # thread runs again, and SQLite's writes are a chain of such wake-ups (BENCHMARKS.md).
  halt_poll=/sys/module/haltpoll/parameters/guest_halt_poll_ns
  if [ -r "$halt_poll" ]; then
    echo "- guest halt polling: $(cat "$halt_poll") ns (\`$halt_poll\`)"
  fi
  # With autogroups on, the kernel shares the CPU among sessions before threads: PostgreSQL's
  # backends (its daemon's session) take turns against this script's session, which holds the
  # service and wrk: on 2 cores a woken backend can wait a quarter of a second for a core, and
  # some requests stall for seconds (BENCHMARKS.md, session 11).
  autogroup=/proc/sys/kernel/sched_autogroup_enabled
  if [ -r "$autogroup" ]; then
    echo "- scheduler autogroups: $(cat "$autogroup") (\`$autogroup\`)"
  fi
}
