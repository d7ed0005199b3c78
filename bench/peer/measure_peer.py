"""Measure the peer, audiolm-pytorch 2.4.0, on the same rows and config as bench/run.py.

Run with the peer venv's interpreter (made by bench/peer/setup_peer_env.sh)::

    .venv-peer/bin/python bench/peer/measure_peer.py [--device cpu] [--only gen_fine_100f,...]

Prints one JSON object: ``{"rows": {name: {"median_s", "runs", "peak_rss_mb", ...}}, "meta": {...}}``.

audiolm-pytorch cannot be imported as published here: its modules import torchaudio, encodec and fairseq at
module level, its package ``__init__`` imports the trainer (wandb), and every Transformer's constructor asks
the model hub for a T5 config. Inside this process only, we therefore
  * put small stand-ins for ``torchaudio``, ``encodec`` and ``fairseq`` into ``sys.modules`` (none of their
    code runs in the timed paths; the resample stand-in is exact for equal rates, the only case used),
  * register the ``audiolm_pytorch`` package without running its ``__init__`` (so no trainer / wandb),
  * pre-fill the peer's T5 config cache with a locally built ``T5Config`` (768-d, like t5-v1_1-base),
  * use a mock HuBERT (a frozen strided conv + nearest centroid, far cheaper than HuBERT) for the e2e row.
"""
from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import platform
import resource
import statistics
import sys
import time
import types

os.environ.setdefault("TQDM_DISABLE", "1")  # the peer's generate loops draw a bar per call

import torch
from torch import nn

DIM, DEPTH, HEADS = 256, 4, 4
NUM_SEMANTIC_TOKENS, CODEBOOK_SIZE = 500, 1024
NUM_COARSE, NUM_FINE = 4, 8
SAMPLE_RATE, FRAME_RATE = 16000, 50
TRAIN_BATCH, TRAIN_FRAMES = 4, 100  # batch 4, 2 s of tokens at 50 Hz
GEN_TOKENS = 100  # semantic tokens, or coarse / fine frames
PEER_VERSION = "2.4.0"

ALL_ROWS = (
    "gen_semantic_100", "gen_coarse_100f", "gen_fine_100f",
    "train_step_semantic", "train_step_coarse", "train_step_fine",
    "codec_encode_10s", "codec_decode_10s", "tokenize_10s", "e2e_1s_to_3s",
)


# ----------------------------------------------------------------------------------------------- stubs
def _module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
    return module


def _resample(wave: torch.Tensor, orig_freq: int, new_freq: int) -> torch.Tensor:
    if int(orig_freq) == int(new_freq):
        return wave
    size = round(wave.shape[-1] * new_freq / orig_freq)
    flat = wave.reshape(-1, 1, wave.shape[-1])
    out = nn.functional.interpolate(flat, size=size, mode="linear", align_corners=False)
    return out.reshape(*wave.shape[:-1], size)


class _MelSpectrogramStandIn(nn.Module):
    """Only constructed by SoundStream's training-loss setup; never called in the benchmark."""

    def __init__(self, **kwargs):
        super().__init__()

    def forward(self, wave):  # pragma: no cover - not on a timed path
        raise RuntimeError("the mel-spectrogram stand-in is not meant to run")


def _unavailable(what: str):
    def fail(*args, **kwargs):
        raise RuntimeError(f"{what} is stubbed out in the peer benchmark")

    return fail


def install_import_stubs() -> None:
    """Make ``import audiolm_pytorch.audiolm_pytorch`` work without torchaudio, encodec, fairseq or wandb."""
    functional = _module("torchaudio.functional", resample=_resample)
    transforms = _module("torchaudio.transforms", MelSpectrogram=_MelSpectrogramStandIn)
    torchaudio = _module("torchaudio", functional=functional, transforms=transforms,
                         load=_unavailable("torchaudio.load"), save=_unavailable("torchaudio.save"))
    encodec_utils = _module("encodec.utils", _linear_overlap_add=_unavailable("encodec overlap-add"))
    encodec = _module("encodec", EncodecModel=type("EncodecModel", (), {}), utils=encodec_utils)
    checkpoint_utils = _module("fairseq.checkpoint_utils",
                               load_model_ensemble_and_task=_unavailable("fairseq checkpoint loading"))
    fairseq = _module("fairseq", checkpoint_utils=checkpoint_utils)
    for module in (torchaudio, functional, transforms, encodec, encodec_utils, fairseq, checkpoint_utils):
        sys.modules.setdefault(module.__name__, module)

    # Register the package without executing its __init__ (which imports the trainer and wandb).
    if "audiolm_pytorch" not in sys.modules:
        spec = importlib.util.find_spec("audiolm_pytorch")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("audiolm_pytorch is not installed in this interpreter; run bench/peer/setup_peer_env.sh")
        package = types.ModuleType("audiolm_pytorch")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        package.__file__ = spec.origin
        sys.modules["audiolm_pytorch"] = package

    # The Transformers' constructors call get_encoded_dim(t5_name) -> T5Config.from_pretrained (network).
    from transformers import T5Config

    import audiolm_pytorch.t5 as peer_t5

    peer_t5.T5_CONFIGS.setdefault(peer_t5.DEFAULT_T5_NAME, {})["config"] = T5Config(d_model=768)


def import_peer() -> types.SimpleNamespace:
    install_import_stubs()
    import audiolm_pytorch.audiolm_pytorch as peer
    from audiolm_pytorch.hubert_kmeans import HubertWithKmeans
    from audiolm_pytorch.soundstream import SoundStream
    from audiolm_pytorch.version import __version__

    return types.SimpleNamespace(module=peer, SoundStream=SoundStream, HubertWithKmeans=HubertWithKmeans,
                                 version=__version__)


# ----------------------------------------------------------------------------------------------- models
def make_mock_hubert(peer, codebook_size: int = NUM_SEMANTIC_TOKENS, feature_dim: int = 64):
    class MockHubertWithKmeans(peer.HubertWithKmeans):
        """Stand-in for fairseq HuBERT + k-means: a frozen conv with hop 320 (50 Hz) + nearest centroid."""

        def __init__(self):
            nn.Module.__init__(self)
            self.target_sample_hz = SAMPLE_RATE
            self.seq_len_multiple_of = None
            self.output_layer = 9
            self.features = nn.Conv1d(1, feature_dim, kernel_size=320, stride=320)
            self.register_buffer("cluster_centers", torch.randn(codebook_size, feature_dim))
            self.requires_grad_(False)

        @property
        def codebook_size(self):
            return self.cluster_centers.shape[0]

        @torch.inference_mode()
        def forward(self, wav_input, flatten=True, input_sample_hz=None):
            embed = self.features(wav_input[:, None]).transpose(1, 2)  # [B, T/320, D]
            ids = torch.cdist(embed, self.cluster_centers[None]).argmin(dim=-1)
            return ids.flatten() if flatten else ids

    return MockHubertWithKmeans()


def make_codec(peer, device: str):
    """The peer's SoundStream at its defaults (hop 320 -> 50 Hz at 16 kHz) with 12 x 1024 residual VQ."""
    torch.manual_seed(0)
    codec = peer.SoundStream(codebook_size=CODEBOOK_SIZE, rq_num_quantizers=NUM_COARSE + NUM_FINE,
                             target_sample_hz=SAMPLE_RATE)
    return codec.to(device).eval()


def make_wrapper_codec(peer):
    """The coarse/fine wrappers only read ``rq_groups`` and ``num_quantizers`` from the codec."""

    class CodecShape(peer.SoundStream):
        def __init__(self):
            nn.Module.__init__(self)
            self.rq_groups = 1
            self.num_quantizers = NUM_COARSE + NUM_FINE

    return CodecShape()


def make_stages(peer, device: str):
    m = peer.module
    torch.manual_seed(0)
    semantic = m.SemanticTransformer(num_semantic_tokens=NUM_SEMANTIC_TOKENS, dim=DIM, depth=DEPTH, heads=HEADS)
    coarse = m.CoarseTransformer(num_semantic_tokens=NUM_SEMANTIC_TOKENS, codebook_size=CODEBOOK_SIZE,
                                 num_coarse_quantizers=NUM_COARSE, dim=DIM, depth=DEPTH, heads=HEADS)
    fine = m.FineTransformer(num_coarse_quantizers=NUM_COARSE, num_fine_quantizers=NUM_FINE,
                             codebook_size=CODEBOOK_SIZE, dim=DIM, depth=DEPTH, heads=HEADS)
    with torch.no_grad():
        # Untrained stages may sample end-of-sequence early; forbid it so every run yields the full length.
        semantic.to_logits.bias[semantic.eos_id] = -1e4
        coarse.coarse_logit_weights[:, CODEBOOK_SIZE].zero_()
        # (the peer's fine logits have no EOS entry)
    return semantic.to(device), coarse.to(device), fine.to(device)


def make_wrappers(peer, stages, codec=None, wav2vec=None):
    m = peer.module
    semantic, coarse, fine = stages
    codec = codec if codec is not None else make_wrapper_codec(peer)
    # unique_consecutive=False keeps sequence lengths exactly as requested (our library does not dedupe).
    return (
        m.SemanticTransformerWrapper(transformer=semantic, wav2vec=wav2vec, unique_consecutive=False),
        m.CoarseTransformerWrapper(transformer=coarse, codec=codec, wav2vec=wav2vec, unique_consecutive=False),
        m.FineTransformerWrapper(transformer=fine, codec=codec),
    )


# ----------------------------------------------------------------------------------------------- timing
def reset_peak_rss() -> None:
    """Reset the kernel's resident-set high-water mark (Linux >= 4.0) so each row reports its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_call(fn, repeats: int, device: str, warmup=None) -> dict:
    """Median wall time of ``repeats`` calls of ``fn`` after one warm-up call (``warmup`` or ``fn``)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    (warmup or fn)()
    sync()
    reset_peak_rss()
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        sync()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    # cpu_s (process CPU time, all threads) is less sensitive than wall time to other load on the machine
    return {"median_s": statistics.median(times), "runs": repeats, "times_s": [round(t, 5) for t in times],
            "cpu_s": round(statistics.median(cpu_times), 5), "peak_rss_mb": round(peak_rss_mb(), 1)}


# ----------------------------------------------------------------------------------------------- rows
def _report(name: str, result: dict) -> None:
    """Each row as soon as it is measured (stderr), so an interrupted run still leaves its numbers."""
    print(f"[peer] {name}: {json.dumps(result)}", file=sys.stderr, flush=True)


def measure_generation(peer, device, repeats, rows, out):
    semantic_w, coarse_w, fine_w = make_wrappers(peer, make_stages(peer, device))
    generator = torch.Generator().manual_seed(0)
    semantic_ids = torch.randint(0, NUM_SEMANTIC_TOKENS, (1, GEN_TOKENS), generator=generator).to(device)
    coarse_ids = torch.randint(0, CODEBOOK_SIZE, (1, GEN_TOKENS, NUM_COARSE), generator=generator).to(device)

    def gen_semantic(n=GEN_TOKENS):
        ids = semantic_w.generate(max_length=n, batch_size=1)
        assert ids.shape[-1] == n, f"peer semantic generate stopped at {ids.shape[-1]} of {n} tokens"

    def gen_coarse(n=GEN_TOKENS):
        ids = coarse_w.generate(semantic_token_ids=semantic_ids, max_time_steps=n)
        assert ids.shape[1:] == (n, NUM_COARSE), ids.shape

    def gen_fine(n=GEN_TOKENS):
        ids = fine_w.generate(coarse_token_ids=coarse_ids[:, :n])
        assert ids.shape[1:] == (n, NUM_FINE), ids.shape

    specs = {
        "gen_semantic_100": (gen_semantic, GEN_TOKENS),
        "gen_coarse_100f": (gen_coarse, GEN_TOKENS * NUM_COARSE),
        "gen_fine_100f": (gen_fine, GEN_TOKENS * NUM_FINE),
    }
    for name, (fn, tokens) in specs.items():
        if name not in rows:
            continue
        torch.manual_seed(0)
        # Warm up on a short run: the code paths are the same and the peer is slow.
        result = time_call(fn, repeats, device, warmup=lambda fn=fn: fn(10))
        result["tokens"] = tokens
        result["tokens_per_s"] = tokens / result["median_s"]
        result["note"] = "batch 1, KV cache on (the peer's default), top-k filter 0.9, EOS forbidden"
        out[name] = result
        _report(name, result)


def measure_training(peer, device, repeats, rows, out):
    stages = make_stages(peer, device)
    wrappers = make_wrappers(peer, stages)
    generator = torch.Generator().manual_seed(0)

    def ids(high, *shape):
        return torch.randint(0, high, shape, generator=generator).to(device)

    batches = {
        "train_step_semantic": dict(semantic_token_ids=ids(NUM_SEMANTIC_TOKENS, TRAIN_BATCH, TRAIN_FRAMES)),
        "train_step_coarse": dict(semantic_token_ids=ids(NUM_SEMANTIC_TOKENS, TRAIN_BATCH, TRAIN_FRAMES),
                                  coarse_token_ids=ids(CODEBOOK_SIZE, TRAIN_BATCH, TRAIN_FRAMES, NUM_COARSE)),
        "train_step_fine": dict(coarse_token_ids=ids(CODEBOOK_SIZE, TRAIN_BATCH, TRAIN_FRAMES, NUM_COARSE),
                                fine_token_ids=ids(CODEBOOK_SIZE, TRAIN_BATCH, TRAIN_FRAMES, NUM_FINE)),
    }
    for (name, batch), wrapper in zip(batches.items(), wrappers):
        if name not in rows:
            continue
        wrapper.train()
        optimizer = torch.optim.AdamW(wrapper.parameters(), lr=3e-4)

        def step(wrapper=wrapper, batch=batch, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=True)
            loss = wrapper(**batch, return_loss=True)
            loss.backward()
            optimizer.step()

        torch.manual_seed(0)
        result = time_call(step, repeats, device)
        result["batch"], result["frames"] = TRAIN_BATCH, TRAIN_FRAMES
        result["note"] = "wrapper forward(return_loss=True) + backward + AdamW step, train mode"
        out[name] = result
        _report(name, result)


def measure_codec(peer, device, repeats, rows, out):
    if "tokenize_10s" in rows:
        out["tokenize_10s"] = {"median_s": None, "reason": "the peer has no MFCC/k-means tokenizer; its HuBERT "
                               "path needs fairseq and a checkpoint, which cannot be loaded here"}
    if not rows & {"codec_encode_10s", "codec_decode_10s"}:
        return
    codec = make_codec(peer, device)
    torch.manual_seed(0)
    wave = (0.1 * torch.randn(1, 10 * SAMPLE_RATE)).to(device)
    with torch.inference_mode():
        codes = codec.tokenize(wave)  # [G, B, N, Q]
        codes = codes[0]  # [B, N, Q]
    frames = codes.shape[1]

    def encode():
        with torch.inference_mode():
            codec.tokenize(wave)

    def decode():
        with torch.inference_mode():
            codec.decode_from_codebook_indices(codes)

    for name, fn in (("codec_encode_10s", encode), ("codec_decode_10s", decode)):
        if name not in rows:
            continue
        result = time_call(fn, repeats, device)
        result["audio_s"] = 10.0
        result["realtime_factor"] = 10.0 / result["median_s"]
        result["frames"] = frames
        result["note"] = "SoundStream defaults (channels 32, strides 2-4-5-8, local attention), 12 x 1024 RVQ"
        out[name] = result
        _report(name, result)


def measure_e2e(peer, device, repeats, out, prompt_s: float = 1.0, total_s: float = 3.0):
    """1 s prompt -> 3 s of audio (prompt included), the stages called as the peer's AudioLM.forward does,
    with lengths fixed: AudioLM.forward itself always samples 512 coarse frames (10 s)."""
    codec = make_codec(peer, device)
    hubert = make_mock_hubert(peer).to(device)
    semantic_w, coarse_w, fine_w = make_wrappers(peer, make_stages(peer, device), codec=codec, wav2vec=hubert)
    torch.manual_seed(0)
    prompt = (0.1 * torch.randn(1, int(prompt_s * SAMPLE_RATE))).to(device)
    total_frames = int(total_s * FRAME_RATE)
    new_frames = total_frames - int(prompt_s * FRAME_RATE)

    def continue_prompt(new=new_frames):
        semantic_ids = semantic_w.generate(prime_wave=prompt, max_length=int(prompt_s * FRAME_RATE) + new)
        coarse_ids = coarse_w.generate(semantic_token_ids=semantic_ids, prime_wave=prompt, max_time_steps=new)
        wave = fine_w.generate(coarse_token_ids=coarse_ids, prime_wave=prompt, reconstruct_wave=True)
        return wave

    wave = continue_prompt()
    output_s = wave.shape[-1] / SAMPLE_RATE
    result = time_call(continue_prompt, repeats, device, warmup=lambda: continue_prompt(5))
    result["output_s"] = output_s
    result["realtime_factor"] = output_s / result["median_s"]
    result["note"] = ("mock HuBERT (strided conv + nearest centroid) for semantic ids, default SoundStream; "
                      "output includes the 1 s prompt")
    out["e2e_1s_to_3s"] = result
    _report("e2e_1s_to_3s", result)


# ----------------------------------------------------------------------------------------------- main
def run(device: str = "cpu", rows=ALL_ROWS, repeats: int = 5, gen_repeats: int = 1, e2e_repeats: int = 1) -> dict:
    torch.set_num_threads(2)
    peer = import_peer()
    rows = set(rows)
    out: dict = {}
    if rows & {"gen_semantic_100", "gen_coarse_100f", "gen_fine_100f"}:
        measure_generation(peer, device, gen_repeats, rows, out)
    if rows & {"train_step_semantic", "train_step_coarse", "train_step_fine"}:
        measure_training(peer, device, repeats, rows, out)
    if rows & {"codec_encode_10s", "codec_decode_10s", "tokenize_10s"}:
        measure_codec(peer, device, repeats, rows, out)
    if "e2e_1s_to_3s" in rows:
        measure_e2e(peer, device, e2e_repeats, out)
    return {
        "rows": {name: out[name] for name in ALL_ROWS if name in out},
        "meta": {
            "library": f"audiolm-pytorch {peer.version}",
            "device": device,
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "repeats": {"generation": gen_repeats, "train_and_codec": repeats, "e2e": e2e_repeats},
            "config": dict(dim=DIM, depth=DEPTH, heads=HEADS, num_semantic_tokens=NUM_SEMANTIC_TOKENS,
                           codebook_size=CODEBOOK_SIZE, coarse_quantizers=NUM_COARSE, fine_quantizers=NUM_FINE),
            "stubs": "torchaudio, encodec, fairseq stubbed; package __init__ skipped; local T5Config; mock HuBERT",
        },
    }


def check(device: str = "cpu") -> None:
    """Smoke test of the environment: import the peer and generate a few tokens with each stage."""
    peer = import_peer()
    if peer.version != PEER_VERSION:
        raise SystemExit(f"expected audiolm-pytorch {PEER_VERSION}, found {peer.version}")
    semantic_w, coarse_w, fine_w = make_wrappers(peer, make_stages(peer, device))
    semantic_ids = semantic_w.generate(max_length=4, batch_size=1)
    coarse_ids = coarse_w.generate(semantic_token_ids=semantic_ids, max_time_steps=2)
    fine_ids = fine_w.generate(coarse_token_ids=coarse_ids)
    print(json.dumps({"ok": True, "version": peer.version, "semantic": list(semantic_ids.shape),
                      "coarse": list(coarse_ids.shape), "fine": list(fine_ids.shape)}))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="", help="comma-separated row names (default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs for training and codec rows")
    parser.add_argument("--gen-repeats", type=int, default=1,
                        help="timed runs for generation rows (the peer is ~60x slower, so one is enough)")
    parser.add_argument("--e2e-repeats", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="only check that the peer imports and generates")
    args = parser.parse_args(argv)
    if args.check:
        check(args.device)
        return
    rows = [r for r in args.only.split(",") if r] or list(ALL_ROWS)
    unknown = sorted(set(rows) - set(ALL_ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; known: {', '.join(ALL_ROWS)}")
    print(json.dumps(run(args.device, rows, args.repeats, args.gen_repeats, args.e2e_repeats)))


if __name__ == "__main__":
    main()
