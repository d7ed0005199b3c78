"""Speed of the codecs: encode / decode 10 s of 16 kHz audio on 2 CPU threads.

    python bench/bench_codec.py                    # the shipped codec (checkpoints/piano/codec) + both families
    python bench/bench_codec.py --codec DIR        # a codec folder (or an AudioLM folder holding codec/)
    python bench/run.py --only codec --codec DIR   # the same through the aggregator (and --peer)

Rows (median seconds of 5 runs after a warm-up; input 0.1 * white noise, as the peer's measurement):

- ``codec_encode_10s`` / ``codec_decode_10s``: the codec users get: ``checkpoints/piano/codec``, or ``--codec DIR``
  (``AUDIOLM_BENCH_CODEC`` in the environment, which bench/run.py sets).
- ``codec_spectral_{encode,decode}_10s``: :class:`SpectralCodec` at its default config, and
  ``codec_soundstream_{encode,decode}_10s``: :class:`SoundStream` at its default config (the paper baseline). Both
  untrained, their codebooks k-means initialised on the input as after training (so encoding does a real
  nearest-code search); speed does not depend on the weights.

Prints one JSON object; per-row process CPU seconds under ``codec_cpu_s``. ``spectral_decode_flush_denormal_s``
repeats the spectral decode with ``torch.set_flush_denormal(True)`` (denormal floats can slow CPU kernels many
times; the ratio shows whether they matter here).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from _timing import median_seconds, process_peak_rss_mb

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CODEC = REPO_ROOT / "checkpoints" / "piano" / "codec"
CODEC_ENV = "AUDIOLM_BENCH_CODEC"
SECONDS = 10.0


def codec_folder(path: str | os.PathLike | None = None) -> Path:
    """``path`` (or ``$AUDIOLM_BENCH_CODEC``, else the shipped piano codec); an AudioLM folder means its codec/."""
    folder = Path(path or os.environ.get(CODEC_ENV) or SHIPPED_CODEC)
    if (folder / "codec" / "config.json").exists():
        folder = folder / "codec"
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"no codec at {folder} (expected config.json + model.safetensors)")
    return folder


def _untrained(family: str, wave: torch.Tensor):
    """A default-config codec of ``family`` with its codebooks k-means initialised on ``wave``."""
    if family == "spectral":
        from audiolm_lib.codecs.spectral import SpectralCodec as Codec
    else:
        from audiolm_lib.codecs.soundstream import SoundStream as Codec
    torch.manual_seed(0)
    model = Codec().to(wave.device)
    with torch.no_grad():
        model.train()
        model(wave[..., : model.sample_rate], num_levels=model.num_quantizers)
    return model.eval()


def measure(model, wave: torch.Tensor, prefix: str, out: dict, cpu: dict, repeats: int, sync) -> torch.Tensor:
    """``<prefix>_encode_10s`` / ``<prefix>_decode_10s`` rows of ``model`` into ``out``; returns the codes."""
    codes = model.encode(wave)
    for kind, fn in (("encode", lambda: (model.encode(wave), sync())), ("decode", lambda: (model.decode(codes), sync()))):
        name = f"{prefix}_{kind}_10s"
        seconds = median_seconds(fn, repeats, cpu_seconds=cpu, name=name)
        out[name] = {"median_s": round(seconds, 4), "realtime_factor": round(SECONDS / seconds, 2),
                     "codec": type(model).__name__, "params": sum(p.numel() for p in model.parameters()),
                     "frames": int(codes.shape[-1]), "levels": int(codes.shape[1])}
    return codes


def run(device: str = "cpu", codec: str | None = None, quick: bool = False) -> dict:
    from audiolm_lib.serialization import load_pretrained

    torch.set_num_threads(2)
    repeats = 1 if quick else 5
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    torch.manual_seed(0)
    wave = (0.1 * torch.randn(1, 1, int(SECONDS * 16000))).to(device)
    out: dict = {}
    cpu: dict = {}
    folder = codec_folder(codec)
    shipped = load_pretrained(folder).to(device).eval()
    if int(shipped.sample_rate) != 16000:
        raise ValueError(f"{folder}: the codec rows are measured at 16 kHz, this codec runs at {shipped.sample_rate} Hz")
    measure(shipped, wave, "codec", out, cpu, repeats, sync)
    for family in ("spectral", "soundstream"):
        model = _untrained(family, wave)
        codes = measure(model, wave, f"codec_{family}", out, cpu, repeats, sync)
        if family == "spectral" and device == "cpu":
            torch.set_flush_denormal(True)
            try:
                flushed = median_seconds(lambda: model.decode(codes), repeats)
            finally:
                torch.set_flush_denormal(False)
            out["spectral_decode_flush_denormal_s"] = round(flushed, 4)
        del model
    out.update({
        "codec_cpu_s": {name: round(seconds, 4) for name, seconds in cpu.items()},
        "codec_folder": str(folder.resolve().relative_to(REPO_ROOT) if folder.resolve().is_relative_to(REPO_ROOT) else folder),
        "codec_class": type(shipped).__name__,
        "codec_peak_rss_mb": round(process_peak_rss_mb(), 1),
        "device": device,
        "threads": torch.get_num_threads(),
        "repeats": repeats,
    })
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codec", default=None, help=f"codec folder (default: ${CODEC_ENV} or {SHIPPED_CODEC})")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="one timed run per row")
    args = parser.parse_args()
    print(json.dumps(run(args.device, args.codec, args.quick)))
