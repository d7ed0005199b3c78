"""The examples run headless at a tiny size (``AUDIOLM_EXAMPLE_TINY=1``) and are stored without outputs."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def tiny_env(out: Path) -> dict:
    return {**os.environ, "AUDIOLM_EXAMPLE_TINY": "1", "AUDIOLM_EXAMPLE_OUT": str(out), "OMP_NUM_THREADS": "1",
            "MPLBACKEND": "Agg"}


def test_piano_script_runs_tiny(tmp_path):
    out = tmp_path / "piano"
    result = subprocess.run([sys.executable, str(EXAMPLES / "piano_continuation.py")], env=tiny_env(out),
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "codec round trip: SI-SDR" in result.stdout
    import soundfile as sf

    prompt, rate = sf.read(out / "prompt.wav")
    continuation, _ = sf.read(out / "continuation.wav")
    assert rate == 16000 and len(prompt) == 16000 and len(continuation) == 30 * 320
    assert (out / "piano_continuation.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.requires("nbformat", "nbclient")
def test_speech_notebook_runs_tiny(tmp_path):
    import nbclient
    import nbformat

    notebook = nbformat.read(EXAMPLES / "speech_continuation.ipynb", as_version=4)
    out = tmp_path / "speech"
    os.environ.update({k: v for k, v in tiny_env(out).items() if k.startswith(("AUDIOLM_", "MPL"))})
    try:
        nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    finally:
        for key in ("AUDIOLM_EXAMPLE_TINY", "AUDIOLM_EXAMPLE_OUT"):
            os.environ.pop(key, None)
    text = "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "semantic (1, 50)" in text  # 1 s prompt at 50 Hz
    assert (out / "prompt.wav").exists() and (out / "continuation.wav").exists()
    assert (out / "speech_continuation.png").exists()


def test_examples_are_stored_without_outputs():
    import json

    notebook = json.loads((EXAMPLES / "speech_continuation.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None
