#!/usr/bin/env bash
# THE test command: bash scripts/test.sh [pytest args...]
#
# Ensures the project venv, starts the real services (Redis, PostgreSQL 18, Elasticsearch; see
# scripts/services.sh), exports their URLs, and runs pytest with PGCONSOLIDATE_REQUIRE_SERVICES=1
# so that a missing service fails instead of skipping. Then it fails the run if any test under
# tests/integration was skipped anyway (pytest.skip inside a test, skipif markers...), listing
# each one with its reason. Services are left running for fast re-runs; stop them with
# `bash scripts/services.sh stop`.
set -euo pipefail

# shellcheck source=scripts/_venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$PGC_REPO_ROOT"

pgc_ensure_venv
bash scripts/services.sh start
eval "$(bash scripts/services.sh env)"
export PGCONSOLIDATE_REQUIRE_SERVICES=1

results_dir="${PGC_SERVICES_DIR:-$PGC_REPO_ROOT/.state/services}/../test-results"
mkdir -p "$results_dir"
junit="$(cd "$results_dir" && pwd)/junit.xml"
rm -f "$junit"

# A private --basetemp: pytest prunes old numbered dirs under the shared /tmp/pytest-of-<user>, which
# deleted a live test's directory when another pytest ran on the same machine at the same time.
basetemp="$(cd "$results_dir" && pwd)/pytest-tmp"

rc=0
"$PGC_PYTHON" -m pytest --junitxml="$junit" --basetemp="$basetemp" "$@" || rc=$?
if ((rc == 5)); then
  pgc_log "FAIL: pytest collected no tests"
  exit 5
fi
if [[ ! -s "$junit" ]]; then
  pgc_log "FAIL: pytest wrote no report at $junit (exit $rc)"
  exit $((rc == 0 ? 1 : rc))
fi

skip_rc=0
"$PGC_PYTHON" - "$junit" <<'PY' || skip_rc=$?
"""Fail when an integration test was skipped: CI must exercise every real-service path."""
import sys
import xml.etree.ElementTree as ET

skipped = []
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if not case.get("classname", "").startswith("tests.integration."):
        continue
    for skip in case.findall("skipped"):
        # pytest records an xfail as <skipped type="pytest.xfail">: it ran and failed as expected.
        if skip.get("type") == "pytest.xfail":
            continue
        reason = skip.get("message") or (skip.text or "").strip() or "no reason given"
        skipped.append(f"  {case.get('classname')}::{case.get('name')}: {reason}")
if skipped:
    print(f"FAIL: {len(skipped)} integration test(s) skipped; every one must run here:", file=sys.stderr)
    print("\n".join(skipped), file=sys.stderr)
    sys.exit(1)
PY

if ((rc != 0)); then
  exit "$rc"
fi
exit "$skip_rc"
