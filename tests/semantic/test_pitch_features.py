"""Chroma + loudness features (semantic tokens that carry the harmony): notes, chords, librosa, frames, tokenizer."""
import math

import numpy as np
import pytest
import torch

from audiolm_lib.semantic.features import FeatureConfig, build_features
from audiolm_lib.semantic.pitch_features import ChromaFeatures, chroma_filterbank

RATE = 16000


def _tones(freqs, seconds=1.0, rate=RATE):
    t = torch.arange(int(seconds * rate)) / rate
    return sum(torch.sin(2 * math.pi * f * t) * 0.3 for f in freqs)[None, None]


def _midi_hz(note):
    return 440.0 * 2 ** ((note - 69) / 12)


@pytest.fixture(scope="module")
def chroma():
    return build_features(FeatureConfig.for_kind("chroma"))


def test_for_kind_gives_chroma_its_long_stft():
    config = FeatureConfig.for_kind("chroma", hop_length=160)
    assert (config.n_fft, config.win_length, config.hop_length) == (2048, 2048, 160)
    assert isinstance(build_features(config), ChromaFeatures)
    assert FeatureConfig.for_kind("logmel").n_fft == FeatureConfig(kind="logmel").n_fft  # other kinds untouched


@pytest.mark.parametrize("note", [45, 57, 60, 64, 67, 71, 74, 83])  # A2 .. B5
def test_a_note_lights_its_pitch_class(chroma, note):
    features = chroma(_tones([_midi_hz(note)]))
    assert int(features[0, 25, :12].argmax()) == note % 12


@pytest.mark.parametrize("chord", [(60, 64, 67), (62, 65, 69), (55, 59, 62, 65)])
def test_a_chord_lights_its_pitch_classes(chroma, chord):
    features = chroma(_tones([_midi_hz(n) for n in chord]))
    top = set(features[0, 25, :12].topk(len(chord)).indices.tolist())
    assert top == {n % 12 for n in chord}


def test_transposition_rotates_the_chroma(chroma):
    low = chroma(_tones([_midi_hz(n) for n in (60, 64, 67)]))[0, 25, :12]
    up = chroma(_tones([_midi_hz(n + 2) for n in (60, 64, 67)]))[0, 25, :12]
    assert torch.allclose(torch.roll(low, 2), up, atol=0.15)


def test_agrees_with_librosa_chroma():
    librosa = pytest.importorskip("librosa")
    wave = _tones([_midi_hz(n) for n in (57, 61, 64, 69)]) + 0.5 * _tones([_midi_hz(50)])
    ours = chroma_filterbank(2048, RATE, 80.0, 4200.0).T.numpy()
    power = np.abs(librosa.stft(wave[0, 0].numpy(), n_fft=2048, hop_length=320)) ** 2
    theirs = librosa.feature.chroma_stft(S=power, sr=RATE, tuning=0.0, norm=None)
    mine = ours @ power
    mine, theirs = mine[:, 10] / np.linalg.norm(mine[:, 10]), theirs[:, 10] / np.linalg.norm(theirs[:, 10])
    assert float(mine @ theirs) > 0.9


def test_frames_align_with_the_50hz_grid_and_energy_tracks_loudness(chroma):
    quiet_then_loud = torch.cat([0.05 * _tones([440.0], 0.5), _tones([440.0], 0.5)], dim=-1)
    features = chroma(quiet_then_loud)
    assert features.shape == (1, 50, 14)
    assert chroma(torch.zeros(1, 1, 16001)).shape == (1, 51, 14)
    energy = features[0, :, 12]
    assert float(energy[35:45].mean()) > float(energy[5:15].mean()) + 1.0
    assert float(features[0, 23:28, 13].max()) > float(features[0, 35:45, 13].abs().max())  # the attack's delta


def test_silence_has_a_small_chroma_not_amplified_noise(chroma):
    wave = torch.cat([torch.zeros(1, 1, 8000) + 1e-7 * torch.randn(1, 1, 8000), _tones([440.0], 0.5)], dim=-1)
    norms = chroma(wave)[0, :, :12].norm(dim=-1)
    assert float(norms[5:15].max()) < 0.1 < float(norms[35:45].min())


def test_chroma_tokenizer_fits_saves_and_reloads(tmp_path):
    import soundfile as sf

    from audiolm_lib.semantic.tokenizer import SemanticTokenizer, fit_tokenizer

    for index, chord in enumerate([(60, 64, 67), (62, 65, 69), (57, 60, 64), (55, 59, 62)]):
        sf.write(tmp_path / f"chord{index}.wav", _tones([_midi_hz(n) for n in chord], 2.0)[0, 0].numpy(), RATE)
    tokenizer = fit_tokenizer(tmp_path, "chroma", 4, seed=0, progress=False)
    tokenizer.save_pretrained(tmp_path / "tok")
    again = SemanticTokenizer.from_pretrained(tmp_path / "tok")
    wave = torch.cat([_tones([_midi_hz(n) for n in (60, 64, 67)]), _tones([_midi_hz(n) for n in (62, 65, 69)])], -1)
    ids, reloaded = tokenizer.tokenize(wave, RATE)[0], again.tokenize(wave, RATE)[0]
    assert torch.equal(ids, reloaded) and ids.shape == (100,)
    assert ids[20] != ids[80]  # two chords, two ids


def _struck_twice(seconds=2.0, again_at=1.0):
    """A C-major chord struck at 0 s and again at ``again_at`` s, each strike decaying (a piano's envelope): the
    second strike lands while the first still sounds."""
    t = torch.arange(int(seconds * RATE)) / RATE
    since = torch.where(t >= again_at, t - again_at, t)
    chord = sum(torch.sin(2 * math.pi * _midi_hz(n) * t) for n in (60, 64, 67))
    return (0.2 * chord * torch.exp(-3.0 * since))[None, None]


def test_chroma_onset_adds_an_onset_strength_that_marks_a_repeated_strike(chroma):
    onset = build_features(FeatureConfig.for_kind("chroma_onset"))
    wave = _struck_twice()
    features = onset(wave)
    assert features.shape == (1, 100, 15) and onset.dim == 15
    assert torch.allclose(features[..., :14], chroma(wave), atol=1e-5)  # the chroma kind's dims, unchanged
    strength = features[0, :, 14]
    restrike = float(strength[48:53].max())
    assert restrike > 2.0 and restrike > float(strength[60:95].max()) + 2.0  # the strike stands out of the decay
    half = build_features(FeatureConfig.for_kind("chroma_onset", onset_weight=0.5))(wave)[0, :, 14]
    assert torch.allclose(half, strength / 4, atol=1e-5)  # onset_weight (default 2) scales that one dim
    assert FeatureConfig.for_kind("chroma_onset").n_fft == 2048  # the chroma kind's STFT


def test_an_onset_tokenizer_keeps_its_weight_through_save_and_load(tmp_path):
    import json

    import soundfile as sf

    from audiolm_lib.semantic.tokenizer import SemanticTokenizer, fit_tokenizer

    sf.write(tmp_path / "struck.wav", _struck_twice()[0, 0].numpy(), RATE)
    config = FeatureConfig.for_kind("chroma_onset", onset_weight=1.0)
    tokenizer = fit_tokenizer([tmp_path / "struck.wav"], config, 4, seed=0, progress=False)
    tokenizer.save_pretrained(tmp_path / "tok")
    again = SemanticTokenizer.from_pretrained(tmp_path / "tok")
    assert again.features.config.onset_weight == 1.0 and again.features.dim == 15
    assert torch.equal(tokenizer.tokenize(_struck_twice(), RATE), again.tokenize(_struck_twice(), RATE))
    saved = json.loads((tmp_path / "tok" / "config.json").read_text())
    assert saved["config"]["features"]["kind"] == "chroma_onset"
