"""Markdown tables of quality-benchmark results (:func:`audiolm_lib.eval.suite.run_suite`), one or several models.

The tables put every measure next to its reference: re-synthesis WER and voiced share next to the original's, a
continuation's speaker similarity next to the same- and different-speaker baselines, DNSMOS, voiced share and music
measures as ``generated / real / re-synthesis``. F0 errors are the median absolute error in cents on the frames
voiced in both (:mod:`audiolm_lib.eval.voicing`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _num(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _triple(row: Mapping, stem: str, columns=("generated", "real", "resynthesis"), digits: int = 2) -> str:
    return " / ".join(_num(row.get(f"{stem}_{column}"), digits) for column in columns if f"{stem}_{column}" in row)


def _name(results: Mapping) -> str:
    return str(results.get("name") or results.get("model"))


def _table(header: Sequence[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def codec_table(runs: Sequence[Mapping]) -> list[str]:
    header = ["model", "set", "levels", "kbps", "ViSQOL speech mode", "ViSQOL audio mode", "PESQ-wb", "STOI",
              "SI-SDR (dB)", "mel dist.", "WER orig. → resynth.", "speaker sim.", "voiced share orig. → resynth.",
              "voicing err.", "F0 err. (cents)"]
    rows = []
    for results in runs:
        for row in results.get("codec", {}).get("rows", []):
            wer, voiced = "–", "–"
            if "wer" in row:
                wer = f"{_num(row.get('wer_original'))} → {_num(row['wer'])}"
            if "voiced_share" in row:
                voiced = f"{_num(row.get('voiced_share_original'))} → {_num(row['voiced_share'])}"
            rows.append([_name(results), row["set"], str(row["levels"]), _num(row["kbps"], 1),
                         _num(row.get("visqol_speech")), _num(row.get("visqol_audio")), _num(row.get("pesq_wb")),
                         _num(row.get("stoi")), _num(row.get("si_sdr"), 1), _num(row.get("mel_distance")), wer,
                         _num(row.get("speaker_similarity")), voiced, _num(row.get("voicing_decision_error")),
                         _num(row.get("f0_error_cents"), 0)])
    return _table(header, rows) if rows else []


def speech_continuation_table(runs: Sequence[Mapping]) -> list[str]:
    header = ["model", "set", "items", "speaker sim.: continuation \\| same \\| different speaker",
              "DNSMOS OVRL gen. / real / resynth.", "SIG", "BAK", "voiced share gen. / real / resynth.",
              "F0 err. vs real (cents) gen. / resynth.", "words/s gen. / real"]
    rows = []
    for results in runs:
        for row in results.get("speech_continuation", {}).get("rows", []):
            speaker = " \\| ".join(_num(row.get(key)) for key in
                                   ("speaker_similarity", "same_speaker_baseline", "different_speaker_baseline"))
            rows.append([_name(results), row["set"], str(row["items"]), speaker, _triple(row, "dnsmos_ovrl"),
                         _triple(row, "dnsmos_sig"), _triple(row, "dnsmos_bak"), _triple(row, "voiced_share"),
                         _triple(row, "f0_error_cents", ("generated", "resynthesis"), 0),
                         _triple(row, "words_per_second", ("generated", "real"), 1)])
    return _table(header, rows) if rows else []


def piano_continuation_table(runs: Sequence[Mapping]) -> list[str]:
    header = ["model", "set", "items", "harmonic ratio", "spectral flatness", "chroma sim. to prompt",
              "chroma top-3 share", "onsets/s"]
    rows = []
    for results in runs:
        for row in results.get("piano_continuation", {}).get("rows", []):
            rows.append([_name(results), row["set"], str(row["items"]), _triple(row, "harmonic_ratio"),
                         _triple(row, "spectral_flatness", digits=3), _triple(row, "chroma_similarity_to_prompt"),
                         _triple(row, "chroma_top3_ratio"), _triple(row, "onset_rate", digits=1)])
    return _table(header, rows) if rows else []


RUNG_LABELS = {"real": "a. real", "resynthesis": "b. codec resynthesis (true codes)",
               "acoustic": "c. acoustic generator (true semantic)", "pipeline": "d. full pipeline"}


def ladder_speech_table(runs: Sequence[Mapping]) -> list[str]:
    header = ["model", "set", "rung", "voiced share", "voicing err. vs real", "F0 err. vs real (cents)",
              "speaker sim. to prompt (different speaker)", "DNSMOS OVRL", "SIG", "BAK"]
    rows = []
    for results in runs:
        for row in results.get("ladder", {}).get("speech", {}).get("rows", []):
            speaker = f"{_num(row.get('speaker_similarity'))} ({_num(row.get('different_speaker_baseline'))})"
            rows.append([_name(results), row["set"], RUNG_LABELS.get(row["rung"], row["rung"]),
                         _num(row.get("voiced_share")), _num(row.get("voicing_decision_error")),
                         _num(row.get("f0_error_cents"), 0), speaker, _num(row.get("dnsmos_ovrl")),
                         _num(row.get("dnsmos_sig")), _num(row.get("dnsmos_bak"))])
    return _table(header, rows) if rows else []


def ladder_piano_table(runs: Sequence[Mapping]) -> list[str]:
    header = ["model", "set", "rung", "harmonic ratio", "spectral flatness", "chroma sim. to prompt (white noise)",
              "chroma agreement with real", "onsets/s"]
    rows = []
    for results in runs:
        for row in results.get("ladder", {}).get("piano", {}).get("rows", []):
            rows.append([_name(results), row["set"], RUNG_LABELS.get(row["rung"], row["rung"]),
                         _num(row.get("harmonic_ratio")), _num(row.get("spectral_flatness"), 3),
                         f"{_num(row.get('chroma_similarity_to_prompt'))} ({_num(row.get('white_noise_chroma_baseline'))})",
                         _num(row.get("chroma_agreement_with_real")),
                         _num(row.get("onset_rate"), 1)])
    return _table(header, rows) if rows else []


def teacher_forced_table(runs: Sequence[Mapping]) -> list[str]:
    header = ["model", "set", "items", "cross-entropy per level (nats)", "accuracy per level",
              "clip's unigram per level (nats)", "uniform ln K"]
    rows = []
    for results in runs:
        for domain in ("speech", "piano"):
            levels = results.get("ladder", {}).get(domain, {}).get("levels", [])
            for name in dict.fromkeys(row["set"] for row in levels):
                group = [row for row in levels if row["set"] == name]
                joined = lambda key, digits=2: ", ".join(_num(row.get(key), digits) for row in group)  # noqa: E731
                rows.append([_name(results), name, str(group[0]["items"]), joined("cross_entropy"),
                             joined("accuracy", 3), joined("unigram_cross_entropy"),
                             _num(group[0].get("uniform_cross_entropy"))])
    return _table(header, rows) if rows else []


def usage_table(runs: Sequence[Mapping]) -> list[str]:
    header = ["model", "domain", "codebook perplexity per level", "share of codes used per level"]
    rows = []
    for results in runs:
        for domain, usage in results.get("codec", {}).get("codebook_usage", {}).items():
            rows.append([_name(results), domain, ", ".join(f"{u['perplexity']:.0f}" for u in usage),
                         ", ".join(f"{u['fraction_used']:.2f}" for u in usage)])
    return _table(header, rows) if rows else []


def quality_markdown(runs: Sequence[Mapping] | Mapping, title: str | None = "Quality on held-out data",
                     seed_runs: Mapping[str, Sequence[Mapping]] | None = None) -> str:
    """One or several :func:`~audiolm_lib.eval.suite.run_suite` results -> Markdown (codec, continuations, usage,
    the oracle ladder and the continuation targets read from it, :mod:`audiolm_lib.eval.targets`).

    ``seed_runs``: ``{model name: its run per sampling seed}`` (:func:`~audiolm_lib.eval.targets.seed_runs_by_model`)
    where ``runs`` are means over seeds: the targets are read per seed; default: each run as one seed.
    """
    from audiolm_lib.eval.targets import targets_markdown

    runs = [runs] if isinstance(runs, Mapping) else list(runs)
    if not runs:
        raise ValueError("no results to tabulate")
    lines = [f"## {title}", ""] if title else []
    sections = (("Codec re-synthesis per number of RVQ levels", codec_table),
                ("Speech continuations (generated / real continuation / its codec re-synthesis)", speech_continuation_table),
                ("Piano continuations (generated / real continuation / its codec re-synthesis)", piano_continuation_table),
                ("Codebook usage on the held-out clips", usage_table),
                ("Oracle ladder, speech: each rung one stage further from the truth (measures against the real "
                 "continuation and the prompt)", ladder_speech_table),
                ("Oracle ladder, piano", ladder_piano_table),
                ("Oracle ladder c': the acoustic generator's teacher-forced cross-entropy per level (prompt and true "
                 "semantic tokens given, levels below given, the level and those above masked)", teacher_forced_table))
    for heading, make in sections:
        table = make(runs)
        if table:
            lines += [f"**{heading}**", ""] + table
    targets = targets_markdown(seed_runs if seed_runs is not None else {_name(run): [run] for run in runs})
    if targets:
        lines += ["**Continuation targets at rung d (issue 20's; margin = reading - bound, with its seed-to-seed "
                  "standard error and a 95 % bootstrap interval over the set's items)**", ""] + targets
    timing = ", ".join(f"{_name(r)}: {r['timing']['total_s']:.0f} s" for r in runs if "timing" in r)
    if timing:
        lines += [f"Run time ({'quick' if runs[0].get('quick') else 'full'}): {timing}.", ""]
    return "\n".join(lines)
