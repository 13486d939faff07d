#!/usr/bin/env bash
# Set up everything fgkeras needs on a fresh Debian/Ubuntu machine:
# the Fashion-MNIST Debian package (real data for tests and benchmarks),
# a virtualenv in .venv and an editable install with the test extras.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] && command -v apt-get >/dev/null; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  echo "[setup] installing Debian package dataset-fashion-mnist"
  $sudo_cmd apt-get update -qq >/dev/null
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating virtualenv .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
# Reinstall only when the package metadata changed since the last install.
stamp=.venv/.fgkeras-installed
wanted="$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "[setup] installing fgkeras and its test dependencies into .venv"
  .venv/bin/pip install -q -e ".[test]"
  echo "$wanted" > "$stamp"
fi
