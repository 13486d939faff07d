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
.venv/bin/python -m pytest -q "$@"
