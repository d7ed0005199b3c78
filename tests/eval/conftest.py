"""Real and synthetic speech for the evaluation tests: pocketsphinx-testdata clips and espeak-ng voices."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

MISSING = "missing optional dependency: "  # tests/conftest.py turns such skips into failures under CI=true

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="session")
def librivox_clips():
    """{clip id: (wav path, transcript)} from Debian's pocketsphinx-testdata (one real reader)."""
    transcripts = LIBRIVOX / "transcription"
    if not transcripts.exists():
        pytest.skip(MISSING + "pocketsphinx-testdata (apt-get install pocketsphinx-testdata)")
    clips = {}
    for line in transcripts.read_text().splitlines():
        match = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
        if match and (LIBRIVOX / f"{match.group(2)}.wav").exists():
            clips[match.group(2).rsplit("-", 1)[-1]] = (LIBRIVOX / f"{match.group(2)}.wav", match.group(1))
    return clips


@pytest.fixture(scope="session")
def espeak_voices(tmp_path_factory):
    """make(voice, text) -> path of a wav spoken by espeak-ng with that voice (22.05 kHz)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip(MISSING + "espeak-ng (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("espeak")

    def make(voice: str, text: str) -> Path:
        path = folder / f"{voice.replace('+', '_')}_{abs(hash(text))}.wav"
        if not path.exists():
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
        return path

    return make

