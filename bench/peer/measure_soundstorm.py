"""Measure soundstorm-pytorch 0.6.1 (PyPI) the way bench/bench_parallel.py measures our parallel generator.

Run with the interpreter of the venv made by ``bench/peer/setup_soundstorm_env.sh``:

    .venv-soundstorm/bin/python bench/peer/measure_soundstorm.py            # JSON rows on stdout
    .venv-soundstorm/bin/python bench/peer/measure_soundstorm.py --check    # import + one tiny generation

Same work as ours: 12 levels x 1024 codes at 50 Hz, conditioned on 500-id semantic tokens at 50 Hz, untrained
weights, batch 1, ``torch.set_num_threads(2)``, 16 iterations for level 1 and 1 for each other level
(``steps=16``, ``num_full_sampling_levels=1``: 27 forward passes), model dim 256, depth 4, 4 heads of 64,
feed-forward x4 (the package's Conformer blocks; its other settings at their defaults). Rows: wall seconds
(median of ``--repeats`` after a warm-up), process CPU seconds and forward passes (counted by a hook).

Import workarounds, in this process only: the package ``__init__`` (which imports its trainer, accelerate and
audiolm-pytorch) is not run; ``soundstorm_pytorch/soundstorm.py`` is loaded directly. Its module-level imports of
``spear_tts_pytorch.TextToSemantic`` and ``audiolm_pytorch.{SoundStream, HubertWithKmeans, FairseqVQWav2Vec}``
get empty stand-in classes: they are only used for optional components (text-to-semantic, codec, wav2vec), none
of which is built or run here.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import types

import torch

DIM, DEPTH, HEADS, DIM_HEAD = 256, 4, 4, 64
LEVELS, CODES, SEMANTIC_VOCAB, RATE = 12, 1024, 500, 50


def load_soundstorm():
    """The ``soundstorm_pytorch.soundstorm`` module, loaded without the package's ``__init__``."""
    for name, classes in (("spear_tts_pytorch", ("TextToSemantic",)),
                          ("audiolm_pytorch", ("SoundStream", "HubertWithKmeans", "FairseqVQWav2Vec"))):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            for cls in classes:
                setattr(stub, cls, type(cls, (), {}))
            sys.modules[name] = stub
    spec = importlib.util.find_spec("soundstorm_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("soundstorm_pytorch is not installed: run bash bench/peer/setup_soundstorm_env.sh")
    package = types.ModuleType("soundstorm_pytorch")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["soundstorm_pytorch"] = package
    from importlib.metadata import version

    module = importlib.import_module("soundstorm_pytorch.soundstorm")
    return module, version("soundstorm-pytorch")


def build(module, dim: int = DIM, depth: int = DEPTH, heads: int = HEADS, dim_head: int = DIM_HEAD,
          levels: int = LEVELS, codes: int = CODES, vocab: int = SEMANTIC_VOCAB, steps: int = 16):
    torch.manual_seed(0)
    net = module.ConformerWrapper(codebook_size=codes, num_quantizers=levels,
                                  conformer=dict(dim=dim, depth=depth, heads=heads, dim_head=dim_head, ff_mult=4))
    # semantic and acoustic tokens both at 50 Hz (hop 320 at 16 kHz): the condition is not resampled
    model = module.SoundStorm(net, steps=steps, schedule="cosine", num_semantic_token_ids=vocab,
                              wav2vec_target_sample_hz=16000, wav2vec_downsample_factor=320,
                              codec_target_sample_hz=16000, codec_downsample_factor=320)
    return model.eval()


def measure(seconds_list=(10.0, 30.0), repeats: int = 3, threads: int = 2) -> dict:
    torch.set_num_threads(threads)
    module, package_version = load_soundstorm()
    model = build(module)
    passes = {"count": 0}
    model.net.register_forward_hook(lambda *args: passes.__setitem__("count", passes["count"] + 1))
    rows: dict = {"meta": {"package": f"soundstorm-pytorch {package_version}", "threads": torch.get_num_threads(),
                           "repeats": repeats, "params": sum(p.numel() for p in model.parameters()),
                           "config": f"Conformer dim {DIM} depth {DEPTH} heads {HEADS}x{DIM_HEAD} ff x4, "
                                     f"{LEVELS} x {CODES} codes, steps 16 (level 1) + 1 per other level"}}
    for seconds in seconds_list:
        frames = int(seconds * RATE)
        semantic = torch.randint(0, SEMANTIC_VOCAB, (1, frames))

        def once():
            passes["count"] = 0
            out = model.generate(cond_semantic_token_ids=semantic, num_full_sampling_levels=1)
            assert out.shape[-1] == frames * LEVELS, out.shape
            return passes["count"]

        once()  # warm-up
        walls, cpus = [], []
        for _ in range(repeats):
            start, cpu = time.perf_counter(), time.process_time()
            count = once()
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        key = f"gen_acoustic_{int(seconds)}s_soundstorm_pytorch"
        rows[key] = {"median_s": round(statistics.median(walls), 4), "cpu_s": round(statistics.median(cpus), 4),
                     "times_s": [round(t, 4) for t in walls], "forward_passes": count,
                     "realtime_factor": round(seconds / statistics.median(walls), 2)}
        print(f"{key}: {rows[key]}", file=sys.stderr, flush=True)
    return rows


def check() -> None:
    module, package_version = load_soundstorm()
    model = build(module, dim=32, depth=1, heads=2, dim_head=16, levels=3, codes=16, vocab=10, steps=4)
    out = model.generate(cond_semantic_token_ids=torch.randint(0, 10, (1, 8)), num_full_sampling_levels=1)
    assert out.shape[-1] == 8 * 3, out.shape
    print(f"soundstorm-pytorch {package_version} OK (torch {torch.__version__})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="import and run one tiny generation")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 30.0])
    args = parser.parse_args()
    if args.check:
        check()
    else:
        print(json.dumps(measure(tuple(args.seconds), args.repeats, args.threads)))
