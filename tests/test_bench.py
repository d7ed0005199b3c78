"""The benchmark aggregator (bench/run.py) and the ``audiolm bench`` command."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_SCRIPT = REPO_ROOT / "bench" / "run.py"


def load_run_module():
    spec = importlib.util.spec_from_file_location("bench_run", RUN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_normalise_rows_accepts_numbers_and_dicts_and_derives_throughput():
    bench = load_run_module()
    rows = bench.normalise_rows(
        {
            "gen_fine_100f": {"seconds": 0.4, "peak_rss_mb": 300.0},
            "codec_encode_10s": 0.5,
            "tokens_per_s_fine": 2000.0,  # a part's own throughput is not a row
            "tokenize_10s": None,  # optional dependency missing
            "codec_params": 10_494_209,  # an extra scalar, not a row
            "meta_cpu_s": {"gen_fine_100f": 0.7},
            "meta": {"threads": 2},
        },
        part_peak_rss_mb=512.0,
    )
    assert rows["gen_fine_100f"]["median_s"] == 0.4
    assert rows["gen_fine_100f"]["tokens_per_s"] == pytest.approx(800 / 0.4)
    assert rows["gen_fine_100f"]["peak_rss_mb"] == 300.0  # the row's own peak wins
    assert rows["codec_encode_10s"] == {
        "median_s": 0.5, "peak_rss_mb": 512.0, "peak_rss_scope": "whole part process", "realtime_factor": 20.0,
    }
    assert rows["tokenize_10s"]["median_s"] is None and "reason" in rows["tokenize_10s"]
    assert rows["gen_fine_100f"]["cpu_s"] == 0.7
    assert set(rows) == {"gen_fine_100f", "codec_encode_10s", "tokenize_10s", "_meta"}
    assert rows["_meta"] == {"meta": {"threads": 2}, "tokens_per_s_fine": 2000.0, "codec_params": 10_494_209,
                             "meta_cpu_s": {"gen_fine_100f": 0.7}}


def test_compare_and_targets_use_peer_over_ours():
    bench = load_run_module()
    ours = {"gen_semantic_100": {"median_s": 0.5}, "train_step_fine": {"median_s": 1.0},
            "e2e_1s_to_3s": {"median_s": 2.0}, "codec_decode_10s": {"median_s": 2.0, "realtime_factor": 5.0}}
    peer = {"gen_semantic_100": {"median_s": 10.0}, "train_step_fine": {"median_s": 3.0},
            "codec_decode_10s": {"median_s": None}}
    ratios = bench.compare(ours, peer)
    assert ratios == {"gen_semantic_100": 20.0, "train_step_fine": 3.0}
    verdicts = bench.check_targets(ours, ratios, with_peer=True)
    assert verdicts["gen_semantic_100"]["met"] is True
    assert verdicts["train_step_fine"]["met"] is False  # needs >= 4x
    assert verdicts["e2e_1s_to_3s"]["met"] is True
    assert verdicts["codec_decode_10s"]["met"] is False  # 5x real time < 10x
    assert verdicts["gen_coarse_100f"]["met"] is None  # not measured
    assert bench.check_targets(ours, {}, with_peer=False)["gen_semantic_100"]["met"] is None


def test_missing_part_reports_null_rows_with_reason(tmp_path, monkeypatch):
    bench = load_run_module()
    monkeypatch.setattr(bench, "BENCH_DIR", tmp_path)
    rows = bench.run_part("codec", "cpu", quick=True, timeout=5)
    assert set(rows) == {"codec_encode_10s", "codec_decode_10s"}
    assert all(row["median_s"] is None and "not present" in row["reason"] for row in rows.values())


def test_unknown_part_is_a_clear_error():
    done = subprocess.run([sys.executable, str(RUN_SCRIPT), "--only", "nonsense"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "unknown benchmark parts ['nonsense']" in done.stderr


@pytest.mark.slow
def test_quick_e2e_run_prints_positive_timings():
    """The whole path: worker subprocess, the real pipeline, normalisation, bounds, targets (tiny sizes)."""
    done = subprocess.run([sys.executable, str(RUN_SCRIPT), "--only", "e2e", "--quick"], capture_output=True,
                          text=True, timeout=600, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["quick"] is True and result["machine"]["threads"] == 2
    assert list(result["rows"]) == ["e2e_1s_to_3s"]
    row = result["rows"]["e2e_1s_to_3s"]
    assert isinstance(row["median_s"], float) and row["median_s"] > 0, row
    assert row["output_s"] == pytest.approx(1.0)  # 0.5 s prompt + 0.5 s continuation in quick mode
    assert row["realtime_factor"] == pytest.approx(row["output_s"] / row["median_s"])
    assert row["peak_rss_mb"] > 0 and row["runs"] == 1
    assert result["bounds"]["decoder_weights_per_token"] > 3_000_000
    assert result["targets"]["e2e_1s_to_3s"]["met"] is None  # quick sizes are not the target's sizes
    assert result["targets"]["e2e_1s_to_3s"]["value"] == row["median_s"]


def test_bench_command_finds_the_checkout_and_explains_when_it_cannot(tmp_path, monkeypatch):
    import audiolm_lib
    from audiolm_lib.cli.bench import find_bench_script

    assert find_bench_script() == RUN_SCRIPT
    monkeypatch.setattr(audiolm_lib, "__file__", str(tmp_path / "site-packages" / "audiolm_lib" / "__init__.py"))
    with pytest.raises(FileNotFoundError, match="pip install -e"):
        find_bench_script()


def test_peer_without_its_venv_says_how_to_make_it(tmp_path):
    bench = load_run_module()
    result = bench.run_peer("cpu", True, tmp_path / "missing" / "python", ["gen_semantic_100"], timeout=5)
    assert "rows" not in result and "bash bench/peer/setup_peer_env.sh" in result["error"]
