#!/usr/bin/env bash
# The demo, end to end: services up, a realistic Redis keyspace and an Elasticsearch index seeded,
# then analyze -> plan -> ddl -> migrate -> verify -> translate against the embedded PostgreSQL 18.
# Usage: bash scripts/demo.sh        (artifacts in out/demo/)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
pgc_ensure_venv
bash scripts/services.sh start redis
bash scripts/services.sh start es
eval "$(bash scripts/services.sh env)"
OUT=out/demo
mkdir -p "$OUT"
# Database 9 of the services' Redis is the demo's own; the embedded target keeps its data in .state/demo.
REDIS_URL="${PGCONSOLIDATE_TEST_REDIS_URL%/*}/9"
export PGCONSOLIDATE_STATE_DIR="$PWD/.state/demo"
PGC="$PGC_PYTHON -m pgconsolidate"

ES_URL="$PGCONSOLIDATE_TEST_ES_URL"

"$PGC_PYTHON" scripts/seed_demo.py "$REDIS_URL" --flush --es "$ES_URL"
echo "== analyze"; $PGC analyze --redis "$REDIS_URL" --es "$ES_URL" --es-indices 'demo-*' --observe 2 -o "$OUT/inventory.json"
echo "== plan";    $PGC plan "$OUT/inventory.json" -o "$OUT/plan.yaml"
echo "== ddl";     $PGC ddl "$OUT/plan.yaml" > "$OUT/schema.sql"; echo "SQL written to $OUT/schema.sql"
echo "== migrate"; $PGC migrate "$OUT/plan.yaml" --redis "$REDIS_URL" --es "$ES_URL"
echo "== verify";  $PGC verify "$OUT/plan.yaml" --redis "$REDIS_URL" --es "$ES_URL" --format markdown | tee "$OUT/verify.md"
echo "== translate"
$PGC translate '{"query": {"bool": {"must": [{"match": {"body": "socket timeout"}}], "filter": [{"range": {"views": {"gte": 10}}}]}}, "size": 5}' \
  --plan "$OUT/plan.yaml" | tee "$OUT/translated.sql"
echo "demo finished: inventory, plan, schema, the verify report and a translated query are in $OUT/"
