"""Issue 20's continuation targets, read from the quality benchmark's oracle ladder, with their uncertainty.

Each target compares rung d (the whole pipeline) of a held-out set with a bound made of the same run's own
references, so a reading is never against a number copied from an earlier run:

- speech, recorded sets: speaker similarity to the prompt >= the different-speaker baseline + 0.05; voiced share
  >= 0.5x the real continuation's; DNSMOS OVRL >= 0.8x the codec resynthesis';
- speech, synthetic sets (``tts``): speaker similarity >= halfway from the different-speaker baseline to the
  same-speaker one (rung a); DNSMOS OVRL >= 0.8x the resynthesis';
- piano: chroma similarity to the prompt >= the real continuation's - 0.10 and >= white noise's + 0.05; harmonic
  ratio >= 0.9x the real continuation's.

A held-out set has a handful of items and each continuation is one draw, so a reading carries two uncertainties,
both reported: the seed-to-seed standard error of the margin (the runs of ``bench/quality.py --seeds``) and a
95 % bootstrap interval of the margin over the set's items (each item's measures averaged over the seeds first;
``scipy.stats.bootstrap``, percentile method, resampling items with their references). A margin within about two
standard errors of 0 is not settled either way.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SYNTHETIC_SPEECH_SETS = ("tts",)  # the held-out sets whose voices are synthetic (the halfway speaker target)
MARGIN_ROUNDING = 1e-9  # a reading equal to its bound, less float rounding, meets it
MIN_BOOTSTRAP_ITEMS = 3  # fewer items give a handful of distinct resamples: no interval is reported


@dataclass(frozen=True)
class Target:
    """One target: ``reading(means) >= bound(means)``, ``means`` mapping each of ``fields`` to its set mean.

    A field is ``"rung.measure"`` (``"pipeline.voiced_share"``) or an item baseline (``"different_speaker_baseline"``).
    """

    domain: str
    name: str
    sets: str  # "recorded", "synthetic" (speech) or "all"
    fields: tuple[str, ...]
    reading: Callable[[Mapping[str, float]], float]
    bound: Callable[[Mapping[str, float]], float]
    rule: str  # the bound in words, for the tables

    def applies_to(self, set_name: str, synthetic_sets: Sequence[str]) -> bool:
        synthetic = set_name in synthetic_sets
        return self.sets == "all" or (self.sets == "synthetic") == synthetic

    def margin(self, means: Mapping[str, float]) -> float:
        return self.reading(means) - self.bound(means)


TARGETS = (
    Target("speech", "speaker similarity", "recorded", ("pipeline.speaker_similarity", "different_speaker_baseline"),
           lambda m: m["pipeline.speaker_similarity"], lambda m: m["different_speaker_baseline"] + 0.05,
           "different speaker + 0.05"),
    Target("speech", "speaker similarity", "synthetic",
           ("pipeline.speaker_similarity", "different_speaker_baseline", "real.speaker_similarity"),
           lambda m: m["pipeline.speaker_similarity"],
           lambda m: (m["different_speaker_baseline"] + m["real.speaker_similarity"]) / 2,
           "halfway from different to same speaker"),
    Target("speech", "voiced share / real", "recorded", ("pipeline.voiced_share", "real.voiced_share"),
           lambda m: m["pipeline.voiced_share"] / m["real.voiced_share"], lambda m: 0.5, "0.5x"),
    Target("speech", "DNSMOS / resynthesis", "all", ("pipeline.dnsmos_ovrl", "resynthesis.dnsmos_ovrl"),
           lambda m: m["pipeline.dnsmos_ovrl"] / m["resynthesis.dnsmos_ovrl"], lambda m: 0.8, "0.8x"),
    Target("piano", "chroma similarity vs real", "all",
           ("pipeline.chroma_similarity_to_prompt", "real.chroma_similarity_to_prompt"),
           lambda m: m["pipeline.chroma_similarity_to_prompt"], lambda m: m["real.chroma_similarity_to_prompt"] - 0.10,
           "real - 0.10"),
    Target("piano", "chroma similarity vs noise", "all",
           ("pipeline.chroma_similarity_to_prompt", "white_noise_chroma_baseline"),
           lambda m: m["pipeline.chroma_similarity_to_prompt"], lambda m: m["white_noise_chroma_baseline"] + 0.05,
           "white noise + 0.05"),
    Target("piano", "harmonic ratio / real", "all", ("pipeline.harmonic_ratio", "real.harmonic_ratio"),
           lambda m: m["pipeline.harmonic_ratio"] / m["real.harmonic_ratio"], lambda m: 0.9, "0.9x"),
)


def _field(source: Mapping, field: str):
    """A field of an item (``source["rungs"][rung][measure]`` or ``source[baseline]``)."""
    rung, _, measure = field.partition(".")
    if measure:
        return source.get("rungs", {}).get(rung, {}).get(measure)
    return source.get(field)


def _row_means(rows: Sequence[Mapping], set_name: str, fields: Sequence[str]) -> dict[str, float] | None:
    """The set's means of ``fields`` from the ladder's rows (one row per set and rung; baselines on every row)."""
    by_rung = {row["rung"]: row for row in rows if row["set"] == set_name}
    means = {}
    for field in fields:
        rung, _, measure = field.partition(".")
        value = by_rung.get(rung, {}).get(measure) if measure else next(iter(by_rung.values()), {}).get(field)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        means[field] = float(value)
    return means


def _item_table(seed_items: Sequence[Sequence[Mapping]], set_name: str, fields: Sequence[str]) -> np.ndarray:
    """``ndarray[items, fields]``: each item of the set (by id) with its fields averaged over the seeds; items
    missing a field on every seed are left out."""
    values: dict[str, list[list[float]]] = {}
    for items in seed_items:
        for item in items:
            if item["set"] != set_name:
                continue
            row = [_field(item, field) for field in fields]
            if all(v is not None and not (isinstance(v, float) and math.isnan(v)) for v in row):
                values.setdefault(item["id"], []).append([float(v) for v in row])
    return np.array([np.mean(rows, axis=0) for rows in values.values()]).reshape(-1, len(fields))


def _bootstrap_interval(target: Target, table: np.ndarray) -> tuple[float, float] | None:
    """95 % percentile interval of the margin, resampling the items (rows of ``table``) with replacement."""
    if len(table) < MIN_BOOTSTRAP_ITEMS:
        return None
    from scipy.stats import bootstrap

    def margin(*columns):
        return target.margin({field: float(np.mean(column)) for field, column in zip(target.fields, columns)})

    result = bootstrap(tuple(table.T), margin, paired=True, vectorized=False, n_resamples=2000, method="percentile",
                       confidence_level=0.95, random_state=np.random.default_rng(0))
    low, high = result.confidence_interval
    return float(low), float(high)


def target_readings(seed_runs: Sequence[Mapping], synthetic_sets: Sequence[str] = SYNTHETIC_SPEECH_SETS) -> list[dict]:
    """Every target of issue 20 that a model's ladder measured.

    Args:
        seed_runs: one :func:`~audiolm_lib.eval.suite.run_suite` result of one model per sampling seed (a run
            without per-item lists gives no interval).
        synthetic_sets: the speech sets held to the synthetic-voice speaker target.

    Returns:
        One ``{"domain", "set", "target", "rule", "reading", "bound", "margin", "met", "seeds", "seed_se" (None for
        one seed), "items", "interval" ([low, high] of the margin, or None)}`` per target and set, in ladder order.
    """
    if not seed_runs:
        raise ValueError("no runs to read the targets from")
    readings = []
    for domain in ("speech", "piano"):
        ladders = [run.get("ladder", {}).get(domain) for run in seed_runs]
        if not all(ladders):
            continue
        set_names = list(dict.fromkeys(row["set"] for row in ladders[0]["rows"]))
        for set_name in set_names:
            for target in TARGETS:
                if target.domain != domain or not target.applies_to(set_name, synthetic_sets):
                    continue
                per_seed = [_row_means(ladder["rows"], set_name, target.fields) for ladder in ladders]
                if any(means is None for means in per_seed):
                    continue
                readings_, bounds = [target.reading(m) for m in per_seed], [target.bound(m) for m in per_seed]
                margins = [r - b for r, b in zip(readings_, bounds)]
                table = _item_table([ladder.get("items", []) for ladder in ladders], set_name, target.fields)
                margin = statistics.fmean(margins)
                readings.append({
                    "domain": domain, "set": set_name, "target": target.name, "rule": target.rule,
                    "reading": statistics.fmean(readings_), "bound": statistics.fmean(bounds), "margin": margin,
                    "met": margin >= -MARGIN_ROUNDING, "seeds": len(margins),
                    "seed_se": statistics.stdev(margins) / math.sqrt(len(margins)) if len(margins) > 1 else None,
                    "items": len(table), "interval": _bootstrap_interval(target, table)})
    return readings


def seed_runs_by_model(results: Mapping) -> dict[str, list[Mapping]]:
    """``bench/quality.py``'s JSON -> ``{model name: [its run per seed]}`` (``per_seed`` where ``--seeds`` made it,
    else the one run)."""
    per_seed = results.get("per_seed")
    sources = [per_seed[key] for key in sorted(per_seed, key=int)] if per_seed else [results]
    models: dict[str, list[Mapping]] = {}
    for source in sources:
        for run in source["runs"]:
            models.setdefault(str(run.get("name") or run.get("model")), []).append(run)
    return models


def targets_markdown(models: Mapping[str, Sequence[Mapping]],
                     synthetic_sets: Sequence[str] = SYNTHETIC_SPEECH_SETS) -> list[str]:
    """Markdown lines: one table row per model, set and target (no lines if no ladder ran)."""
    return readings_markdown({name: target_readings(runs, synthetic_sets) for name, runs in models.items()})


def readings_markdown(readings: Mapping[str, Sequence[Mapping]]) -> list[str]:
    """``{model name: its target_readings}`` -> Markdown lines (no lines if there is no reading)."""
    def number(value, digits=3):
        return "–" if value is None else f"{value:.{digits}f}"

    rows = []
    for name, model_readings in readings.items():
        for reading in model_readings:
            interval = reading["interval"]
            spread = "–" if reading["seed_se"] is None else f"{reading['seed_se']:.3f}"
            span = "–" if interval is None else f"{interval[0]:+.3f} .. {interval[1]:+.3f}"
            rows.append(f"| {name} | {reading['set']} | {reading['target']} ({reading['rule']}) | "
                        f"{number(reading['reading'])} | {number(reading['bound'])} | {reading['margin']:+.3f} | "
                        f"{spread} ({reading['seeds']}) | {span} ({reading['items']}) | "
                        f"{'met' if reading['met'] else 'missed'} |")
    if not rows:
        return []
    header = ("| model | set | target (bound) | reading | bound | margin | seed s.e. (seeds) | 95 % item interval of "
              "the margin (items) | |")
    return [header, "|" + "---|" * 9] + rows + [""]
