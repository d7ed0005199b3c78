"""Are the seams of a streamed continuation audible? Spectral flux at chunk boundaries vs elsewhere.

Spectral flux per STFT frame: the mean over bins of the half-wave rectified rise of the log magnitude from
the previous frame (an onset detector's novelty curve: a click, a phase jump or a level step at a seam shows
up as a peak). :func:`seam_flux` compares the largest flux within ``radius`` frames of each seam with the
median flux of all frames away from the seams; a ratio near 1 means a seam looks like any other moment.
"""
from __future__ import annotations

import torch

FLOOR = 1e-5


def spectral_flux(wave: torch.Tensor, n_fft: int = 512, hop: int = 160) -> torch.Tensor:
    """``Tensor[T]`` -> ``Tensor[N]``: flux of STFT frame ``n`` (centred at sample ``n * hop``; frame 0 is 0)."""
    spec = torch.stft(wave.reshape(-1).float(), n_fft, hop, window=torch.hann_window(n_fft), center=True,
                      return_complex=True)
    log_mag = torch.log(spec.abs().clamp_min(FLOOR))  # [bins, N]
    rise = (log_mag[:, 1:] - log_mag[:, :-1]).clamp_min(0).mean(dim=0)
    return torch.cat([rise.new_zeros(1), rise])


def seam_flux(wave: torch.Tensor, seams: list[int], *, n_fft: int = 512, hop: int = 160, radius: int = 2) -> dict:
    """Flux at the ``seams`` (sample positions in ``wave: Tensor[T]``) against the median elsewhere.

    Both sides use the same statistic, the largest flux within ``radius`` frames of a position (a seam's
    disturbance may land a frame off): at each seam, and at every position farther than ``2 * radius`` frames
    from all seams (whose median is the reference). Returns ``{"seam_flux": [per seam], "median_flux",
    "ratios": [per seam], "mean_ratio", "max_ratio"}`` (seams outside the wave are skipped).
    """
    flux = spectral_flux(wave, n_fft, hop)
    local_max = torch.nn.functional.max_pool1d(flux[None, None], 2 * radius + 1, 1, radius)[0, 0]
    away = torch.ones_like(flux, dtype=torch.bool)
    away[: radius + 1] = False  # frame 0 has no predecessor
    at = []
    for seam in seams:
        centre = int(round(seam / hop))
        if not 0 < centre < len(flux):
            continue
        away[max(0, centre - 2 * radius):centre + 2 * radius + 1] = False
        at.append(float(local_max[centre]))
    median = float(local_max[away].median()) if bool(away.any()) else float("nan")
    ratios = [value / median for value in at] if median > 0 else []
    return {"seam_flux": at, "median_flux": median, "ratios": ratios,
            "mean_ratio": sum(ratios) / len(ratios) if ratios else None,
            "max_ratio": max(ratios) if ratios else None}
