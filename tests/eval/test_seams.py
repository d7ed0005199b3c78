"""Seam flux: a click or phase jump at a seam stands out; a clean signal's seams look like anywhere else."""
import math

import torch

from audiolm_lib.eval.seams import seam_flux, spectral_flux


def tone(rate=16000, seconds=2.0, jump_at=None):
    t = torch.arange(int(rate * seconds)) / rate
    phase = 2 * math.pi * 330 * t
    if jump_at is not None:
        phase[jump_at:] += math.pi / 2
    return 0.3 * torch.sin(phase) + 0.3 * torch.sin(2 * phase) + 0.001 * torch.randn(len(t))


def test_flux_has_one_value_per_frame():
    assert spectral_flux(tone(), hop=160).shape == (int(16000 * 2.0) // 160 + 1,)


def test_a_phase_jump_at_a_seam_shows_and_a_clean_seam_does_not():
    torch.manual_seed(0)
    seams = [8000, 20000]
    clean = seam_flux(tone(), seams)
    assert len(clean["ratios"]) == 2 and clean["max_ratio"] < 1.5
    jumped = seam_flux(tone(jump_at=20000), seams)
    assert jumped["ratios"][1] > 3 and jumped["ratios"][0] < 1.5
    assert seam_flux(tone(), [10**9])["ratios"] == []  # outside the wave: skipped
