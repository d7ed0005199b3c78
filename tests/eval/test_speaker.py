import warnings

import numpy as np
import pytest
import torch

from audiolm_lib.audio import AudioError, load_audio
from audiolm_lib.eval.speaker import speaker_embedding, speaker_similarity

pytestmark = pytest.mark.requires("resemblyzer", "_webrtcvad")
SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "She sells sea shells by the sea shore every single summer morning.",
)


def test_silent_wave_is_a_clear_error():
    with pytest.raises(AudioError, match="silent"):
        speaker_embedding(torch.zeros(16000), 16000)


@pytest.mark.slow
def test_same_voice_scores_higher_than_different_voice(espeak_voices):
    male_a = load_audio(espeak_voices("en-us+m3", SENTENCES[0]))
    male_b = load_audio(espeak_voices("en-us+m3", SENTENCES[1]))
    female_b = load_audio(espeak_voices("en+f2", SENTENCES[1]))
    embedding = speaker_embedding(male_a, 22050)
    assert embedding.shape == (256,) and np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-6)
    same = speaker_similarity(male_a, male_b, 22050)
    different = speaker_similarity(male_a, female_b, 22050)
    assert same > 0.85 and different < 0.75 and same > different + 0.15, (same, different)


@pytest.mark.slow
def test_matches_resemblyzer_voice_encoder(librivox_clips):
    """The re-implemented preprocessing gives resemblyzer's own embedding; resemblyzer itself must import
    (the [eval] extra's webrtcvad-wheels replaces webrtcvad's `import pkg_resources`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder, preprocess_wav
    path, _ = librivox_clips["0880"]
    wave = load_audio(path)
    reference = VoiceEncoder(device="cpu", verbose=False).embed_utterance(preprocess_wav(wave[0].numpy(), source_sr=16000))
    assert float(np.dot(speaker_embedding(wave, 16000), reference)) == pytest.approx(1.0, abs=1e-4)
