#!/usr/bin/env bash
# Smoke test of a running org-members deployment: scripts/smoke.sh BASE_URL
#
# Without credentials it checks what anyone can: health, readiness, version, the OpenAPI spec, the
# docs UI, and that errors are problem documents. With SMOKE_EMAIL and SMOKE_PASSWORD of an Owner
# or Administrator it also signs in and walks the invite flows, cleaning up after itself: a
# personal access token it creates is revoked, an invitation it creates (never emailed) is revoked.
# Nothing is consumed: the invite link is only looked up. Needs curl and jq. Exits non-zero on the
# first failure, saying what failed.
set -uo pipefail

BASE="${1:?usage: scripts/smoke.sh BASE_URL}"
BASE="${BASE%/}"
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "smoke: $tool is required" >&2; exit 2; }
done

passed=0
fail() { echo "FAIL: $*" >&2; echo "smoke: $passed passed, 1 failed"; exit 1; }
ok() { passed=$((passed + 1)); echo "ok   $*"; }

# request METHOD PATH [BODY] [TOKEN]: sets $status, $body and $ctype.
request() {
  local method=$1 path=$2 data=${3:-} token=${4:-} args=()
  args=(-sS -X "$method" -o /tmp/smoke.$$ -w '%{http_code} %{content_type}' --max-time 10)
  [ -n "$data" ] && args+=(-H 'content-type: application/json' --data "$data")
  [ -n "$token" ] && args+=(-H "authorization: Bearer $token")
  local out
  out=$(curl "${args[@]}" "$BASE$path") || fail "$method $path: no answer from $BASE"
  status=${out%% *}
  ctype=${out#* }
  body=$(cat /tmp/smoke.$$)
  rm -f /tmp/smoke.$$
}

expect() { # expect STATUS WHAT
  [ "$status" = "$1" ] || fail "$2: expected $1, got $status: $body"
  ok "$2"
}

expect_problem() { # expect_problem STATUS CODE WHAT
  [ "$status" = "$1" ] || fail "$3: expected $1, got $status: $body"
  [[ "$ctype" == application/problem+json* ]] || fail "$3: content type $ctype is not application/problem+json"
  [ "$(jq -r .code <<<"$body")" = "$2" ] || fail "$3: expected code $2: $body"
  ok "$3"
}

request GET /health; expect 200 "GET /health"
request GET /ready; expect 200 "GET /ready (database reachable, schema current)"
request GET /version; expect 200 "GET /version ($(jq -r .version <<<"$body"))"
request GET /api/openapi.json; expect 200 "GET /api/openapi.json"
[[ "$(jq -r .openapi <<<"$body")" == 3.1* ]] || fail "the spec is not OpenAPI 3.1"
request GET /docs/; expect 200 "GET /docs/ (Swagger UI)"
request GET /api/smoke-test-no-such-route; expect_problem 404 not_found "unknown routes are problem documents"
request GET /api/invite; expect_problem 401 authentication_required "GET /api/invite needs a token"

if [ -z "${SMOKE_EMAIL:-}" ] || [ -z "${SMOKE_PASSWORD:-}" ]; then
  echo "smoke: SMOKE_EMAIL/SMOKE_PASSWORD not set; skipped the signed-in checks"
  echo "smoke: $passed passed, 0 failed"
  exit 0
fi

credentials=$(jq -nc --arg e "$SMOKE_EMAIL" --arg p "$SMOKE_PASSWORD" '{email: $e, password: $p}')
request POST /api/auth/login "$credentials"; expect 200 "POST /api/auth/login"
access=$(jq -r .access <<<"$body")
request GET /api/current-user/whoami "" "$access"; expect 200 "GET /api/current-user/whoami"
org=$(jq -r .organization_membership.organization_id <<<"$body")

request POST /api/token/ "{}" "$access"; expect 201 "POST /api/token/ (personal access token)"
personal=$(jq -r .token <<<"$body")
request POST /api/token/refresh/ "$(jq -nc --arg r "$personal" '{refresh: $r}')"; expect 200 "POST /api/token/refresh/"
request POST /api/token/blacklist/ "$(jq -nc --arg r "$personal" '{refresh: $r}')"; expect 204 "POST /api/token/blacklist/ (cleanup)"
request POST /api/token/refresh/ "$(jq -nc --arg r "$personal" '{refresh: $r}')"; expect_problem 401 token_revoked "a revoked token cannot refresh"

request GET /api/invite "" "$access"; expect 200 "GET /api/invite"
token=$(jq -r .token <<<"$body")
request GET "/api/invite/lookup?token=$token"; expect 200 "GET /api/invite/lookup (link, not consumed)"
request GET "/api/organizations/$org/memberships?role=NO&page_size=5" "" "$access"; expect 200 "GET memberships?role=NO ($(jq -r .count <<<"$body") pending)"

address="smoke-$(date +%s)-$$@smoke.invalid"
invite=$(jq -nc --arg e "$address" '{emails: [$e], role: "AN", send_email: false}')
request POST /api/invite/send-email "$invite" "$access"; expect 200 "POST /api/invite/send-email (not emailed)"
id=$(jq -r '.results[0].invitation_id' <<<"$body")
[ "$(jq -r '.results[0].status' <<<"$body")" = invited ] || fail "the smoke invitation was not created: $body"
request POST "/api/invitations/$id/revoke" "{}" "$access"; expect 200 "POST /api/invitations/$id/revoke (cleanup)"

echo "smoke: $passed passed, 0 failed"
