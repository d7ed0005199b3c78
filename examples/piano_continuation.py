"""Continue a piano prompt with the shipped small AudioLM (``checkpoints/piano``).

    python examples/piano_continuation.py                      # a validation piece of the music21 corpus
    python examples/piano_continuation.py --prompt my.wav --seconds 8 --out piano_out

Writes ``prompt.wav``, ``continuation.wav`` and ``piano_continuation.png`` to ``--out`` and prints how well the
codec reproduces the prompt (SI-SDR, mel distance) and how the sampling temperature changes the continuation.

``AUDIOLM_EXAMPLE_TINY=1`` runs the same steps headless in seconds with a tiny random model and a
rendered arpeggio (CI); the audio is then noise, the point is that every step runs.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from audiolm_lib import AudioLM, load_audio, save_audio

TINY = os.environ.get("AUDIOLM_EXAMPLE_TINY", "") not in ("", "0")
REPO = Path(__file__).resolve().parent.parent


def tiny_model() -> AudioLM:
    """A random AudioLM with the shipped component classes at toy size."""
    from audiolm_lib.demo import tiny_random_audiolm

    return tiny_random_audiolm()


def arpeggio(seconds: float, rate: int) -> torch.Tensor:
    """A C major arpeggio rendered with the piano set's soundfont renderer: ``Tensor[1, T]``."""
    from audiolm_lib.datasets.piano import NoteEvent, render_notes

    keys = [60, 64, 67, 72, 67, 64] * 8
    step = 0.25
    notes = [NoteEvent(i * step, i * step + 0.4, key, 90) for i, key in enumerate(keys) if i * step < seconds]
    wave = torch.from_numpy(render_notes(notes, rate))
    return wave[None, : int(seconds * rate)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Continue a piano prompt with a small AudioLM.")
    parser.add_argument("--model", type=Path, default=REPO / "checkpoints" / "piano")
    parser.add_argument("--prompt", type=Path, default=None, help="your own prompt audio (default: rendered)")
    parser.add_argument("--prompt-seconds", type=float, default=1.0 if TINY else 4.0)
    parser.add_argument("--seconds", type=float, default=0.6 if TINY else 6.0)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("AUDIOLM_EXAMPLE_OUT", "piano_example_out")))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))

    # 1. the model: semantic tokenizer + semantic stage + parallel acoustic generator + codec, one folder each
    model = tiny_model() if TINY else AudioLM.from_pretrained(args.model)
    rate = model.sample_rate

    # 2. a prompt the model never trained on
    if args.prompt is not None:
        prompt = load_audio(args.prompt, sample_rate=rate)[:, : int(args.prompt_seconds * rate)]
    elif TINY:
        prompt = arpeggio(args.prompt_seconds, rate)
    else:
        from audiolm_lib.demo import piano_prompt

        prompt, source = piano_prompt(args.prompt_seconds, args.seed, rate)
        print("prompt:", source)

    # 3. the prompt as tokens: semantic ids [1, S] and RVQ codes [1, Q, F]
    semantic, codes = model.tokenize(prompt, rate)
    print(f"prompt tokens: semantic {tuple(semantic.shape)}, acoustic {tuple(codes.shape)}")

    # 4. how faithfully the codec alone re-synthesises the prompt (the ceiling for any continuation)
    from audiolm_lib.eval import mel_distance, si_sdr

    resynthesis = model.decode(codes)[0, :, : prompt.shape[-1]]
    length = resynthesis.shape[-1]
    print(f"codec round trip: SI-SDR {si_sdr(prompt[:, :length], resynthesis).item():.2f} dB, "
          f"mel distance {mel_distance(prompt[:, :length], resynthesis, rate).item():.3f}")

    # 5. continue it, at two temperatures (lower: safer and more repetitive)
    args.out.mkdir(parents=True, exist_ok=True)
    save_audio(args.out / "prompt.wav", prompt, rate)
    for temperature in (0.8, 1.0):
        generator = torch.Generator().manual_seed(args.seed)
        wave, tokens = model.continue_audio(prompt, args.seconds, sample_rate=rate, generator=generator,
                                            temperature=temperature, return_tokens=True)
        new_semantic = tokens["semantic"][0, semantic.shape[1]:]
        distinct = len(set(new_semantic.tolist())) / max(1, new_semantic.numel())
        path = save_audio(args.out / f"continuation_t{temperature:g}.wav", wave[0], rate)
        print(f"temperature {temperature:g}: {wave.shape[-1] / rate:.2f} s -> {path} "
              f"(distinct semantic tokens: {distinct:.0%})")

    # 6. a picture: spectrogram of prompt | continuation and the token streams
    from audiolm_lib.demo import plot_continuation

    plot = plot_continuation(prompt[0], wave[0, 0], rate, tokens, args.out / "piano_continuation.png",
                             title="piano continuation")
    save_audio(args.out / "continuation.wav", wave[0], rate)
    print("plot:", plot)


if __name__ == "__main__":
    main()
