"""Envelope matching: each frame of the decoded continuation given the spectral envelope of its nearest prompt frames.

kNN-VC (Baas et al. 2023) keeps a voice by replacing each frame with its nearest frames of the target speaker and
re-synthesising them. On the codec's latents (:mod:`audiolm_lib.voice_match`) that moved the voice but cost sound
quality on held-out recordings: the moved latents are quantised and decoded again (issue 20, eleventh, twelfth and
fourteenth passes). Here nothing is decoded again. On the decoded audio, per 10 ms frame, the frame's mel envelope
(40 bands) is compared with the prompt's active frames (cosine of the mean-removed log-mel), and the frame is given
the *shape* of the mean envelope of its ``neighbours`` nearest: a gain per band (the gains' mean over the bands is
0 dB, so the frame's mean log level stays; its energy moves where it sits in bands that are lowered or raised),
averaged over ``smoothing`` neighbouring frames, clipped to ``max_gain_db``, scaled by ``strength``, spread back over
the STFT bins and applied to the frame's spectrum. The frame keeps its own harmonics and phase; only the timbre that
the envelope carries moves toward the prompt's.

Local: a frame's gain depends on the frames within ``smoothing // 2`` of it and on the prompt (frames count as
active by the prompt's loudest frame, not the wave's), so a stream's windows (``ChunkedDecoder(postprocess=...)``)
come out as the whole wave does away from their edges.

Written here rather than taken from a package: kNN-VC's code matches WavLM features and needs its HiFi-GAN; no
package applies a frame-wise envelope transfer to a waveform. The parts are ``torch.stft`` / ``istft`` and mel filters
equal to librosa's.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

FRAME_SECONDS, HOP_SECONDS = 0.032, 0.01
BANDS = 40  # mel bands of the envelope (as the speaker encoders' front ends: resemblyzer's 40)
FMIN = 50.0
ACTIVE_DB = 40.0  # frames within this many dB of the prompt's loudest count as speech (matched, and matched to)
FRAMES_PER_BLOCK = 4096  # frames compared with the prompt at once: memory bounded however long the audio


def check_settings(strength: float, neighbours: int, smoothing: int, max_gain_db: float) -> None:
    """The matcher's settings in range (``AudioLMConfig`` checks its fields with this too)."""
    if not (math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise ValueError(f"envelope_match_strength must be in [0, 1], got {strength}")
    if int(neighbours) != neighbours or neighbours < 1:
        raise ValueError(f"envelope_match_neighbours must be an integer >= 1, got {neighbours}")
    if int(smoothing) != smoothing or smoothing < 1:
        raise ValueError(f"envelope_match_smoothing must be an integer >= 1 (frames of 10 ms), got {smoothing}")
    if not (math.isfinite(max_gain_db) and max_gain_db > 0):
        raise ValueError(f"envelope_match_max_db must be a positive number of dB, got {max_gain_db}")


def _frame_sizes(sample_rate: int) -> tuple[int, int]:
    """``(n_fft, hop)``: a power of two near 32 ms, 10 ms."""
    return 1 << max(4, round(math.log2(FRAME_SECONDS * sample_rate))), max(1, round(HOP_SECONDS * sample_rate))


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    step, log_step = 200.0 / 3, math.log(6.4) / 27
    return torch.where(hz < 1000, hz / step, 1000 / step + torch.log(hz.clamp_min(1e-3) / 1000) / log_step)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    step, log_step = 200.0 / 3, math.log(6.4) / 27
    return torch.where(mel < 1000 / step, mel * step, 1000 * torch.exp(log_step * (mel - 1000 / step)))


def _mel_filters(sample_rate: int, n_fft: int) -> torch.Tensor:
    """``[BANDS, n_fft // 2 + 1]`` triangular mel filters, unnormalised: ``librosa.filters.mel(norm=None)``'s
    (tested equal). Written out because librosa's first call imports scipy.signal, 0.9 s that a stream's first chunk
    would wait for."""
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = _mel_to_hz(torch.linspace(float(_hz_to_mel(torch.tensor(FMIN, dtype=torch.float64))),
                                      float(_hz_to_mel(torch.tensor(sample_rate / 2, dtype=torch.float64))),
                                      BANDS + 2, dtype=torch.float64))
    widths = edges.diff()
    rising = (bins[None] - edges[:-2, None]) / widths[:-1, None]
    falling = (edges[2:, None] - bins[None]) / widths[1:, None]
    return torch.minimum(rising, falling).clamp_min(0).float()


def _unit(log_mel: torch.Tensor) -> torch.Tensor:
    """``[M, T]`` log-mel -> each frame's mean-removed, unit-length envelope (what the frames are compared by)."""
    return F.normalize(log_mel - log_mel.mean(0, keepdim=True), dim=0)


class PromptEnvelopeMatcher:
    """``Tensor[B, 1, T]`` decoded audio -> the same with each frame's envelope moved toward the prompt's.

    Args:
        prompt: ``Tensor[B, 1, P]`` / ``Tensor[B, P]`` the prompt's audio at ``sample_rate`` (what the continuation
            continues; one per batch item).
        sample_rate: of the prompt and of the audio matched.
        strength: share of each band's gain applied (0: nothing changes).
        neighbours: prompt frames averaged per frame (kNN-VC's k).
        smoothing: frames (10 ms) each gain is averaged over.
        max_gain_db: no band is raised or lowered by more.

    A prompt with no active frame (silence, or shorter than one frame) leaves its item as it is.
    """

    def __init__(self, prompt: torch.Tensor, sample_rate: int, strength: float = 1.0, neighbours: int = 4,
                 smoothing: int = 9, max_gain_db: float = 9.0):
        check_settings(strength, neighbours, smoothing, max_gain_db)
        prompt = prompt.reshape(prompt.shape[0], -1).float() if prompt.dim() > 1 else prompt.float()[None]
        self.sample_rate, self.strength, self.neighbours = int(sample_rate), float(strength), int(neighbours)
        self.smoothing, self.max_gain_db = int(smoothing), float(max_gain_db)
        self.n_fft, self.hop = _frame_sizes(self.sample_rate)
        self.window = torch.hann_window(self.n_fft)
        self.mel = _mel_filters(self.sample_rate, self.n_fft)
        self.spread = (self.mel / self.mel.sum(0, keepdim=True).clamp_min(1e-8)).T  # [F, M]: bins from bands
        self.references: list[tuple[torch.Tensor, torch.Tensor] | None] = []  # per item: (unit [M, R], mel power)
        self.floors: list[float] = []  # per item: log energy below which a frame is not speech
        for item in prompt:
            if item.shape[-1] < self.n_fft or not item.abs().max() > 0:
                self.references.append(None)
                self.floors.append(math.inf)
                continue
            power = self._power(item)
            energy = power.sum(0).clamp_min(1e-12).log()
            floor = float(energy.max()) - ACTIVE_DB * math.log(10) / 10
            mel_power = (self.mel @ power)[:, energy > floor] + 1e-9  # [M, R] active frames
            self.references.append((_unit(mel_power.log()), mel_power))
            self.floors.append(floor)

    def _spectrum(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.stft(wave, self.n_fft, self.hop, window=self.window.to(wave.device), return_complex=True)

    def _power(self, wave: torch.Tensor) -> torch.Tensor:
        return self._spectrum(wave).abs().pow(2).cpu()

    def band_gains(self, power: torch.Tensor, item: int) -> torch.Tensor:
        """``[F, T]`` power spectrogram of item ``item`` -> ``[M, T]`` gains in dB (0 where nothing moves)."""
        reference = self.references[item]
        frames = power.shape[-1]
        if reference is None or frames == 0:
            return torch.zeros(BANDS, frames)
        unit_reference, reference_power = reference
        own = (self.mel @ power + 1e-9).log()  # [M, T]
        target = torch.empty_like(own)
        k = min(self.neighbours, unit_reference.shape[-1])
        for start in range(0, frames, FRAMES_PER_BLOCK):  # [T, R] similarities a block of frames at a time
            block = own[:, start:start + FRAMES_PER_BLOCK]
            nearest = (_unit(block).T @ unit_reference).topk(k, dim=-1).indices  # [t, k]
            target[:, start:start + FRAMES_PER_BLOCK] = reference_power[:, nearest].mean(-1).log()
        gain = target - own
        gain = gain - gain.mean(0, keepdim=True)  # the envelope's shape moves, the frame's level stays
        gain = gain * (power.sum(0).clamp_min(1e-12).log() > self.floors[item]).float()  # silence untouched
        if self.smoothing > 1:
            gain = F.avg_pool1d(gain[None], self.smoothing, 1, self.smoothing // 2, count_include_pad=False)[0]
            gain = gain[:, :frames]  # an even smoothing pads one frame more
        return (self.strength * gain * (10 / math.log(10))).clamp(-self.max_gain_db, self.max_gain_db)

    @torch.inference_mode()
    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` (or ``[B, T]``) at ``sample_rate``, B the prompt's batch (or 1) -> the same shape."""
        if self.strength == 0 or wave.shape[-1] < self.n_fft:
            return wave
        flat = wave.reshape(-1, wave.shape[-1])
        if flat.shape[0] != len(self.references) and len(self.references) != 1:
            raise ValueError(f"envelope matching: {flat.shape[0]} waves for {len(self.references)} prompts")
        out = []
        for index, item in enumerate(flat.float()):
            spectrum = self._spectrum(item)
            gains = self.band_gains(spectrum.abs().pow(2).cpu(), index if len(self.references) > 1 else 0)
            bin_gains = 10 ** ((self.spread @ gains) / 20)  # [F, T]
            out.append(torch.istft(spectrum * bin_gains.to(spectrum.device), self.n_fft, self.hop,
                                   window=self.window.to(item.device), length=item.shape[-1]))
        return torch.stack(out).reshape(wave.shape).to(wave.dtype)
