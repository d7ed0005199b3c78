"""The fifteenth pass's measure (speaker similarity, voiced share, DNSMOS OVRL) without its module's globals."""
import sys

sys.path.insert(0, "/work/main")
from audiolm_lib.eval.perceptual import dnsmos  # noqa: E402
from audiolm_lib.eval.speaker import speaker_similarity  # noqa: E402
from audiolm_lib.eval.voicing import voicing_report  # noqa: E402

__all__ = ["dnsmos", "measure"]

RATE = 16000


def measure(prompt, wave):
    return {"sim": speaker_similarity(prompt, wave, RATE), "voiced": voicing_report(wave, RATE)["voiced_share"],
            "ovrl": dnsmos(wave, RATE)["ovrl"]}
