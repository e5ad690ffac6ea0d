#!/usr/bin/env bash
# The OpenAPI document as integrators meet it: two validators (openapi-spec-validator, Redocly CLI
# with every warning an error), a Python client generated with openapi-python-client driving the
# main flow against the release binary, and TypeScript types (openapi-typescript) that a program
# using openapi-fetch must type-check against. Generated code is never committed; the generators'
# versions are pinned here and in typescript/package-lock.json.
#
# Usage: tests/contract/clients.sh BINARY
set -euo pipefail
binary="$(realpath "$1")"
cd "$(dirname "$0")/../.."
document=openapi/openapi.json
port=18621
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; wait "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

venv="${TMPDIR:-/tmp}/org-members-ci-contract"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check \
  openapi-spec-validator==0.7.1 openapi-python-client==0.29.1
(cd tests/contract/typescript && npm ci --no-audit --no-fund --loglevel=error)
npx=tests/contract/typescript/node_modules/.bin

echo "--- openapi-spec-validator"
"$venv/bin/openapi-spec-validator" "$document"
echo "--- redocly lint"
"$npx/redocly" lint --config tests/contract/redocly.yaml --format=stylish "$document"

echo "--- Python client (openapi-python-client), main flow against $binary"
printf 'post_hooks: []\n' >"$work/generator.yml"
"$venv/bin/openapi-python-client" generate --path "$document" --meta none \
  --output-path "$work/client" --config "$work/generator.yml"
export DATABASE_URL="sqlite://$work/clients.sqlite3?mode=rwc" PORT=$port RUST_LOG=warn \
  RATE_LIMIT_PER_ADDRESS=0 RATE_LIMIT_PER_EMAIL=0
"$binary" migrate >/dev/null
"$binary" >"$work/service.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
PYTHONPATH="$work" "$venv/bin/python" tests/contract/python_client_flow.py "http://127.0.0.1:$port"

echo "--- TypeScript types (openapi-typescript) and tsc --noEmit"
(cd tests/contract/typescript && ./node_modules/.bin/openapi-typescript "../../../$document" -o schema.d.ts &&
  ./node_modules/.bin/tsc --noEmit -p .)
echo "contract clients: 4 passed"
