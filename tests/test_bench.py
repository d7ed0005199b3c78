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


def test_codec_rows_of_every_codec_are_compared_with_the_peer_codec_and_summed_into_roundtrips():
    bench = load_run_module()
    ours = bench.add_roundtrip_rows({
        "codec_encode_10s": {"median_s": 0.5, "cpu_s": 0.9}, "codec_decode_10s": {"median_s": 0.7, "cpu_s": 1.1},
        "codec_spectral_encode_10s": {"median_s": 0.05}, "codec_spectral_decode_10s": {"median_s": 0.08},
        "codec_soundstream_encode_10s": {"median_s": 0.4},  # no decode row: no roundtrip
    })
    assert ours["codec_roundtrip_10s"]["median_s"] == pytest.approx(1.2)
    assert ours["codec_roundtrip_10s"]["cpu_s"] == pytest.approx(2.0)
    assert ours["codec_roundtrip_10s"]["realtime_factor"] == pytest.approx(10 / 1.2)
    assert ours["codec_spectral_roundtrip_10s"]["median_s"] == pytest.approx(0.13)
    assert "cpu_s" not in ours["codec_spectral_roundtrip_10s"]
    assert "codec_soundstream_roundtrip_10s" not in ours
    peer = bench.add_roundtrip_rows({"codec_encode_10s": {"median_s": 1.0}, "codec_decode_10s": {"median_s": 1.0}})
    ratios = bench.compare(ours, peer)
    assert ratios["codec_spectral_encode_10s"] == 20.0 and ratios["codec_spectral_roundtrip_10s"] == pytest.approx(15.38)
    assert ratios["codec_encode_10s"] == 2.0 and ratios["codec_roundtrip_10s"] == pytest.approx(1.67)
    verdicts = bench.check_targets(ours, ratios, with_peer=True)
    assert verdicts["codec_spectral_roundtrip_10s"]["met"] is True  # 0.13 s and 15x
    assert verdicts["codec_roundtrip_10s"]["met"] is False  # 1.2 s and 1.7x
    alone = bench.check_targets(ours, {}, with_peer=False)
    assert alone["codec_spectral_roundtrip_10s"]["met"] is None  # fast enough, the peer half unknown
    assert alone["codec_roundtrip_10s"]["met"] is False  # already slower than 0.15 s


def test_codec_bench_measures_the_named_codec_folder_and_both_families(tmp_path):
    """bench/bench_codec.py --codec DIR: the folder's codec in the main rows, both families beside it."""
    from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig

    tiny = SpectralCodec(SpectralCodecConfig(dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=8,
                                             upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16))
    tiny.save_pretrained(tmp_path / "model" / "codec")
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "bench_codec.py"), "--codec",
                           str(tmp_path / "model"), "--quick"], capture_output=True, text=True, timeout=600,
                          cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["codec_class"] == "SpectralCodec" and result["codec_folder"].endswith("model/codec")
    assert result["codec_encode_10s"]["levels"] == 3 and result["codec_encode_10s"]["frames"] == 500
    assert result["codec_spectral_decode_10s"]["levels"] == 12  # the default config, not the folder's
    assert result["codec_soundstream_encode_10s"]["codec"] == "SoundStream"
    for prefix in ("codec", "codec_spectral", "codec_soundstream"):
        for kind in ("encode", "decode"):
            assert result[f"{prefix}_{kind}_10s"]["median_s"] > 0
            assert result["codec_cpu_s"][f"{prefix}_{kind}_10s"] > 0
    bench = load_run_module()
    rows = bench.add_roundtrip_rows(bench.normalise_rows(result))
    assert {"codec_roundtrip_10s", "codec_spectral_roundtrip_10s", "codec_soundstream_roundtrip_10s"} <= set(rows)
    assert rows["codec_spectral_decode_10s"]["cpu_s"] == result["codec_cpu_s"]["codec_spectral_decode_10s"]
    assert rows["_meta"]["codec_class"] == "SpectralCodec"


def test_phase_iteration_rows_time_and_measure_each_count_and_restore_the_default():
    spec = importlib.util.spec_from_file_location("codec_phase_iterations",
                                                  REPO_ROOT / "bench" / "codec_phase_iterations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import math

    import torch

    from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig

    torch.manual_seed(0)
    codec = SpectralCodec(SpectralCodecConfig(dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=8,
                                              upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16))
    t = torch.arange(8000) / 16000
    clips = [{"id": "tone", "set": "synthetic", "domain": "piano", "sample_rate": 16000,
              "wave": 0.3 * torch.sin(2 * math.pi * 220 * t)}]
    codec.train()
    codec(clips[0]["wave"][None, None], num_levels=3)  # k-means initialised codebooks
    rows = module.iteration_rows(codec.eval(), clips, [0, 4], levels=3, speech_instruments=False)
    assert [row["phase_iterations"] for row in rows] == [0, 4] and codec.config.phase_iterations == 8
    assert all(row["decode_10s_cpu_s"] > 0 and row["set"] == "synthetic" for row in rows)
    assert rows[0]["mel_distance"] != rows[1]["mel_distance"]  # the count reached the decoder
    assert "| 4 |" in module.markdown(rows)


@pytest.mark.requires("librosa", "resemblyzer", "speechmos")
def test_codec_voicing_rows_of_a_lossless_codec_keep_every_voiced_frame():
    import torch

    spec = importlib.util.spec_from_file_location("codec_voicing", REPO_ROOT / "bench" / "codec_voicing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class SampleCodec:  # 16-bit samples as codes: a lossless round trip at any level count
        sample_rate, hop_length, codebook_size = 16000, 1, 65536

        def encode(self, wave):
            return (wave.clamp(-1, 1) * 32767).round().long().add(32768).repeat(1, 2, 1)

        def decode(self, codes):
            return (codes[:, :1].float() - 32768) / 32767

    t = torch.arange(16000) / 16000
    tone = sum(0.3 / k * torch.sin(2 * torch.pi * 120 * k * t) for k in range(1, 6))
    record, cents = module.clip_voicing(SampleCodec(), tone, [1, 2])
    assert record["voiced_share_original"] > 0.9 and record["median_f0_hz_original"] == pytest.approx(120, rel=0.02)
    assert record["levels_2"]["voicing_decision_error"] == 0 and record["levels_2"]["f0_error_cents"] == 0
    assert record["levels_2"]["speaker_similarity"] > 0.99 and "speaker_similarity" not in record["levels_1"]
    summary = module.set_summary([{"id": "a", **record}], {q: [cents[q]] for q in (1, 2)}, [1, 2])
    assert summary["levels_2"]["voiced_share_ratio"] == 1 and summary["levels_1"]["f0_error_cents_pooled_median"] == 0
    assert summary["levels_2"]["frames_voiced_in_both"] == len(cents[2]) > 50


def test_prompt_adaptation_bench_times_each_step_count(tmp_path):
    """bench/bench_prompt_adaptation.py on a tiny parallel model: one row per step count, int8 only without steps."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from tiny_pipeline import tiny_parallel_audiolm

    folder = tiny_parallel_audiolm().save_pretrained(tmp_path / "tiny")
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "bench_prompt_adaptation.py"), "--model",
                           str(folder), "--steps", "0,2", "--repeats", "1"], capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["rows"]) == {"steps_0", "steps_2"} and result["seconds"] == 7.0
    assert result["rows"]["steps_0"]["int8_acoustic"] and not result["rows"]["steps_2"]["int8_acoustic"]
    assert all(row["median_s"] > 0 and len(row["runs_s"]) == 1 for row in result["rows"].values())
    assert (result["parts"], result["learning_rate"], result["anchor_weight"]) == ("all", 1e-4, 0.0)  # the model's own
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "bench_prompt_adaptation.py"), "--model",
                           str(folder), "--steps", "2", "--repeats", "1", "--parts", "transformer", "--learning-rate",
                           "3e-4", "--anchor-weight", "2"], capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["parts"], result["learning_rate"], result["anchor_weight"], set(result["rows"])) == (
        "transformer", 3e-4, 2.0, {"steps_2"})


def test_prematch_probe_matches_each_voice_to_its_prompt_and_a_stranger_per_decoder(tmp_path):
    import numpy as np
    import soundfile as sf

    from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig

    spec = importlib.util.spec_from_file_location("prematch_probe", REPO_ROOT / "bench" / "prematch_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = tmp_path / "voices"
    (data / "audio").mkdir(parents=True)
    t = np.arange(9 * 16000) / 16000
    rows = []
    for index, (identity, f0, seconds) in enumerate([("a", 110, 9), ("a", 120, 9), ("a", 115, 9), ("b", 210, 9),
                                                      ("b", 200, 6)]):
        wave = sum(0.2 / k * np.sin(2 * np.pi * f0 * k * t[: seconds * 16000]) for k in range(1, 6))
        sf.write(data / "audio" / f"{index}.wav", wave.astype(np.float32), 16000)
        rows.append({"id": str(index), "audio": f"audio/{index}.wav", "duration": seconds, "split": "valid",
                     "identity": identity})
    rows.append(dict(rows[0], id="train", split="train"))
    (data / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    picked = module.pick_clips(data / "manifest.jsonl", per_identity=2, min_seconds=8)
    assert [clip["id"] for clip in picked] == ["0", "1", "3"]  # 2 of a, b's 6 s clip too short, train never

    tiny = SpectralCodecConfig(hop_length=320, n_fft=640, stft_hop=80, dim=16, encoder_depth=1, decoder_depth=1,
                               upsampler_dim=8, upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16)
    first = SpectralCodec(tiny)
    first.save_pretrained(tmp_path / "first")
    second = SpectralCodec(tiny)  # the same encoder and codebooks, another decoder: a decoder-only tune's case
    second.load_state_dict({name: value if name.startswith(("encoder", "quantizer")) else value + 0.05
                            for name, value in first.state_dict().items()})
    second.save_pretrained(tmp_path / "second")
    out = tmp_path / "probe.json"
    assert module.main(["--codec", str(tmp_path / "first"), "--codec", str(tmp_path / "second"), "--manifest",
                        str(data / "manifest.jsonl"), "--per-identity", "2", "--json", str(out)]) == 0
    (_, per_codec), = json.loads(out.read_text())["sets"].items()
    assert len(per_codec) == 2
    for rows in per_codec.values():
        assert set(rows) == {"resynthesis", "matched", "stranger_matched"}
        assert all(row["items"] == 3 for row in rows.values())
        for row in rows.values():
            assert 1 <= row["ovrl"] <= 5 and -1 <= row["speaker"] <= 1 and 0 <= row["voiced"] <= 1
    first_rows, second_rows = per_codec.values()
    assert first_rows["resynthesis"] != second_rows["resynthesis"]  # each decoder renders the same codes its way
