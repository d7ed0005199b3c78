"""Token layouts compared (untrained weights): flat (paper), multiscale (global/local), delay pattern.

Same global model for every layout: dim 256, depth 4, heads 4; 500 semantic ids, 1024 codes, 4 coarse +
8 fine levels, 50 Hz. The multiscale local model is the default (one block, dim 128, 2 heads) and, as an
extra column, one block of dim 256 (``multiscale256``).

Rows per layout ``L``:

* ``gen_fine_s_per_audio_s_L``: seconds to generate the fine levels of one 3 s window (the fine
  stage's whole window, 150 frames, batch 1), divided by 3;
* ``gen_coarse_s_per_audio_s_L``: seconds to generate 2 s (100 frames) of coarse levels from semantic
  tokens (10 s window, batch 1), divided by 2;
* ``train_step_fine_L`` / ``train_step_coarse_L``: one AdamW step on batch 2 x 3 s / 2 x 2 s crops;
* ``params_L`` (fine stage), ``kv_cache_mb_fine_L`` (KV caches of one fine window, both models),
  ``train_activation_mb_fine_L`` (tensors saved for backward by the fine training step);
* ``fine_speedup_L`` / ``coarse_speedup_L``: flat time / layout time;
* every timed row again as process CPU time, prefixed ``cpu_`` (generation decodes on one thread).

Layouts are timed round-robin (each repeat runs every layout once), so load drift on a shared machine
hits all of them alike. Median of 5 after a warm-up; ``torch.set_num_threads(2)``; fixed seeds.

``python bench/bench_layouts.py --quality [CPU_SECONDS]`` instead trains tiny coarse and fine stages of each
layout on rendered piano for the same CPU time and prints validation losses (:func:`quality`; minutes).
"""
from __future__ import annotations

import json
import statistics
import time

import torch

REPEATS = 5
FINE_FRAMES, COARSE_FRAMES = 150, 100
LAYOUTS = ("flat", "multiscale", "multiscale256", "delay")


def _stage_models(layout: str, device: str):
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig

    shape = TransformerConfig(dim=256, depth=4, heads=4)
    local = TransformerConfig(dim=256, depth=1, heads=4, max_seq_len=8) if layout == "multiscale256" else None
    name = "multiscale" if layout == "multiscale256" else layout
    torch.manual_seed(0)
    coarse = CoarseLM(CoarseLMConfig(semantic_vocab_size=500, codebook_size=1024, num_coarse_quantizers=4,
                                     transformer=shape, layout=name, local_transformer=local))
    fine = FineLM(FineLMConfig(codebook_size=1024, num_coarse_quantizers=4, num_fine_quantizers=8,
                               transformer=shape, layout=name, local_transformer=local))
    return coarse.to(device).eval(), fine.to(device).eval()


def _round_robin(jobs: dict, repeats: int = REPEATS, sync=lambda: None) -> dict[str, tuple[float, float]]:
    """Median (wall seconds, process CPU seconds) per job; every repeat runs each job once, after a warm-up.

    CPU time is reported too because on a shared, oversubscribed machine wall time mostly measures waiting.
    """
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in jobs}
    for repeat in range(repeats + 1):
        for name, job in jobs.items():
            sync()
            start, cpu_start = time.perf_counter(), time.process_time()
            job()
            sync()
            if repeat:
                times[name].append((time.perf_counter() - start, time.process_time() - cpu_start))
    return {name: (statistics.median(t for t, _ in values), statistics.median(c for _, c in values))
            for name, values in times.items()}


def _saved_tensor_megabytes(loss_fn) -> float:
    """Megabytes of the tensors autograd saves for backward during ``loss_fn()`` (activation memory)."""
    total, seen = 0, set()

    def pack(tensor):
        nonlocal total
        key = (tensor.untyped_storage().data_ptr(), tensor.dtype)
        if key not in seen:
            seen.add(key)
            total += tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss_fn()
    return total / 2**20


def _kv_cache_megabytes(fine) -> float:
    """Megabytes of the KV caches one fine window needs (global model, and local model if any)."""
    core = fine.core
    if core is None:
        caches = [(fine.transformer.config, fine.capacity)]
    else:
        caches = [(core.transformer.config, fine.capacity)]
        if hasattr(core, "local"):
            caches.append((core.local.config, fine.config.num_fine_quantizers))
    return sum(2 * cfg.depth * capacity * cfg.dim * 4 for cfg, capacity in caches) / 2**20


def run(device: str = "cpu") -> dict:
    torch.set_num_threads(2)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    models = {layout: _stage_models(layout, device) for layout in LAYOUTS}
    torch.manual_seed(0)
    semantic = torch.randint(0, 500, (2, COARSE_FRAMES), device=device)
    coarse_codes = torch.randint(0, 1024, (2, 4, FINE_FRAMES), device=device)
    fine_codes = torch.randint(0, 1024, (2, 8, FINE_FRAMES), device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    results: dict[str, float | str] = {}

    fine_gen = _round_robin({layout: (lambda fine=fine: fine.generate(coarse_codes[:1], None, generator=generator))
                             for layout, (_, fine) in models.items()}, sync=sync)
    coarse_gen = _round_robin({layout: (lambda coarse=coarse: coarse.generate(semantic[:1], None, COARSE_FRAMES,
                                                                              generator=generator))
                               for layout, (coarse, _) in models.items()}, sync=sync)

    def train_job(model, *batch):
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step():
            optimizer.zero_grad(set_to_none=True)
            model(*batch).backward()
            optimizer.step()

        return step

    fine_train = _round_robin({layout: train_job(fine, coarse_codes, fine_codes)
                               for layout, (_, fine) in models.items()}, sync=sync)
    coarse_train = _round_robin({layout: train_job(coarse, semantic, coarse_codes[:, :, :COARSE_FRAMES])
                                 for layout, (coarse, _) in models.items()}, sync=sync)
    for layout, (coarse, fine) in models.items():
        for kind, table in (("wall", 0), ("cpu", 1)):
            prefix = "" if kind == "wall" else "cpu_"
            results[f"{prefix}gen_fine_s_per_audio_s_{layout}"] = fine_gen[layout][table] / (FINE_FRAMES / 50)
            results[f"{prefix}gen_coarse_s_per_audio_s_{layout}"] = coarse_gen[layout][table] / (COARSE_FRAMES / 50)
            results[f"{prefix}train_step_fine_{layout}"] = fine_train[layout][table]
            results[f"{prefix}train_step_coarse_{layout}"] = coarse_train[layout][table]
            results[f"{prefix}fine_speedup_{layout}"] = fine_gen["flat"][table] / fine_gen[layout][table]
            results[f"{prefix}coarse_speedup_{layout}"] = coarse_gen["flat"][table] / coarse_gen[layout][table]
        results[f"params_fine_{layout}"] = sum(p.numel() for p in fine.parameters())
        results[f"kv_cache_mb_fine_{layout}"] = _kv_cache_megabytes(fine)
        results[f"train_activation_mb_fine_{layout}"] = _saved_tensor_megabytes(lambda: fine(coarse_codes, fine_codes))
        fine.eval()
        coarse.eval()
    results["threads"] = torch.get_num_threads()
    results["device"] = device
    results["config"] = ("global dim 256 depth 4 heads 4; local (multiscale) dim 128 depth 1, (multiscale256) "
                         "dim 256 depth 1; K=1024, 4 coarse + 8 fine levels; fine gen 3 s window, coarse 2 s")
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in results.items()}


# ------------------------------------------------------------------------------------------ quality
def piano_tokens(pieces: int = 8, seconds: float = 20.0, codes: int = 64, semantic_vocab: int = 100, seed: int = 0):
    """Semantic ids and 12-level residual codes of rendered piano (music21 corpus + soundfont).

    No trained codec ships with the library, so the acoustic "codec" here is a residual k-means
    quantizer (12 levels x ``codes``) of 64-band log-mel frames at 50 Hz, fitted on the training pieces:
    coarse-to-fine residual structure as in an RVQ codec. Semantic ids: k-means of MFCC(+deltas) frames.
    The last two pieces are held out for validation. Returns ``(train, valid)`` lists of
    ``(LongTensor[S], LongTensor[12, F])``.
    """
    import numpy as np
    from sklearn.cluster import KMeans

    from audiolm_lib.datasets.piano import list_pieces, render_notes, score_notes
    from audiolm_lib.semantic.features import FeatureConfig, SpectralFeatures

    logmel = SpectralFeatures(FeatureConfig(kind="logmel", n_mels=64, deltas=0))
    mfcc = SpectralFeatures(FeatureConfig(kind="mfcc"))
    waves, noise = [], torch.Generator().manual_seed(seed)
    for _, path in list_pieces(seed)[: pieces]:
        wave = torch.from_numpy(np.asarray(render_notes(score_notes(path, max_seconds=seconds, seed=seed)), dtype=np.float32))
        # dither: digital silence makes identical frames, which k-means cannot split into clusters
        waves.append((wave + 1e-4 * torch.randn(wave.shape, generator=noise))[None, None])
    mels = [logmel(w)[0].numpy() for w in waves]
    mfccs = [mfcc(w)[0].numpy() for w in waves]
    train_count = pieces - 2
    semantic_km = KMeans(semantic_vocab, n_init=1, random_state=seed).fit(np.concatenate(mfccs[:train_count]))
    residual = [m.copy() for m in mels]
    levels: list[list[np.ndarray]] = [[] for _ in mels]
    for _ in range(12):  # residual vector quantization, one k-means per level
        km = KMeans(codes, n_init=1, random_state=seed).fit(np.concatenate(residual[:train_count]))
        for index, r in enumerate(residual):
            ids = km.predict(r)
            levels[index].append(ids)
            residual[index] = r - km.cluster_centers_[ids]
    items = [(torch.from_numpy(semantic_km.predict(m).astype(np.int64)), torch.from_numpy(np.stack(level).astype(np.int64)))
             for m, level in zip(mfccs, levels)]
    return items[:train_count], items[train_count:]


def cache_tokens(directory: str):
    """``(train, valid)`` items of a token cache built by ``audiolm tokenize`` (a real codec's codes), split by
    the cache's own train/valid split, in the form :func:`piano_tokens` returns."""
    from audiolm_lib.training.token_cache import TokenCache

    cache = TokenCache(directory)
    items = [cache[i] for i in range(len(cache))]
    pick = lambda split: [(it["semantic"], it["acoustic"]) for it in items if it["split"] == split]  # noqa: E731
    return pick("train"), pick("valid")


def _crops(items, frames: int, stride: int):
    """``(semantic [N, frames], codes [N, 12, frames])`` of every crop (semantic and acoustic both 50 Hz)."""
    sem, codes = [], []
    for s, c in items:
        length = min(s.shape[0], c.shape[1])
        for begin in range(0, length - frames + 1, stride):
            sem.append(s[begin : begin + frames])
            codes.append(c[:, begin : begin + frames])
    return torch.stack(sem), torch.stack(codes)


def quality(cpu_seconds: float = 60.0, stage: str = "fine", data=None, eval_every: float = 5.0) -> dict:
    """Validation loss per layout after the same CPU time of training (single thread, process time).

    Validation runs every ``eval_every`` CPU seconds of training (not charged): tiny data overfits, so
    the best validation loss on the way matters as much as the final one.

    Tiny models (global dim 128, depth 2, heads 2; multiscale local: default, dim 64 depth 1), 1 s crops,
    batch 8, AdamW 2e-3. Loss: mean cross-entropy per target token of the stage (nats).
    """
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig

    torch.set_num_threads(1)
    train, valid = data if data is not None else piano_tokens()
    codes = int(max(c.max() for _, c in train + valid)) + 1
    vocab = int(max(s.max() for s, _ in train + valid)) + 1
    levels = int(train[0][1].shape[0])  # 4 coarse + the rest fine (12 for the stand-in, the codec's count otherwise)
    train_sem, train_codes = _crops(train, 50, 10)
    valid_sem, valid_codes = _crops(valid, 50, 50)
    shape = TransformerConfig(dim=128, depth=2, heads=2, max_seq_len=1024)
    results: dict[str, float | int] = {}
    for layout in ("flat", "multiscale", "delay"):
        torch.manual_seed(0)
        if stage == "fine":
            model = FineLM(FineLMConfig(codebook_size=codes, num_fine_quantizers=levels - 4, window_seconds=1.0,
                                        transformer=shape, layout=layout))
            loss_of = lambda sem, c: model(c[:, :4], c[:, 4:])  # noqa: E731
        else:
            model = CoarseLM(CoarseLMConfig(semantic_vocab_size=vocab, codebook_size=codes, window_seconds=1.0,
                                            transformer=shape, layout=layout))
            loss_of = lambda sem, c: model(sem, c[:, :4])  # noqa: E731
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
        order = torch.Generator().manual_seed(0)

        def valid_loss() -> float:
            model.eval()
            with torch.no_grad():
                total = sum(loss_of(valid_sem[i : i + 16], valid_codes[i : i + 16]).item() * len(valid_sem[i : i + 16])
                            for i in range(0, len(valid_sem), 16))
            model.train()
            return total / len(valid_sem)

        steps, used, best, curve = 0, 0.0, float("inf"), []
        model.train()
        while used < cpu_seconds:  # the clock runs only while training (validation is not charged)
            start = time.process_time()
            batch = torch.randint(0, len(train_sem), (8,), generator=order)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_of(train_sem[batch], train_codes[batch])
            loss.backward()
            optimizer.step()
            steps += 1
            used += time.process_time() - start
            if used >= len(curve) * eval_every:
                curve.append(round(valid_loss(), 3))
                best = min(best, curve[-1])
        final = valid_loss()
        results[f"valid_loss_{stage}_{layout}"] = final
        results[f"best_valid_loss_{stage}_{layout}"] = min(best, final)
        results[f"valid_curve_{stage}_{layout}"] = str(curve)
        results[f"train_loss_{stage}_{layout}"] = loss.item()
        results[f"steps_{stage}_{layout}"] = steps
    results["chance_loss"] = float(torch.tensor(codes).log())
    results["cpu_seconds_per_layout"] = cpu_seconds
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in results.items()}


if __name__ == "__main__":
    import sys

    if "--quality" in sys.argv:  # minutes: renders piano, fits the quantizers, trains 3 x 2 tiny models
        after = sys.argv[sys.argv.index("--quality") + 1 :]
        budget = float(after[0]) if after and not after[0].startswith("--") else 60.0
        # --cache DIR: a token cache of a trained codec (audiolm tokenize); default: the k-means stand-in
        tokens = cache_tokens(sys.argv[sys.argv.index("--cache") + 1]) if "--cache" in sys.argv else piano_tokens(pieces=10)
        print(json.dumps({**quality(budget, "fine", tokens), **quality(budget, "coarse", tokens)}))
    else:
        print(json.dumps(run()))
