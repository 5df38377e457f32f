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
# Two workers (pytest-xdist): the lab tests wait on guests and daemons much of the time and
# the unit and sanity tests fill that in. Each lab module, the storage lab and the host's
# libvirt tests stay on one worker, each worker in a lab slot of its own (tests/gnt_parallel.py).
# GNT_TEST_WORKERS=0 runs everything in this one process. --durations: the slowest tests.
# The temporary directories go under a short private one: a worker's own (popen-gwN) makes
# pytest's default paths long enough to break a cluster's master socket (108 characters).
workers=${GNT_TEST_WORKERS:-2}
base=$(mktemp -d /tmp/gt.XXXXXX)
trap 'rm -rf "$base"' EXIT
"$py/pytest" -q -p no:cacheprovider --durations=40 -n "$workers" --dist loadscope \
  --no-loadscope-reorder --basetemp="$base/t" tests "$@"
