"""Issue 20's targets read from ladder results (audiolm_lib/eval/targets.py) and bench/targets.py: readings,
bounds from the run's own references, seed spread and item intervals, on hand-made results whose answers are known."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audiolm_lib.eval.targets import seed_runs_by_model, target_readings, targets_markdown

ROOT = Path(__file__).resolve().parents[2]
RUNGS = ("real", "resynthesis", "acoustic", "pipeline")


def speech_item(set_name, number, speaker, voiced=0.4, dnsmos=2.0, different=0.55, same=0.85):
    rungs = {rung: {"speaker_similarity": same, "voiced_share": 0.8, "dnsmos_ovrl": 2.5} for rung in RUNGS}
    rungs["pipeline"] = {"speaker_similarity": speaker, "voiced_share": voiced, "dnsmos_ovrl": dnsmos}
    return {"id": f"{set_name}:{number}", "set": set_name, "rungs": rungs, "different_speaker_baseline": different}


def rows_of(items):
    """The ladder's rows: per set and rung the item means (baselines on every row), as oracle_ladder makes them."""
    rows = []
    for name in dict.fromkeys(item["set"] for item in items):
        group = [item for item in items if item["set"] == name]
        for rung in RUNGS:
            row = {"set": name, "rung": rung}
            for measure in group[0]["rungs"][rung]:
                row[measure] = sum(item["rungs"][rung][measure] for item in group) / len(group)
            for key in ("different_speaker_baseline", "white_noise_chroma_baseline"):
                if key in group[0]:
                    row[key] = sum(item[key] for item in group) / len(group)
            rows.append(row)
    return rows


def run_of(items, seed=0, domain="speech", name="speech"):
    return {"name": name, "config": {"seed": seed}, "ladder": {domain: {"rows": rows_of(items), "items": items}}}


def by_target(readings):
    return {(r["set"], r["target"]): r for r in readings}


def test_speech_bounds_come_from_the_runs_own_references():
    items = [speech_item("librivox", i, speaker=0.65, voiced=0.36, dnsmos=1.9) for i in range(3)]
    items += [speech_item("tts", i, speaker=0.69) for i in range(3)]
    readings = by_target(target_readings([run_of(items)]))
    speaker = readings[("librivox", "speaker similarity")]
    assert speaker["bound"] == pytest.approx(0.60) and speaker["margin"] == pytest.approx(0.05) and speaker["met"]
    voiced = readings[("librivox", "voiced share / real")]
    assert voiced["reading"] == pytest.approx(0.45) and voiced["margin"] == pytest.approx(-0.05) and not voiced["met"]
    assert readings[("librivox", "DNSMOS / resynthesis")]["reading"] == pytest.approx(0.76)
    # a synthetic set: halfway from the different speaker (0.55) to the same speaker (0.85), no voicing target
    halfway = readings[("tts", "speaker similarity")]
    assert halfway["bound"] == pytest.approx(0.70) and halfway["margin"] == pytest.approx(-0.01)
    assert ("tts", "voiced share / real") not in readings
    assert all(r["seeds"] == 1 and r["seed_se"] is None and r["items"] == 3 for r in readings.values())


def test_seed_spread_and_item_interval():
    one = [speech_item("librivox", i, speaker=0.62) for i in range(4)]
    two = [speech_item("librivox", i, speaker=0.66) for i in range(4)]
    reading = by_target(target_readings([run_of(one, 0), run_of(two, 1)]))[("librivox", "speaker similarity")]
    assert reading["margin"] == pytest.approx(0.04) and reading["seed_se"] == pytest.approx(0.02)
    # every item alike (after the seed mean): the interval is the margin itself
    assert reading["interval"] == pytest.approx((0.04, 0.04), abs=1e-9)
    # items that disagree widen it, around the margin; the wider their spread, the wider the interval
    widths = []
    for spread in (0.02, 0.08):
        items = [speech_item("librivox", i, speaker=0.64 + spread * (i - 1.5)) for i in range(4)]
        low, high = by_target(target_readings([run_of(items)]))[("librivox", "speaker similarity")]["interval"]
        assert low < 0.04 < high
        widths.append(high - low)
    assert widths[1] > 2 * widths[0]


def test_too_few_items_or_no_items_give_no_interval():
    items = [speech_item("asterisk", i, speaker=0.59) for i in range(2)]
    reading = by_target(target_readings([run_of(items)]))[("asterisk", "speaker similarity")]
    assert reading["items"] == 2 and reading["interval"] is None
    without_items = run_of(items)
    del without_items["ladder"]["speech"]["items"]
    reading = by_target(target_readings([without_items]))[("asterisk", "speaker similarity")]
    assert reading["items"] == 0 and reading["interval"] is None and reading["margin"] == pytest.approx(-0.01)


def piano_item(number, generated, real=0.9, noise=0.7, harmonic=0.85):
    rungs = {rung: {"chroma_similarity_to_prompt": real, "harmonic_ratio": 0.95} for rung in RUNGS}
    rungs["pipeline"] = {"chroma_similarity_to_prompt": generated, "harmonic_ratio": harmonic}
    return {"id": f"p{number}", "set": "piano-a", "rungs": rungs, "white_noise_chroma_baseline": noise}


def test_piano_targets_and_a_missing_noise_baseline():
    items = [piano_item(i, generated=0.78) for i in range(3)]
    readings = by_target(target_readings([run_of(items, domain="piano", name="piano")]))
    assert readings[("piano-a", "chroma similarity vs real")]["margin"] == pytest.approx(-0.02)
    assert readings[("piano-a", "chroma similarity vs noise")]["margin"] == pytest.approx(0.03)
    assert readings[("piano-a", "harmonic ratio / real")]["reading"] == pytest.approx(0.85 / 0.95)
    for item in items:  # a run from before the noise baseline: that one target is not read, the others are
        del item["white_noise_chroma_baseline"]
    readings = by_target(target_readings([run_of(items, domain="piano", name="piano")]))
    assert ("piano-a", "chroma similarity vs noise") not in readings and len(readings) == 2


def test_results_without_a_ladder_and_the_markdown():
    assert target_readings([{"name": "m", "codec": {}}]) == [] and targets_markdown({"m": [{"codec": {}}]}) == []
    with pytest.raises(ValueError, match="no runs"):
        target_readings([])
    results = {"runs": [], "seeds": [0, 1], "per_seed": {"1": {"runs": [run_of([speech_item("tts", 0, 0.8)], 1)]},
                                                         "0": {"runs": [run_of([speech_item("tts", 0, 0.6)], 0)]}}}
    models = seed_runs_by_model(results)
    assert [run["config"]["seed"] for run in models["speech"]] == [0, 1]
    lines = targets_markdown(models)
    assert lines[0].startswith("| model | set |") and "| speech | tts | speaker similarity" in lines[2]
    assert "+0.000" in lines[2] and "0.100 (2)" in lines[2] and lines[2].endswith("| met |")


def test_bench_targets_pools_files_and_refuses_a_seed_twice(tmp_path):
    paths = []
    for seed, speaker in ((0, 0.62), (1, 0.66)):
        path = tmp_path / f"s{seed}.json"
        items = [speech_item("librivox", i, speaker) for i in range(3)]
        path.write_text(json.dumps({"runs": [run_of(items, seed)], "per_seed": {str(seed): {"runs": [run_of(items, seed)]}}}))
        paths.append(path)
    script = [sys.executable, str(ROOT / "bench" / "targets.py")]
    done = subprocess.run(script + [str(p) for p in paths] + ["--json", str(tmp_path / "t.json")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    readings = json.loads((tmp_path / "t.json").read_text())["readings"]["speech"]
    speaker = next(r for r in readings if r["target"] == "speaker similarity")
    assert speaker["seeds"] == 2 and speaker["margin"] == pytest.approx(0.04)
    twice = subprocess.run(script + [str(paths[0]), str(paths[0])], capture_output=True, text=True, timeout=120)
    assert twice.returncode == 2 and "seed 0" in twice.stderr and "Traceback" not in twice.stderr
    missing = subprocess.run(script + [str(tmp_path / "none.json")], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no such results file" in missing.stderr
    no_ladder = tmp_path / "codec.json"
    no_ladder.write_text(json.dumps({"runs": [{"name": "speech", "codec": {}}]}))
    done = subprocess.run(script + [str(no_ladder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--sections ladder" in done.stderr
