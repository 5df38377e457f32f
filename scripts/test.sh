#!/usr/bin/env bash
# Install what the tests need (idempotent) and run every test: sanity, unit, integration.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/setup.sh" --test
cd "$repo"
py="$repo/.venv/bin"
echo "== sanity: ruff, mypy, compile, module docs =="
"$py/ruff" check runner plugins tests bench
"$py/mypy" runner/gnt
"$py/python" -m compileall -q runner plugins tests bench
echo "== pytest: unit, sanity and integration tests =="
# the slowest tests, for the CI time (issue 11)
exec "$py/pytest" -q -p no:cacheprovider --durations=40 tests "$@"
