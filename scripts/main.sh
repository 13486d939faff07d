#!/usr/bin/env bash
# The main job of README.md, with its own set-up: train a global-pooling
# baseline and a bilinear CNN on the built-in synthetic fine-grained dataset,
# evaluate both, export the better one to saved_models/ and print a comparison.
# Extra arguments go to `fgkeras quickstart` (e.g. --epochs 12).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/fgkeras quickstart "$@"
