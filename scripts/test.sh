#!/usr/bin/env bash
# The test command of README.md: set-up, lint, format check, then the whole
# pytest suite (unit tests, registry-wide tests, doctests, large tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=2
echo "[test] ruff check and format"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] pytest"
# Three worker processes (pytest-xdist): most tests run TensorFlow on small
# tensors and keep about one core busy, with gaps (subprocesses starting,
# files written); a third worker fills those gaps on a 2-core machine
# (pytest alone, from fresh clones with 14 registered models: 15 min 48 s with two
# workers; 14 min 57 s and 15 min 41 s with three). --dist loadfile keeps
# each file on one worker, so module-scoped fixtures (e.g. the
# registry-wide training runs) are built once.
# --durations lists the slowest tests, to see where CI time goes.
.venv/bin/python -m pytest -q -n "${FGKERAS_TEST_WORKERS:-3}" --dist loadfile --durations 25 "$@"
