"""Music measures: a rendered piano is more harmonic, more tonal and more pitch-concentrated than noise; chroma
similarity tells the same harmony from another; onsets count notes. Relations only, never fixed scores."""
import numpy as np
import pytest
import torch

from audiolm_lib.eval.music import chroma_agreement, chroma_similarity, music_continuation_report, music_measures

pytestmark = pytest.mark.requires("librosa", "tinysoundfont", "pretty_midi")
RATE = 16000


def piano(keys_per_onset, seconds_per_onset=0.5, velocity=90) -> torch.Tensor:
    """Tensor[T]: each entry of ``keys_per_onset`` (a chord) struck in turn on the training soundfont."""
    from audiolm_lib.datasets.piano import NoteEvent, render_notes

    notes = [NoteEvent(i * seconds_per_onset, (i + 1) * seconds_per_onset, key, velocity)
             for i, keys in enumerate(keys_per_onset) for key in keys]
    return torch.from_numpy(render_notes(notes, RATE))


C_MAJOR, F_SHARP_MAJOR = (60, 64, 67), (66, 70, 73)


@pytest.fixture(scope="module")
def c_major_arpeggios():
    return piano([C_MAJOR, (60,), (64,), (67,), C_MAJOR, (72,), (67,), (64,)], 0.25)


def test_piano_is_more_harmonic_and_tonal_than_noise(c_major_arpeggios):
    noise = 0.3 * torch.randn(c_major_arpeggios.shape, generator=torch.Generator().manual_seed(0))
    keys, hiss = music_measures(c_major_arpeggios, RATE), music_measures(noise, RATE)
    assert keys["harmonic_ratio"] > hiss["harmonic_ratio"] + 0.2
    assert keys["spectral_flatness"] < 0.1 * hiss["spectral_flatness"]
    assert keys["chroma_top3_ratio"] > hiss["chroma_top3_ratio"] + 0.15


def test_onset_rate_counts_strikes():
    fast = music_measures(piano([(60,), (62,), (64,), (65,), (67,), (69,), (71,), (72,)], 0.25), RATE)
    held = music_measures(piano([C_MAJOR], 2.0), RATE)
    assert fast["onset_rate"] > held["onset_rate"] + 1.5


def test_chroma_similarity_follows_harmony(c_major_arpeggios):
    c_again = piano([C_MAJOR, (67,), (64,), (60,)], 0.5)
    far_key = piano([F_SHARP_MAJOR, (73,), (70,), (66,)], 0.5)
    same = chroma_similarity(c_major_arpeggios, c_again, RATE)
    other = chroma_similarity(c_major_arpeggios, far_key, RATE)
    assert same > 0.9 and same > other + 0.3


def test_chroma_agreement_follows_the_notes_in_time_where_the_mean_chroma_cannot():
    moving = piano([C_MAJOR, F_SHARP_MAJOR, C_MAJOR, F_SHARP_MAJOR])
    reversed_order = piano([F_SHARP_MAJOR, C_MAJOR, F_SHARP_MAJOR, C_MAJOR])  # the same chords, out of step
    held = piano([C_MAJOR] * 4)
    assert chroma_agreement(moving, moving, RATE) == pytest.approx(1.0, abs=1e-6)
    assert chroma_similarity(moving, reversed_order, RATE) > 0.95  # the time average cannot tell them apart
    assert chroma_agreement(moving, reversed_order, RATE) < chroma_agreement(moving, held, RATE) < 0.9
    assert chroma_agreement(moving, torch.zeros_like(moving), RATE) is None


def test_continuation_report_puts_generated_next_to_real(c_major_arpeggios):
    half = len(c_major_arpeggios) // 2
    prompt, real = c_major_arpeggios[:half], c_major_arpeggios[half:]
    noise = 0.3 * torch.randn(real.shape, generator=torch.Generator().manual_seed(1))
    report = music_continuation_report(prompt, noise, real, RATE, resynthesis=real.clone())
    assert set(report) == {"harmonic_ratio", "spectral_flatness", "chroma_top3_ratio", "onset_rate",
                           "chroma_similarity_to_prompt"}
    for measure in report.values():
        assert set(measure) == {"generated", "real", "resynthesis"}
    assert report["harmonic_ratio"]["real"] > report["harmonic_ratio"]["generated"]
    assert report["chroma_similarity_to_prompt"]["real"] > report["chroma_similarity_to_prompt"]["generated"]
    assert report["chroma_top3_ratio"]["resynthesis"] == pytest.approx(report["chroma_top3_ratio"]["real"])


def test_silence_and_bad_input():
    silent = music_measures(torch.zeros(RATE), RATE)
    assert silent["harmonic_ratio"] is None and silent["onset_rate"] == 0.0
    assert chroma_similarity(torch.zeros(RATE), torch.zeros(RATE), RATE) is None
    with pytest.raises(ValueError, match="at least"):
        music_measures(torch.ones(100), RATE)
    with pytest.raises(ValueError, match="one wave"):
        music_measures(np.zeros((2, 1, RATE)), RATE)
