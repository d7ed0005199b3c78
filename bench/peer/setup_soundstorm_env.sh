#!/usr/bin/env bash
# Build the virtual environment in which bench/peer/measure_soundstorm.py measures soundstorm-pytorch 0.6.1.
#
# Same pattern as setup_peer_env.sh: --system-site-packages reuses the system torch (CPU build); the package is
# installed with --no-deps because it requires audiolm-pytorch and spear-tts-pytorch (which pull torchaudio,
# encodec and fairseq); measure_soundstorm.py loads soundstorm_pytorch/soundstorm.py without the package
# __init__ (which imports the trainer) and stubs the two imports it uses only for optional components
# (a codec, a wav2vec, a text-to-semantic model). Its pure-Python needs are installed one by one, --no-deps.
#
# Usage: bash bench/peer/setup_soundstorm_env.sh [VENV_DIR]   (default: <repo>/.venv-soundstorm)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV_DIR="${1:-$REPO_ROOT/.venv-soundstorm}"
PYTHON="${PYTHON:-python3}"

TORCH_BEFORE="$("$PYTHON" -c 'import torch; print(torch.__version__)')"

if [ ! -x "$VENV_DIR/bin/python" ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV_DIR"
fi
PIP=("$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-deps --quiet)

"${PIP[@]}" "soundstorm-pytorch==0.6.1"
# what soundstorm_pytorch/soundstorm.py imports at module level and the system lacks
# (einops, packaging and tqdm come from the system site-packages)
for package in "beartype>=0.16.1" "hyper-connections>=0.1.15"; do
    "${PIP[@]}" "$package"
done

TORCH_AFTER="$("$VENV_DIR/bin/python" -c 'import torch; print(torch.__version__)')"
if [ "$TORCH_AFTER" != "$TORCH_BEFORE" ]; then
    echo "error: torch changed inside the soundstorm venv ($TORCH_BEFORE -> $TORCH_AFTER)" >&2
    exit 1
fi
if "$VENV_DIR/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torchaudio") is None)'; then
    echo "error: torchaudio is importable in the soundstorm venv; it must not be installed here" >&2
    exit 1
fi

"$VENV_DIR/bin/python" "$REPO_ROOT/bench/peer/measure_soundstorm.py" --check
echo "soundstorm venv ready: $VENV_DIR (torch $TORCH_AFTER)"
