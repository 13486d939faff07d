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
# Two worker processes (pytest-xdist): most tests run TensorFlow on small
# tensors and keep one core busy, so two workers use a 2-core machine fully.
# --dist loadfile keeps each file on one worker, so module-scoped fixtures
# (e.g. the registry-wide training runs) are built once.
.venv/bin/python -m pytest -q -n "${FGKERAS_TEST_WORKERS:-2}" --dist loadfile "$@"
