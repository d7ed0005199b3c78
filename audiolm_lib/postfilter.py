"""A pitch (long-term) postfilter for decoded speech: the harmonics a frame already has, made stronger.

Speech codecs have filtered their decoded speech this way for decades (the ITU-T G.729 / AMR long-term postfilter,
Opus CELT's pitch post-filter): quantisation fills the valleys between a voiced frame's harmonics with noise, and a
comb filter at the frame's pitch lag takes some of it out again. Here the codec rebuilds its phase from the
magnitude and the generator's continuations of recorded voices come out breathy (issue 20: pYIN finds a pitch in
fewer of their frames than in the codec resynthesis, and in fewer of those than in the real speech).

Per 40 ms frame (hop 20 ms) the lag ``T`` (the pitch period, ``sample_rate / fmax`` to ``sample_rate / fmin``) with
the highest normalised correlation ``r`` between the frame and the frame ``T`` samples before it is found (the
shortest lag within 0.9x of the best, so a period is preferred to its multiples). A frame with ``r`` below
``threshold`` is left as it is (noise, fricatives, silence: no pitch to enhance); a voiced frame is filtered with
the zero-phase comb ``x[n] + g/2 (x[n-T] + x[n+T])``, ``g = strength * r``, scaled back to its own energy, and the
frames are overlap-added with a Hann window. It cannot make a frame periodic that is not: with ``r`` below the
threshold it does nothing, and the comb only reinforces the period that is there.

Written here rather than taken from a package: no maintained Python package offers one (``pysptk`` and ``pyworld``
analyse and resynthesise; they do not post-filter a waveform), and this one is ~50 lines of tensor code.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

FRAME_SECONDS = 0.04
FMIN, FMAX = 60.0, 400.0  # the voicing measure's pitch range (eval/voicing.py)
PERIOD_PREFERENCE = 0.9  # the shortest lag within this fraction of the best correlation wins (no octave-down lags)
FRAMES_PER_BLOCK = 2048  # frames filtered at once (~41 s): memory stays bounded however long the audio


def check_settings(strength: float, threshold: float) -> None:
    """The postfilter's two settings in range (``AudioLMConfig`` checks its fields with this too)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"postfilter_strength must be in [0, 1], got {strength}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"postfilter_threshold must be in [0, 1), got {threshold}")


def _lag_range(sample_rate: int) -> tuple[int, int]:
    return max(1, int(sample_rate / FMAX)), int(math.ceil(sample_rate / FMIN))


def _normalised_correlation(span: torch.Tensor, here: torch.Tensor, energy: torch.Tensor, frame: int, min_lag: int,
                            max_lag: int) -> torch.Tensor:
    """``Tensor[N, K, max_lag - min_lag + 1]``: for each frame and lag ``T`` (ascending), the cosine between the frame
    and the frame ``T`` samples before it. All lags at once by FFT cross-correlation and sliding-window energies: one
    lag at a time costs a few hundred small tensor operations per call, which a stream's short windows feel."""
    past = span[..., max_lag: 2 * max_lag + frame]  # offset j holds the frame max_lag - j samples earlier
    size = 1 << (past.shape[-1] + frame - 1).bit_length()  # no circular wrap for offsets 0..max_lag
    cross = torch.fft.irfft(torch.fft.rfft(past, size) * torch.fft.rfft(here, size).conj(), size)[..., : max_lag + 1]
    power = F.pad(past.double().pow(2).cumsum(-1), (1, 0))  # float64: differences of long running sums
    past_energy = (power[..., frame: frame + max_lag + 1] - power[..., : max_lag + 1]).float().clamp_min(0)
    corr = cross / (energy.unsqueeze(-1) * past_energy).sqrt().clamp_min(1e-12)
    return corr.flip(-1)[..., min_lag:]  # offset j is lag max_lag - j: flipped, index T is lag T


def _filtered_frames(span: torch.Tensor, frame: int, min_lag: int, max_lag: int, strength: float,
                     threshold: float) -> torch.Tensor:
    """``span`` ``Tensor[N, K, 2 * max_lag + frame + max_lag]`` (each frame with the samples a lag reaches on either
    side) -> ``Tensor[N, K, frame]``: each frame through the comb at its own lag, at its own energy."""
    here = span[..., 2 * max_lag: 2 * max_lag + frame]

    def shifted(lag: torch.Tensor) -> torch.Tensor:  # each frame's samples ``lag`` earlier (negative: later)
        index = (2 * max_lag - lag).unsqueeze(-1) + torch.arange(frame, device=span.device)
        return span.gather(-1, index)

    energy = here.pow(2).sum(-1)
    corr = _normalised_correlation(span, here, energy, frame, min_lag, max_lag)  # [N, K, lags]
    best = corr.max(-1).values
    first = (corr >= PERIOD_PREFERENCE * best.unsqueeze(-1)).float().argmax(-1)  # the shortest near-best lag
    lag = first + min_lag
    r = corr.gather(-1, first.unsqueeze(-1)).squeeze(-1)
    gain = torch.where(r >= threshold, strength * r, torch.zeros_like(r))
    filtered = here + 0.5 * gain.unsqueeze(-1) * (shifted(lag) + shifted(-lag))
    scale = (energy / filtered.pow(2).sum(-1).clamp_min(1e-12)).sqrt()
    return filtered * torch.where(energy > 0, scale, torch.ones_like(scale)).unsqueeze(-1)


def pitch_postfilter(wave: torch.Tensor, sample_rate: int, strength: float = 0.5, threshold: float = 0.5) -> torch.Tensor:
    """``Tensor[..., T]`` -> ``Tensor[..., T]``: each voiced frame's pitch harmonics reinforced (module doc).

    Args:
        wave: audio at ``sample_rate``; any leading shape.
        strength: the comb's gain per unit correlation, in [0, 1] (0: the wave unchanged; G.729's is 0.5).
        threshold: frames whose best normalised correlation lies below it are left alone, in [0, 1).
    """
    check_settings(strength, threshold)
    length = wave.shape[-1]
    if strength == 0.0 or length == 0:
        return wave
    shape, dtype = wave.shape, wave.dtype
    x = wave.reshape(-1, length).float()
    frame = max(4, int(round(FRAME_SECONDS * sample_rate)) // 2 * 2)
    hop = frame // 2
    min_lag, max_lag = _lag_range(sample_rate)
    num_frames = length // hop + 2  # frame k is centred on sample (k - 1) * hop + hop: covers [-hop, length + hop)
    pad_left = hop + 2 * max_lag
    padded = F.pad(x, (pad_left, num_frames * hop + frame + 2 * max_lag - length))
    # each frame with 2 * max_lag samples before it and max_lag after: [N, K, 2 * max_lag + frame + max_lag]
    all_spans = padded.unfold(-1, frame + 3 * max_lag, hop)[:, :num_frames]  # a view: nothing copied yet
    window = torch.hann_window(frame, periodic=True, device=x.device)  # sums to 1 at half overlap
    out = x.new_zeros(x.shape[0], (num_frames - 1) * hop + frame)
    for first_frame in range(0, num_frames, FRAMES_PER_BLOCK):  # bounded memory for an hour of audio
        block = _filtered_frames(all_spans[:, first_frame:first_frame + FRAMES_PER_BLOCK], frame, min_lag, max_lag,
                                 strength, threshold) * window
        count = block.shape[1]
        out[:, first_frame * hop: first_frame * hop + (count - 1) * hop + frame] += F.fold(
            block.transpose(1, 2), output_size=(1, (count - 1) * hop + frame), kernel_size=(1, frame),
            stride=(1, hop)).reshape(x.shape[0], -1)
    # frame 0 starts at sample -hop of the wave (its first half-window is the padding's); the window sum is 1 from
    # the second half-frame on, and the wave starts there
    return out[:, hop: hop + length].reshape(shape).to(dtype)
