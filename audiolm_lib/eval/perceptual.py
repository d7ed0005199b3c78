"""The field's perceptual instruments, from their packages: ViSQOL, PESQ-wb, STOI (intrusive: reference vs
degraded) and DNSMOS (non-intrusive: one wave).

- ViSQOL v3 (``visqol-python``): MOS-LQO in [1, 5]. ``"speech"`` mode at 16 kHz (with the ``[lattice]`` extra the
  deep-lattice mapping of the reference C++ ViSQOL), ``"audio"`` mode at 48 kHz for music. AudioLM (Borsos et al.
  2022, Table I) reports SoundStream at 3.3 (2 kbps) and 3.9 (6 kbps).
- PESQ wide-band (``pesq``, ITU-T P.862.2): MOS-LQO in about [1.0, 4.64], 16 kHz.
- STOI (``pystoi``): short-time objective intelligibility in [0, 1] (resampled to 10 kHz inside).
- DNSMOS P.835 (``speechmos``, ONNX models on ``onnxruntime``): SIG (speech), BAK (background), OVRL (overall)
  and P.808 MOS in [1, 5]; input must lie in [-1, 1] at 16 kHz.

Every function takes ``Tensor[T]`` / ``Tensor[C, T]`` (or numpy) at any rate and resamples; packages are imported
on first use, so ``import audiolm_lib.eval`` stays light. A measurement that the instrument refuses (PESQ finds no
utterance in silence) gives ``None``, not an exception, so one bad clip does not end a benchmark.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import warnings
from pathlib import Path

import numpy as np
import torch

from audiolm_lib.audio import prepare_wave

SPEECH_RATE = 16000
VISQOL_AUDIO_RATE = 48000
VISQOL_MODES = ("speech", "audio")


def _mono(wave, sample_rate: int, target_rate: int, min_samples: int = 1) -> np.ndarray:
    """``Tensor[T]`` / ``Tensor[C, T]`` / ndarray -> float64 ``ndarray[T']`` at ``target_rate``."""
    wave = prepare_wave(torch.as_tensor(np.asarray(wave, dtype=np.float32)), sample_rate, target_rate, min_samples)
    if wave.shape[0] != 1:
        raise ValueError(f"expected one wave ([T] or [C, T]), got a batch of {wave.shape[0]}")
    return wave[0, 0].double().numpy()


def _pair(reference, degraded, sample_rate: int, target_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Both waves at ``target_rate``, cut to the shorter one (codecs may pad a partial last frame)."""
    ref = _mono(reference, sample_rate, target_rate)
    deg = _mono(degraded, sample_rate, target_rate)
    length = min(len(ref), len(deg))
    return ref[:length], deg[:length]


def _import(module: str, package: str, what: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{what} needs the package '{package}': `pip install -e .[eval]` ({exc})") from exc


@functools.lru_cache(maxsize=2)
def _visqol_api(mode: str):
    api = _import("visqol.api", "visqol-python", "ViSQOL")
    lattice = mode == "speech" and importlib.util.find_spec("ai_edge_litert") is not None
    if mode == "speech" and not lattice:
        warnings.warn("ViSQOL speech mode without visqol-python[lattice]: polynomial MOS mapping, not the reference one")
    visqol = api.VisqolApi()
    with contextlib.redirect_stderr(io.StringIO()):  # TFLite prints an INFO line when the lattice model loads
        visqol.create(mode=mode, use_lattice_model=lattice if mode == "speech" else None)
    return visqol


def visqol_mapping(mode: str) -> str:
    """Which MOS mapping ViSQOL uses in ``mode``: ``"svr"`` (audio), ``"lattice"`` or ``"polynomial"`` (speech)."""
    if mode == "audio":
        return "svr"
    return "lattice" if importlib.util.find_spec("ai_edge_litert") is not None else "polynomial"


def visqol(reference, degraded, sample_rate: int, mode: str = "speech") -> float | None:
    """ViSQOL MOS-LQO of ``degraded`` against ``reference`` (both ``Tensor[T]`` at ``sample_rate``).

    ``mode="speech"`` compares at 16 kHz, ``mode="audio"`` (music) at 48 kHz: the waves are resampled. ``None``
    (with a warning) for a clip too short for ViSQOL's patches (under about 0.7 s in speech mode, 1 s in audio mode).
    """
    if mode not in VISQOL_MODES:
        raise ValueError(f"ViSQOL mode must be one of {VISQOL_MODES}, got {mode!r}")
    rate = SPEECH_RATE if mode == "speech" else VISQOL_AUDIO_RATE
    ref, deg = _pair(reference, degraded, sample_rate, rate)
    if not np.any(ref):
        raise ValueError("ViSQOL needs a reference that is not silent")
    try:
        return float(_visqol_api(mode).measure_from_arrays(ref, deg, rate).moslqo)
    except (IndexError, ValueError) as exc:  # no complete patch in a short clip
        warnings.warn(f"ViSQOL could not score this {len(ref) / rate:.2f} s pair ({type(exc).__name__}: {exc})")
        return None


def pesq_wb(reference, degraded, sample_rate: int) -> float | None:
    """Wide-band PESQ (P.862.2) at 16 kHz; ``None`` where PESQ finds no speech (e.g. silence)."""
    pesq = _import("pesq", "pesq", "PESQ")
    ref, deg = _pair(reference, degraded, sample_rate, SPEECH_RATE)
    if not np.any(ref) or not np.any(deg):
        warnings.warn("PESQ could not score this pair: a wave is silent")
        return None
    try:
        return float(pesq.pesq(SPEECH_RATE, ref, deg, "wb"))
    except (pesq.PesqError, ValueError) as exc:
        warnings.warn(f"PESQ could not score this pair: {exc}")
        return None


def stoi(reference, degraded, sample_rate: int, extended: bool = False) -> float:
    """STOI (or ESTOI with ``extended=True``) of ``degraded`` against ``reference``, in [0, 1]."""
    pystoi = _import("pystoi", "pystoi", "STOI")
    ref, deg = _pair(reference, degraded, sample_rate, SPEECH_RATE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Not enough STFT frames" for clips under ~0.4 s: it returns 1e-5
        return float(pystoi.stoi(ref, deg, SPEECH_RATE, extended=extended))


@functools.lru_cache(maxsize=1)
def _dnsmos_module(threads: int):
    """``speechmos.dnsmos`` with its model sessions made once, on ``threads`` threads and without spin-waiting.

    speechmos builds its ONNX sessions with onnxruntime's defaults, whose worker threads spin while they wait: on a
    shared 2-core machine that made each clip 5x slower. Its own ``DNSMOS`` class and model files are kept; only
    the sessions are rebuilt with options (speechmos has no parameter for them).
    """
    ort = _import("onnxruntime", "onnxruntime", "DNSMOS")
    module = _import("speechmos.dnsmos", "speechmos", "DNSMOS")
    folder = Path(module.__file__).parent / "dnsmos_models"
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model = module.DNSMOS.__new__(module.DNSMOS)
    model.primary_model_path = str(folder / "sig_bak_ovr.onnx")
    model.onnx_sess = ort.InferenceSession(model.primary_model_path, options, providers=["CPUExecutionProvider"])
    model.p808_onnx_sess = ort.InferenceSession(str(folder / "model_v8.onnx"), options,
                                                providers=["CPUExecutionProvider"])
    module.dnsmos = model  # speechmos.dnsmos.run reuses this instance for the same primary model path
    return module


def dnsmos(wave, sample_rate: int) -> dict:
    """DNSMOS P.835 of one wave (non-intrusive): ``{"sig", "bak", "ovrl", "p808"}`` MOS in [1, 5].

    The wave is resampled to 16 kHz and, where it peaks above 1, scaled into [-1, 1] (DNSMOS refuses it
    otherwise). Clips under DNSMOS's 9 s window are repeated to fill it, as ``speechmos`` does.
    """
    module = _dnsmos_module(torch.get_num_threads())
    audio = _mono(wave, sample_rate, SPEECH_RATE, min_samples=SPEECH_RATE // 10)
    peak = float(np.abs(audio).max())
    if peak == 0:
        raise ValueError("DNSMOS cannot rate a silent wave (all samples are zero)")
    if peak > 1.0:
        audio = audio / peak
    scores = module.run(audio.astype(np.float32), sr=SPEECH_RATE)
    return {"sig": float(scores["sig_mos"]), "bak": float(scores["bak_mos"]),
            "ovrl": float(scores["ovrl_mos"]), "p808": float(scores["p808_mos"])}
