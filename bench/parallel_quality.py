"""Quality of acoustic generators at an equal CPU training budget, on any codec's token cache.

Each generator is trained from scratch on the cache's train split for the same process CPU time (one thread):
the parallel model (``ParallelAcousticLM``) alone, a sequential layout as coarse + fine stages with half the
budget each. Then, for every held-out item long enough, given the item's true semantic tokens for its whole
length and its first ``--prompt`` seconds of acoustic codes, the generator fills the rest; the codec decodes
prompt + continuation, and the continuation is compared with the real audio of the same span:

* ``speaker_similarity``: resemblyzer d-vector cosine (``audiolm_lib.eval.speaker``), continuation vs real;
* ``mel_distance``: mean absolute log-mel difference (``audiolm_lib.eval.codec_metrics.mel_distance``).

The real audio comes from ``--manifest`` (the dataset the cache was built from, matched by item id); without it
the codec's re-synthesis of the true codes stands in. Baselines in the same units: the codec re-synthesis of the
true codes (what a perfect generator would reach) and, for speaker similarity, the prompt audio itself.

    python bench/parallel_quality.py --cache runs/pq/speech_quick_tokens --codec checkpoints/speech/codec \\
        --manifest /work/data/speech/quick --budget 300 --out bench/results/parallel_quality_speech.json

Rerun it on another codec by building its token cache (``audiolm tokenize``) and passing ``--codec`` / ``--cache``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATORS = ("parallel", "flat", "delay", "multiscale")


def _model_shape(dim: int, depth: int, heads: int, frames: int):
    from audiolm_lib.lm.transformer import TransformerConfig

    return TransformerConfig(dim=dim, depth=depth, heads=heads, max_seq_len=max(1024, 8 * frames))


def build(name: str, cache, args):
    """``{stage: model}`` to train for generator ``name`` (``parallel`` -> one model, layouts -> coarse + fine)."""
    from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig

    rates = dict(semantic_rate=float(cache.semantic_rate), acoustic_rate=float(cache.acoustic_rate))
    levels, codes, vocab = int(cache.num_quantizers), int(cache.codebook_size), int(cache.semantic_vocab_size)
    frames = round(args.crop * cache.acoustic_rate)
    shape = _model_shape(args.dim, args.depth, args.heads, frames)
    torch.manual_seed(0)
    if name == "parallel":
        config = ParallelAcousticLMConfig(semantic_vocab_size=vocab, codebook_size=codes, num_quantizers=levels,
                                          window_seconds=args.crop, transformer=shape, **rates)
        return {"parallel": ParallelAcousticLM(config)}
    coarse_levels = min(args.coarse_levels, levels - 1)
    coarse = CoarseLM(CoarseLMConfig(semantic_vocab_size=vocab, codebook_size=codes, num_coarse_quantizers=coarse_levels,
                                     window_seconds=args.crop, layout=name, transformer=shape, **rates))
    fine = FineLM(FineLMConfig(codebook_size=codes, num_coarse_quantizers=coarse_levels,
                               num_fine_quantizers=levels - coarse_levels, acoustic_rate=rates["acoustic_rate"],
                               window_seconds=args.fine_crop, layout=name, transformer=shape))
    return {"coarse": coarse, "fine": fine}


def train(stage: str, model, cache, train_items, valid_items, cpu_seconds: float, args) -> dict:
    """Train ``model`` for ``cpu_seconds`` of process CPU time; returns steps and losses."""
    from audiolm_lib.training.data import CropSpec, StageBatches, validation_batches

    levels = int(cache.num_quantizers)
    coarse_levels = getattr(model.config, "num_coarse_quantizers", levels)
    spec = CropSpec(stage=stage, seconds=args.fine_crop if stage == "fine" else args.crop,
                    semantic_rate=float(cache.semantic_rate), acoustic_rate=float(cache.acoustic_rate),
                    num_coarse=coarse_levels, num_fine=levels - coarse_levels if stage != "coarse" else 0,
                    min_seconds=1.0)
    batches = StageBatches(cache, spec, args.batch_size, seed=0, indices=train_items)
    valid = validation_batches(cache, spec, args.batch_size, 4, valid_items) if valid_items else []
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    steps, used, losses = 0, 0.0, []
    model.train()
    from tqdm.auto import tqdm

    bar = tqdm(total=round(cpu_seconds), desc=f"train {stage}", unit="cpu-s", leave=False, disable=not args.progress)
    while used < cpu_seconds:
        start = time.process_time()
        for group in optimizer.param_groups:  # linear warm-up over the first 100 steps
            group["lr"] = args.lr * min(1.0, (steps + 1) / 100)
        loss = model(**batches.next_batch())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        steps += 1
        losses.append(loss.item())
        spent = time.process_time() - start
        used += spent
        bar.update(spent)
    bar.close()
    model.eval()
    with torch.no_grad():
        valid_loss = statistics.mean(float(model(**batch)) for batch in valid) if valid else None
    return {"steps": steps, "cpu_seconds": round(used, 1), "train_loss": round(statistics.mean(losses[-20:]), 4),
            "valid_loss": round(valid_loss, 4) if valid_loss is not None else None}


def generator_of(name: str, models: dict):
    from audiolm_lib.lm.hierarchical import HierarchicalAcoustic

    return models["parallel"] if name == "parallel" else HierarchicalAcoustic(models["coarse"], models["fine"])


def real_audio(manifest: Path | None, codec_rate: int) -> dict:
    """``{item id: Tensor[T]}`` lazily from the manifest (resampled to the codec's rate)."""
    if manifest is None:
        return {}
    from audiolm_lib.audio import load_audio

    path = manifest / "manifest.jsonl" if manifest.is_dir() else manifest
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    class Lazy(dict):
        def __missing__(self, key):
            entry = by_id[key]
            audio = Path(entry["audio"])
            audio = audio if audio.is_absolute() else path.parent / audio
            self[key] = load_audio(audio, sample_rate=codec_rate).reshape(-1)
            return self[key]

    by_id = {e["id"]: e for e in entries}
    return Lazy()


def evaluate(generators: dict, cache, items: list[int], codec, args) -> dict:
    """Speaker similarity and mel distance of each generator's continuations to the real audio."""
    from audiolm_lib.eval.codec_metrics import mel_distance
    from audiolm_lib.eval.speaker import speaker_similarity
    from audiolm_lib.pipeline import AudioLMConfig

    defaults = AudioLMConfig()
    sampling = {stage: {"temperature": getattr(defaults, stage).temperature} for stage in ("coarse", "fine", "acoustic")}
    rate, hop = int(codec.sample_rate), int(codec.hop_length)
    reals = real_audio(args.manifest, rate)
    prompt_frames = round(args.prompt * cache.acoustic_rate)
    rows: dict[str, list[dict]] = {name: [] for name in list(generators) + ["codec_resynthesis", "prompt"]}
    for index in items:
        item = cache[index]
        semantic, codes = item["semantic"].long()[None], item["acoustic"].long()[None]
        frames = min(codes.shape[-1], math.floor(semantic.shape[-1] * cache.acoustic_rate / cache.semantic_rate))
        codes = codes[..., :frames]
        semantic = semantic[:, : math.ceil(frames * cache.semantic_rate / cache.acoustic_rate)]
        with torch.inference_mode():
            resynth = codec.decode(codes)[0, 0]
        real = reals[item["id"]] if reals is not None and args.manifest is not None else resynth
        span = slice(prompt_frames * hop, min(frames * hop, real.numel()))
        reference = real[span]

        def score(name: str, wave: torch.Tensor, seconds: float | None = None) -> None:
            rows[name].append({"id": item["id"], "speaker_similarity": speaker_similarity(wave, reference, rate),
                               "mel_distance": float(mel_distance(reference, wave[: reference.numel()], rate)),
                               **({"seconds": round(seconds, 3)} if seconds is not None else {})})

        score("codec_resynthesis", resynth[span])
        rows["prompt"].append({"id": item["id"], "speaker_similarity":
                               speaker_similarity(real[: prompt_frames * hop], reference, rate)})
        for name, generator in generators.items():
            for seed in range(args.samples):
                start = time.perf_counter()
                with torch.inference_mode():
                    new = generator.generate_acoustic(semantic, codes[..., :prompt_frames], frames - prompt_frames,
                                                      sampling=sampling, generator=torch.Generator().manual_seed(seed))
                    wave = codec.decode(torch.cat([codes[:, : new.shape[1], :prompt_frames], new], dim=-1))[0, 0]
                score(name, wave[span], time.perf_counter() - start)
    summary = {}
    for name, values in rows.items():
        summary[name] = {key: round(statistics.mean(v[key] for v in values), 4)
                         for key in ("speaker_similarity", "mel_distance", "seconds") if values and key in values[0]}
        summary[name]["n"] = len(values)
    return {"summary": summary, "per_item": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="token cache (audiolm tokenize)")
    parser.add_argument("--codec", type=Path, required=True, help="the codec the cache was built with")
    parser.add_argument("--manifest", type=Path, help="dataset (folder or manifest.jsonl) the cache was built from")
    parser.add_argument("--generators", default="parallel,flat,delay", help=f"comma-separated, of {GENERATORS}")
    parser.add_argument("--budget", type=float, default=300.0, help="CPU seconds of training per generator")
    parser.add_argument("--prompt", type=float, default=3.0, help="acoustic prompt seconds")
    parser.add_argument("--min-continuation", type=float, default=1.0, help="skip held-out items shorter than prompt + this")
    parser.add_argument("--max-items", type=int, default=12)
    parser.add_argument("--samples", type=int, default=2, help="continuations per item (seeds 0..)")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--crop", type=float, default=6.0, help="crop / window of the parallel and coarse models")
    parser.add_argument("--fine-crop", type=float, default=3.0)
    parser.add_argument("--coarse-levels", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--save", type=Path, help="save the trained models here (one folder each)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.token_cache import TokenCache
    from audiolm_lib.datasets.splits import split_indices

    torch.set_num_threads(1)
    cache = TokenCache(args.cache)
    codec = load_pretrained(args.codec).eval()
    train_items, held_out = split_indices(cache)
    lengths = cache.lengths()
    needed = (args.prompt + args.min_continuation) * cache.acoustic_rate
    eval_items = [i for i in held_out if lengths[i] >= needed][: args.max_items]
    if not eval_items:
        raise SystemExit(f"no held-out item of {args.cache} is at least {needed / cache.acoustic_rate:.1f} s long")
    result: dict = {"meta": {"cache": str(args.cache), "codec": str(args.codec), "budget_cpu_s": args.budget,
                             "model": f"dim {args.dim} depth {args.depth} heads {args.heads}", "crop_s": args.crop,
                             "fine_crop_s": args.fine_crop, "prompt_s": args.prompt, "eval_items": len(eval_items),
                             "samples_per_item": args.samples, "load_before": round(os.getloadavg()[0], 2),
                             "levels": int(cache.num_quantizers), "codebook_size": int(cache.codebook_size)},
                    "training": {}}
    generators = {}
    for name in [g for g in args.generators.split(",") if g]:
        if name not in GENERATORS:
            raise SystemExit(f"unknown generator {name!r}; choose from {GENERATORS}")
        models = build(name, cache, args)
        share = args.budget / len(models)
        result["training"][name] = {stage: train(stage, model, cache, train_items, held_out, share, args)
                                    for stage, model in models.items()}
        print(f"{name}: {result['training'][name]}", file=sys.stderr, flush=True)
        if args.save:
            for stage, model in models.items():
                model.save_pretrained(args.save / f"{name}_{stage}")
        generators[name] = generator_of(name, models)
    result.update(evaluate(generators, cache, eval_items, codec, args))
    sequential = {k: v for k, v in result["summary"].items() if k in GENERATORS and k != "parallel"}
    if "parallel" in result["summary"] and sequential:
        best = max(sequential, key=lambda k: sequential[k]["speaker_similarity"])
        gap = result["summary"][best]["speaker_similarity"] - result["summary"]["parallel"]["speaker_similarity"]
        result["best_sequential"] = best
        result["speaker_similarity_gap_to_best_sequential"] = round(gap, 4)
        result["target_met"] = gap <= 0.02
    result["meta"]["load_after"] = round(os.getloadavg()[0], 2)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_item"}))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
