#!/usr/bin/env bash
# The main job of README.md, with its own set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/fgkeras list
.venv/bin/python -c "import fgkeras; m = fgkeras.build('bcnn', num_classes=200, weights=None); print(m.name, m.input_shape, m.count_params(), 'parameters')"
