"""The demo job behind ``audiolm demo``: get a model, make an unseen prompt, continue it, write the result.

Model: the shipped checkpoint ``checkpoints/<kind>`` (``AudioLM.from_pretrained``), or a fresh run of the
small recipe (:mod:`audiolm_lib.recipes`) when asked to retrain or when no checkpoint is there.
Prompt: rendered on the spot with the data builders, from material the checkpoints never trained on (a
validation piece of the music21 corpus; a sentence far beyond the training sentences, read by a TTS voice),
or a file of your own.

Output folder: ``prompt.wav``, ``continuation.wav`` (the generated audio only), ``prompt_and_continuation.wav``
and ``demo.png`` (mel spectrogram of prompt | continuation, and the semantic and coarse token streams).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from audiolm_lib.atomic import atomic_write, atomic_write_text
from audiolm_lib.audio import AudioError

if TYPE_CHECKING:  # pragma: no cover
    from audiolm_lib.pipeline import AudioLM

KINDS = ("piano", "speech")
INT8_CHOICES = ("auto", "on", "off")
PROMPT_SENTENCE_OFFSET = 1_000_000  # sentence numbers far beyond any training set built with the same seed


@dataclass
class DemoResult:
    """Where the demo wrote its files, and what it did."""

    out_dir: Path
    prompt: Path
    continuation: Path
    combined: Path
    plot: Path
    model_dir: Path | None
    prompt_source: str
    seconds_taken: float


def default_checkpoint(kind: str) -> Path:
    """``checkpoints/<kind>`` of the source tree this package is installed from (editable install), else of
    the current directory (a clone with a regular install)."""
    in_tree = Path(__file__).resolve().parent.parent / "checkpoints" / kind
    in_cwd = Path.cwd() / "checkpoints" / kind
    return in_tree if has_checkpoint(in_tree) or not has_checkpoint(in_cwd) else in_cwd


def has_checkpoint(directory: str | os.PathLike) -> bool:
    return (Path(directory) / "config.json").exists()


def tiny_random_audiolm(levels: int = 4) -> "AudioLM":
    """The shipped architecture at a toy size with random weights (seeded), for examples that must run in seconds:
    an MFCC k-means tokenizer of 16 ids, a ``levels`` x 32-code SpectralCodec, dim-32 depth-1 semantic stage and
    parallel acoustic generator."""
    from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
    from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
    from audiolm_lib.lm.stages import SemanticLM, SemanticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig
    from audiolm_lib.pipeline import AudioLM
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    torch.manual_seed(0)
    shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
    codec = SpectralCodec(SpectralCodecConfig(dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=16,
                                              upsampler_depth=1, latent_dim=8, num_quantizers=levels,
                                              codebook_size=32, phase_iterations=1))
    acoustic = ParallelAcousticLM(ParallelAcousticLMConfig(semantic_vocab_size=16, codebook_size=32,
                                                           num_quantizers=levels, window_seconds=1.0,
                                                           steps_per_level=(4, 1), transformer=shape))
    return AudioLM(SemanticTokenizer.mfcc(torch.randn(16, 39)), codec,
                   SemanticLM(SemanticLMConfig(vocab_size=16, window_seconds=2.0, transformer=shape)),
                   acoustic=acoustic).eval()


# ------------------------------------------------------------------------------------------------ prompts
def piano_prompt(seconds: float, seed: int = 0, sample_rate: int = 16000) -> tuple[torch.Tensor, str]:
    """The opening ``seconds`` of the first held-out piece of the music21 corpus (split "test" of
    :mod:`audiolm_lib.datasets.splits`: never in any training set): ``(Tensor[1, T], name)``."""
    from audiolm_lib.datasets.piano import list_pieces, render_notes, score_notes
    from audiolm_lib.datasets.splits import piece_split

    for name, path in list_pieces(seed, max_score_mb=0.2):
        if piece_split(name) != "test":
            continue
        try:
            notes = score_notes(path, max_seconds=seconds + 0.5, seed=seed)
        except Exception:  # noqa: BLE001 - an unparsable score: take the next one
            continue
        if not notes:
            continue
        wave = torch.from_numpy(render_notes(notes, sample_rate))
        if wave.numel() >= seconds * sample_rate:
            return wave[None, : int(seconds * sample_rate)], f"piano piece '{name}' (held out from training)"
    raise AudioError("no held-out piano piece could be rendered from the music21 corpus")


def speech_prompt(seconds: float, seed: int = 0, voice: str | None = None) -> tuple[torch.Tensor, str]:
    """``seconds`` of unseen sentences read by ``voice`` (default: the first held-out speaker, a voice no training
    set contains): ``(Tensor[1, T], text)``."""
    from audiolm_lib.datasets.sentences import sentence_at
    from audiolm_lib.datasets.speech import SAMPLE_RATE, resolve_voices, synthesize

    if voice:
        chosen = resolve_voices([voice])[0]
    else:
        from audiolm_lib.datasets.heldout import heldout_voices

        voices = heldout_voices()
        chosen = voices[0] if voices else resolve_voices(1)[0]
    pieces, texts, total, index = [], [], 0, PROMPT_SENTENCE_OFFSET
    while total < seconds * SAMPLE_RATE:
        text = sentence_at(index, seed)
        wave = torch.from_numpy(synthesize(chosen, text))
        pieces.append(wave)
        texts.append(text)
        total += wave.numel()
        index += 1
    wave = torch.cat(pieces)[: int(seconds * SAMPLE_RATE)]
    return wave[None], f"voice {chosen.name} (held-out speaker) reading unseen text: {' '.join(texts)!r}"


# ------------------------------------------------------------------------------------------------ plot
def plot_continuation(prompt: torch.Tensor, continuation: torch.Tensor, sample_rate: int, tokens: dict,
                      path: str | os.PathLike, title: str = "") -> Path:
    """Write a PNG: log-mel spectrogram of ``prompt | continuation`` over the semantic and level-1 token streams.

    ``prompt``: ``Tensor[T0]``; ``continuation``: ``Tensor[T1]``; ``tokens``: ``{"semantic": [1, S],
    "codes": [1, Q, F], "prompt_frames": F0}`` as returned by ``AudioLM.continue_audio(return_tokens=True)``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from audiolm_lib.measures import mel_spectrogram

    wave = torch.cat([prompt.reshape(-1), continuation.reshape(-1)]).float()
    mel = mel_spectrogram(wave, sample_rate, n_fft=1024, hop_length=160, n_mels=80)
    log_mel = torch.log10(mel.clamp_min(1e-6)).numpy()
    prompt_seconds = prompt.numel() / sample_rate
    total_seconds = wave.numel() / sample_rate
    semantic = tokens["semantic"][0].cpu().numpy()
    codes = tokens["codes"][0].cpu().numpy()  # [Q, F]
    semantic_t = (0.5 + torch.arange(len(semantic)).numpy()) * total_seconds / max(1, len(semantic))
    frame_t = (0.5 + torch.arange(codes.shape[1]).numpy()) * total_seconds / max(1, codes.shape[1])

    fig, axes = plt.subplots(3, 1, figsize=(11, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1.2, 1.2]})
    axes[0].imshow(log_mel, origin="lower", aspect="auto", extent=(0, total_seconds, 0, log_mel.shape[0]),
                   cmap="magma")
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(title or "prompt | continuation")
    axes[1].scatter(semantic_t, semantic, s=3, c="tab:blue")
    axes[1].set_ylabel("semantic id")
    axes[2].scatter(frame_t, codes[0], s=3, c="tab:green")
    axes[2].set_ylabel("RVQ level 1")
    axes[2].set_xlabel("seconds")
    for ax in axes:
        ax.axvline(prompt_seconds, color="white" if ax is axes[0] else "red", linestyle="--", linewidth=1.2)
    axes[0].text(prompt_seconds / 2, log_mel.shape[0] * 0.92, "prompt", color="white", ha="center")
    axes[0].text((prompt_seconds + total_seconds) / 2, log_mel.shape[0] * 0.92, "continuation", color="white",
                 ha="center")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------------ demo
def load_or_train(kind: str, checkpoint: str | os.PathLike | None, retrain: bool, work_dir: Path,
                  budget_minutes: float, tiny: bool, log=print):
    """``(AudioLM, directory)``: the checkpoint, or a recipe run in ``work_dir`` (retrain / no checkpoint)."""
    from audiolm_lib.pipeline import AudioLM

    directory = Path(checkpoint) if checkpoint is not None else default_checkpoint(kind)
    if not retrain:
        if has_checkpoint(directory):
            return AudioLM.from_pretrained(directory), directory
        if checkpoint is not None:
            raise FileNotFoundError(f"no AudioLM checkpoint (config.json) in {directory}")
        log(f"no shipped checkpoint in {directory}: training the small {kind} recipe ({budget_minutes:g} min)")
    from audiolm_lib.recipes import RecipeConfig, run_recipe

    config = RecipeConfig.tiny(kind) if tiny else RecipeConfig.small(kind, budget_minutes)
    model_dir = work_dir / "model"
    return run_recipe(config, work_dir, model_dir), model_dir


def run_demo(
    out_dir: str | os.PathLike,
    kind: str = "piano",
    *,
    checkpoint: str | os.PathLike | None = None,
    prompt_path: str | os.PathLike | None = None,
    prompt_seconds: float = 3.0,
    seconds: float = 7.0,
    retrain: bool = False,
    budget_minutes: float = 30.0,
    tiny: bool = False,
    seed: int = 0,
    temperature: float | None = None,
    int8: str = "auto",
    log=print,
) -> DemoResult:
    """Continue an unseen prompt with a small AudioLM and write the audio and a plot to ``out_dir``.

    Args:
        kind: "piano" or "speech" (chooses the checkpoint and the kind of prompt).
        checkpoint: an AudioLM directory (default ``checkpoints/<kind>``).
        prompt_path: your own prompt audio instead of a rendered one (its first ``prompt_seconds``).
        retrain: run the small recipe (``budget_minutes`` of training; ``tiny``: a seconds-scale run).
        seed: seeds the sampling (the same seed gives the same continuation).
        int8: int8 Linear layers on CPU (``AudioLM.quantize_int8``): ``"auto"`` for the components where it is
            faster (a parallel acoustic model: ~1.5x), ``"on"`` for all language models, ``"off"``; validation
            losses move by at most 0.03 nats (BENCHMARKS.md, "Acoustic generators").
    """
    from audiolm_lib.audio import audio_info, load_audio, save_audio

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not (math.isfinite(prompt_seconds) and math.isfinite(seconds) and prompt_seconds > 0 and seconds > 0):
        raise ValueError(f"prompt_seconds and seconds must be positive and finite, got {prompt_seconds} and {seconds}")
    started = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, model_dir = load_or_train(kind, checkpoint, retrain, out_dir / "run", budget_minutes, tiny, log)
    if int8 not in INT8_CHOICES:
        raise ValueError(f"int8 must be one of {INT8_CHOICES}, got {int8!r}")
    if int8 != "off" and next(model.semantic_lm.parameters()).device.type == "cpu":
        model = model.quantize_int8("all" if int8 == "on" else "preferred")
    rate = model.sample_rate
    if prompt_path is not None:
        frames, file_rate = audio_info(prompt_path)  # read only the opening prompt_seconds of the file
        stop = min(frames, math.ceil(prompt_seconds * file_rate))
        prompt = load_audio(prompt_path, sample_rate=rate, stop=stop)[:, : int(prompt_seconds * rate)]
        source = f"file {prompt_path}"
    elif kind == "piano":
        prompt, source = piano_prompt(prompt_seconds, seed, rate)
    else:
        prompt, source = speech_prompt(prompt_seconds, seed)
    log(f"prompt: {prompt.shape[-1] / rate:.1f} s of {source}")
    generator = torch.Generator().manual_seed(seed)
    continuation, tokens = model.continue_audio(prompt, seconds, sample_rate=rate, generator=generator,
                                                temperature=temperature, return_tokens=True, progress=True)
    continuation = continuation[0]  # [1, T]
    paths = {
        "prompt": save_audio(out_dir / "prompt.wav", prompt, rate),
        "continuation": save_audio(out_dir / "continuation.wav", continuation, rate),
        "combined": save_audio(out_dir / "prompt_and_continuation.wav", torch.cat([prompt, continuation], -1), rate),
    }
    plot = plot_continuation(prompt[0], continuation[0], rate, tokens, out_dir / "demo.png",
                             title=f"{kind}: {prompt.shape[-1] / rate:.1f} s prompt | {seconds:g} s continuation")
    result = DemoResult(out_dir=out_dir, plot=plot, model_dir=model_dir, prompt_source=source,
                        seconds_taken=round(time.monotonic() - started, 1), **paths)
    info = {k: str(v) if isinstance(v, Path) else v for k, v in result.__dict__.items()}
    atomic_write_text(out_dir / "demo.json", json.dumps(info, indent=2) + "\n")
    return result
