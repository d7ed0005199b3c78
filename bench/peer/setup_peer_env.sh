#!/usr/bin/env bash
# Build the virtual environment in which bench/peer/measure_peer.py measures audiolm-pytorch 2.4.0.
#
# The venv reuses the system torch (CPU build) through --system-site-packages. Nothing here resolves
# dependencies (every install is --no-deps): audiolm-pytorch's requirements name torchaudio, encodec and
# fairseq, which would replace or break torch here (measure_peer.py stubs those three at import time), and
# most of the packages below require torch, which pip could otherwise "upgrade" to a CUDA build.
# So the peer's pure-Python import closure is listed by hand, pinned, and installed into the venv with
# --ignore-installed (the venv does not lean on whatever happens to be in the system site-packages).
# The list was read from each wheel's METADATA (pip download --no-deps); beyond torch, the peer then needs
# only what `pip install audiolm_lib` itself guarantees (numpy, einops, transformers, scikit-learn, tqdm, ...),
# which bench/peer/check_peer_env.py verifies at the end, together with torch being unchanged and no torchaudio.
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
PIP=("$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-deps --ignore-installed --quiet)

# The peer itself, without its declared dependencies, then what audiolm_pytorch.audiolm_pytorch and
# .soundstream import at module level, directly or through these packages (requirements in brackets):
#   vector-quantize-pytorch 1.32.0 [einops, einx, loguru, torch-einops-utils, torch]  (the library's [codecs] pin)
#   einx [numpy, sympy, frozendict]   local-attention [einops, hyper-connections, torch]
#   hyper-connections [einops>=0.8.1, torch-einops-utils, torch]   gateloop-transformer [einops, rotary-embedding-torch, torch]
#   rotary-embedding-torch [einops, torch]   ema-pytorch [torch]   beartype, loguru, frozendict: none
# einops is pinned here too: audiolm_lib asks only einops>=0.7, hyper-connections >=0.8.1.
"${PIP[@]}" \
    "audiolm-pytorch==2.4.0" \
    "vector-quantize-pytorch==1.32.0" \
    "einx==0.4.3" \
    "frozendict==2.5.1" \
    "loguru==0.7.3" \
    "torch-einops-utils==0.2.0" \
    "einops==0.8.2" \
    "beartype==0.23.1" \
    "hyper-connections==0.4.11" \
    "local-attention==1.11.2" \
    "gateloop-transformer==0.2.5" \
    "rotary-embedding-torch==0.9.1" \
    "ema-pytorch==0.8.3"

TORCH_AFTER="$("$VENV_DIR/bin/python" -c 'import torch; print(torch.__version__)')"
if [ "$TORCH_AFTER" != "$TORCH_BEFORE" ]; then
    echo "error: torch changed inside the peer venv ($TORCH_BEFORE -> $TORCH_AFTER)" >&2
    exit 1
fi
if "$VENV_DIR/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torchaudio") is None)'; then
    echo "error: torchaudio is importable in the peer venv; it must not be installed here" >&2
    exit 1
fi

# measure_peer.py --check with only the venv and what a fresh machine guarantees visible
"$VENV_DIR/bin/python" "$REPO_ROOT/bench/peer/check_peer_env.py" --check
echo "peer venv ready: $VENV_DIR (torch $TORCH_AFTER)"
