#!/usr/bin/env bash
# Build the virtual environment in which bench/peer/measure_peer.py measures audiolm-pytorch 2.4.0.
#
# The venv reuses the system torch (CPU build) through --system-site-packages. audiolm-pytorch is
# installed with --no-deps because its requirements name torchaudio, encodec and fairseq, which would
# replace or break torch here; measure_peer.py stubs those three at import time instead. Its other
# pure-Python needs are installed one by one, also with --no-deps, and torch is checked afterwards.
#
# Usage: bash bench/peer/setup_peer_env.sh [VENV_DIR]   (default: <repo>/.venv-peer)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV_DIR="${1:-$REPO_ROOT/.venv-peer}"
PYTHON="${PYTHON:-python3}"

TORCH_BEFORE="$("$PYTHON" -c 'import torch; print(torch.__version__)')"

if [ ! -x "$VENV_DIR/bin/python" ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV_DIR"
fi
PIP=("$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-deps --quiet)

# The peer itself, pinned, without its declared dependencies.
"${PIP[@]}" "audiolm-pytorch==2.4.0"

# What audiolm_pytorch.audiolm_pytorch and .soundstream import at module level and the system lacks.
# (einops, transformers, accelerate, joblib, scikit-learn, vector-quantize-pytorch and
# torch-einops-utils come from the system site-packages.)
for package in \
    "beartype>=0.16.1" \
    "hyper-connections>=0.1.8" \
    "local-attention>=1.9.0" \
    "gateloop-transformer>=0.2.3" \
    "rotary-embedding-torch" \
    "ema-pytorch>=0.2.2"; do
    "${PIP[@]}" "$package"
done

TORCH_AFTER="$("$VENV_DIR/bin/python" -c 'import torch; print(torch.__version__)')"
if [ "$TORCH_AFTER" != "$TORCH_BEFORE" ]; then
    echo "error: torch changed inside the peer venv ($TORCH_BEFORE -> $TORCH_AFTER)" >&2
    exit 1
fi
if "$VENV_DIR/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torchaudio") is None)'; then
    echo "error: torchaudio is importable in the peer venv; it must not be installed here" >&2
    exit 1
fi

"$VENV_DIR/bin/python" "$REPO_ROOT/bench/peer/measure_peer.py" --check
echo "peer venv ready: $VENV_DIR (torch $TORCH_AFTER)"
