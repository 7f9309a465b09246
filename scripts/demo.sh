#!/usr/bin/env bash
# The demo, end to end: services up, a realistic Redis keyspace seeded, then
# analyze -> plan -> ddl -> migrate -> verify against the embedded PostgreSQL 18 target.
# Usage: bash scripts/demo.sh        (artifacts in out/demo/)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
pgc_ensure_venv
bash scripts/services.sh start redis
eval "$(bash scripts/services.sh env)"
OUT=out/demo
mkdir -p "$OUT"
# Database 9 of the services' Redis is the demo's own; the embedded target keeps its data in .state/demo.
REDIS_URL="${PGCONSOLIDATE_TEST_REDIS_URL%/*}/9"
export PGCONSOLIDATE_STATE_DIR="$PWD/.state/demo"
PGC="$PGC_PYTHON -m pgconsolidate"

"$PGC_PYTHON" scripts/seed_demo.py "$REDIS_URL" --flush
echo "== analyze"; $PGC analyze --redis "$REDIS_URL" -o "$OUT/inventory.json"
echo "== plan";    $PGC plan "$OUT/inventory.json" -o "$OUT/plan.yaml"
echo "== ddl";     $PGC ddl "$OUT/plan.yaml" > "$OUT/schema.sql"; echo "SQL written to $OUT/schema.sql"
echo "== migrate"; $PGC migrate "$OUT/plan.yaml" --redis "$REDIS_URL"
echo "== verify";  $PGC verify "$OUT/plan.yaml" --redis "$REDIS_URL" --format markdown | tee "$OUT/verify.md"
echo "demo finished: inventory, plan, schema and the verify report are in $OUT/"
