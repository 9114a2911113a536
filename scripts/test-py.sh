#!/usr/bin/env bash
# Runs the training pipeline's Python tests with Debian's python3 (where python3-torch and python3-scipy live).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
exec "$PY" -m unittest discover -s training/tests -t . -v
