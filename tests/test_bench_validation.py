"""bench/validation_ladder.py and bench/semantic_chroma_content.py: the validation split only, decoding settings
applied, the per-item speaker reading, and chroma recall that tells harmony-carrying ids from others."""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chord_dataset(folder, splits):
    from audiolm_lib.datasets.manifest import write_manifest

    (folder / "audio").mkdir(parents=True)
    rate, entries = 16000, []
    t = np.arange(2 * rate) / rate
    chords = [(60, 64, 67), (62, 65, 69), (57, 60, 64), (55, 59, 62)]
    for index, split in enumerate(splits):
        chord = chords[index % len(chords)]
        wave = sum(0.2 * np.sin(2 * np.pi * 440 * 2 ** ((n - 69) / 12) * t) for n in chord).astype(np.float32)
        sf.write(folder / "audio" / f"c{index}.wav", wave, rate)
        entries.append({"id": f"c{index}", "audio": f"audio/c{index}.wav", "split": split, "speaker": f"s{index % 2}",
                        "sample_rate": rate})
    write_manifest(folder / "manifest.jsonl", entries)
    return folder / "manifest.jsonl"


def test_validation_clips_read_only_the_split_and_cap_each_speaker(tmp_path):
    bench = _load("validation_ladder")
    manifest = _chord_dataset(tmp_path / "set", ["train", "valid", "valid", "valid", "valid", "train"])
    clips = bench.validation_clips(manifest, "valid", max_per_speaker=1)
    assert [clip["id"] for clip in clips] == ["c1", "c2"] and {clip["set"] for clip in clips} == {"set"}
    assert clips[0]["wave"].shape == (32000,)
    from audiolm_lib.datasets.manifest import split_clips

    assert [entry["id"] for entry, _ in split_clips(manifest, "valid", 16000, limit=3)] == ["c1", "c2", "c3"]
    assert [entry["id"] for entry, _ in split_clips(manifest, "train", 8000)] == ["c0", "c5"]
    assert split_clips(manifest, "train", 8000)[0][1].shape == (16000,)  # read at the rate asked for


def test_settings_reach_the_generator_and_unknown_fields_are_refused():
    from audiolm_lib.demo import tiny_random_audiolm

    bench = _load("validation_ladder")
    model = tiny_random_audiolm()
    field = "choice_temperature" if hasattr(model.acoustic.config, "choice_temperature") else None
    setting = {"temperature": "0.5", **({field: "0.25"} if field else {})}
    bench.apply_setting(model, setting)
    assert model.config.acoustic.temperature == 0.5
    if field:
        assert model.acoustic.config.choice_temperature == 0.25
    bench.apply_setting(model, {"voice_match": "1", "voice_match_continuity": "0.05", "voice_match_neighbours": "2",
                                "voice_match_strength": "0.75", "voice_match_method": "statistics",
                                "voice_match_prior_frames": "3"})  # the pipeline's own, each read as its type
    assert model.config.voice_match is True and model.config.voice_match_continuity == 0.05
    assert model.config.voice_match_neighbours == 2 and isinstance(model.config.voice_match_neighbours, int)
    assert model.config.voice_match_strength == 0.75 and model.config.voice_match_method == "statistics"
    assert model.config.voice_match_prior_frames == 3 and isinstance(model.config.voice_match_prior_frames, int)
    bench.apply_setting(model, {"prompt_adaptation_steps": "60", "prompt_adaptation_learning_rate": "3e-4"})
    assert model.config.prompt_adaptation_steps == 60 and isinstance(model.config.prompt_adaptation_steps, int)
    assert model.config.prompt_adaptation_learning_rate == 3e-4
    bench.apply_setting(model, {"prompt_band_hz": "4000"})  # unset (None) before: read as a number
    assert model.config.prompt_band_hz == 4000.0
    bench.apply_setting(model, {"prompt_band_hz": "none", "prompt_band_mode": "extend"})
    assert model.config.prompt_band_hz is None and model.config.prompt_band_mode == "extend"
    bench.apply_setting(model, {"generated_levels": "2"})  # an optional field, unset: read as an integer
    assert model.acoustic.config.generated_levels == 2
    bench.apply_setting(model, {"top_p": "0.9", "top_k": "20", "window_anchor_seconds": "0.5"})
    assert (model.config.acoustic.top_p, model.config.acoustic.top_k) == (0.9, 20)
    assert model.acoustic.config.window_anchor_seconds == 0.5
    bench.apply_setting(model, {"top_k": "none"})
    assert model.config.acoustic.top_k is None
    semantic_before = model.config.semantic.temperature
    bench.apply_setting(model, {"semantic.temperature": "0.7", "semantic.top_p": "0.9", "acoustic.top_k": "5"})
    assert (model.config.semantic.temperature, model.config.semantic.top_p) == (0.7, 0.9) != (semantic_before, None)
    assert model.config.acoustic.top_k == 5 and model.config.acoustic.top_p == 0.9
    if hasattr(model.acoustic.config, "steps_per_level"):  # a tuple field
        bench.apply_setting(model, {"steps_per_level": "32/2"})
        assert model.acoustic.config.steps_per_level == (32, 2)
    window, hop = model.semantic_lm.window, model.semantic_lm.hop
    bench.apply_setting(model, {"semantic.window_hop_fraction": "0.25"})  # the sliding window reads its config
    assert model.semantic_lm.window == window and model.semantic_lm.hop == max(1, round(window * 0.25)) != hop
    with pytest.raises(SystemExit, match="not a decoding field"):
        bench.apply_setting(model, {"no_such_field": "1"})


def test_closer_to_prompt_share_counts_items_above_the_other_speaker():
    bench = _load("validation_ladder")
    items = [{"set": "a", "different_speaker_baseline": 0.5, "rungs": {"pipeline": {"speaker_similarity": s}}}
             for s in (0.6, 0.4, 0.7, None)]
    assert bench.closer_to_prompt_share({"items": items}, "pipeline") == {"a": pytest.approx(2 / 3)}


def test_chroma_ids_recall_the_harmony_better_than_ids_that_ignore_it(tmp_path):
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer, fit_tokenizer

    bench = _load("semantic_chroma_content")
    manifest = _chord_dataset(tmp_path / "set", ["train"] * 8 + ["valid"] * 4)
    train, valid = bench.clips(manifest, "train", 100), bench.clips(manifest, "valid", 100)
    files = sorted((tmp_path / "set" / "audio").glob("*.wav"))[:8]
    chroma = fit_tokenizer(files, "chroma", 4, seed=0, progress=False)
    blind = SemanticTokenizer.from_features(chroma.features, torch.zeros(1, chroma.features.dim))  # one id for all
    with torch.inference_mode():
        good, none = bench.measure(chroma, train, valid), bench.measure(blind, train, valid)
    assert good["chroma_recall"] > 0.95 and good["top_class_accuracy"] > 0.6
    assert none["chroma_recall"] == pytest.approx(none["chroma_of_the_mean"], abs=1e-6)
    assert good["chroma_recall"] > none["chroma_recall"] + 0.2
    assert math.isclose(good["valid_frames"], none["valid_frames"])


def test_the_default_geometry_is_the_held_out_items_one():
    bench = _load("validation_ladder")
    assert bench.heldout_geometry("piano") == (4.0, 6.0)  # 10 s held-out pieces, 4 s prompts
    assert bench.heldout_geometry("speech") == (3.0, 5.0)


class _PitchIds:
    """A stand-in tokenizer whose ids name the clip's pitch (``voiced``: the voice) or ignore it (random ids)."""

    vocab_size = 16

    def __init__(self, voiced: bool):
        self.voiced, self.generator = voiced, torch.Generator().manual_seed(0)

    def tokenize(self, wave, rate):
        frames = wave.shape[-1] // 320
        noise = torch.randint(0, self.vocab_size, (frames,), generator=self.generator)
        if not self.voiced:
            return noise[None]
        pitch = int(torch.fft.rfft(wave[0, 0]).abs().argmax()) * rate // wave.shape[-1]
        ids = torch.where(torch.rand(frames, generator=self.generator) < 0.7, torch.tensor(pitch // 50 % 16), noise)
        return ids[None]


def test_voice_content_tells_ids_that_name_the_voice_from_ids_that_do_not():
    bench = _load("semantic_voice_content")
    t = np.arange(3 * 16000) / 16000
    data = [(f"voice{v}", (0.3 * np.sin(2 * np.pi * (100 + 50 * v) * t)).astype(np.float32))
            for v in range(6) for _ in range(2)]
    voiced, blind = bench.measure(_PitchIds(True), data), bench.measure(_PitchIds(False), data)
    assert voiced["voice_auc"] > 0.95 and voiced["voice_gap"] > 0.3
    assert abs(blind["voice_auc"] - 0.5) < 0.2 and abs(blind["voice_gap"]) < 0.1
    assert (voiced["clips"], voiced["voices"], blind["ids_used"]) == (12, 6, 16)
    assert blind["id_entropy"] > voiced["id_entropy"]  # random ids are spread over the vocabulary


def test_quality_benchmark_seed_reaches_the_suite(monkeypatch, tmp_path):
    """bench/quality.py --seed: the suite samples continuation item i with item_seed(seed, i) (default 0, the committed
    runs')."""
    import audiolm_lib.eval.suite as suite

    class Stop(Exception):
        pass

    seen = []

    def run_suites(models, config, data):
        seen.append(config)
        raise Stop  # the settings are all this test reads

    monkeypatch.setattr(suite, "run_suites", run_suites)
    quality = _load("quality")
    for extra in (["--seed", "7"], []):
        with pytest.raises(Stop):
            quality.main([str(tmp_path), "--sections", "continuation", *extra])
    assert [config.seed for config in seen] == [7, 0] and seen[0].sections == ("continuation",)


def test_mean_over_seeds_averages_every_table_number_and_keeps_rows_aligned():
    from audiolm_lib.eval.seeds import mean_over_seeds, parse_seeds

    def run(seed, rung="pipeline"):
        return {"name": "speech", "config": {"seed": seed, "threads": 2},
                "speech_continuation": {"rows": [{"set": "librivox", "items": 1, "speaker_similarity": 0.5 + seed / 10,
                                                  "voiced_share_generated": None if seed else 0.2}],
                                        "items": [{"id": "x", "seed": seed}]},
                "ladder": {"speech": {"rows": [{"set": "librivox", "rung": rung, "dnsmos_ovrl": 2.0 + seed}]}}}

    mean = mean_over_seeds([run(0), run(1), run(2)], [0, 1, 2])
    row = mean["speech_continuation"]["rows"][0]
    assert row["set"] == "librivox" and row["items"] == 1 and isinstance(row["items"], int)
    assert row["speaker_similarity"] == pytest.approx(0.6)
    assert row["voiced_share_generated"] == pytest.approx(0.2)  # a reading missing on some seeds: the others' mean
    assert mean["ladder"]["speech"]["rows"][0]["dnsmos_ovrl"] == pytest.approx(3.0)
    assert "items" not in mean["speech_continuation"] and mean["config"] == {"seed": [0, 1, 2], "threads": 2}
    with pytest.raises(ValueError, match="rung"):
        mean_over_seeds([run(0), run(1, rung="acoustic")], [0, 1])
    with pytest.raises(ValueError, match="one run per seed"):
        mean_over_seeds([run(0)], [0, 1])
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4] and parse_seeds("0, 2,5") == [0, 2, 5]
    for bad in ("", "a", "-1", "1,1", "3-1"):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)


def test_item_seeds_of_different_run_seeds_never_share_a_stream():
    """Item i of seed s once drew item i + 1 of seed s - 1's numbers; seed 0 keeps the committed runs' i."""
    from audiolm_lib.eval.seeds import item_seed

    assert [item_seed(0, i) for i in range(5)] == [0, 1, 2, 3, 4]
    streams = [item_seed(seed, index) for seed in range(10) for index in range(200)]
    assert len(set(streams)) == len(streams)
    with pytest.raises(ValueError, match="seed"):
        item_seed(-1, 0)


def test_quality_benchmark_seeds_tabulate_the_means(monkeypatch, tmp_path):
    import json

    import audiolm_lib.eval.quality_tables as tables
    import audiolm_lib.eval.suite as suite

    def run_suites(models, config, data):
        return {"runs": [{"name": "m", "config": {"seed": config.seed},
                          "speech_continuation": {"rows": [{"set": "s", "speaker_similarity": config.seed / 10}]}}]}

    titles, received = [], []
    monkeypatch.setattr(suite, "run_suites", run_suites)
    monkeypatch.setattr(tables, "quality_markdown",
                        lambda runs, title, seed_runs=None: titles.append(title) or received.append(seed_runs) or "")
    out = tmp_path / "q.json"
    assert _load("quality").main(["m", "--seeds", "1-3", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["seeds"] == [1, 2, 3] and sorted(results["per_seed"]) == ["1", "2", "3"]
    assert results["runs"][0]["speech_continuation"]["rows"][0]["speaker_similarity"] == pytest.approx(0.2)
    assert "means over sampling seeds [1, 2, 3]" in titles[0]
    # the targets are read per seed, not from the means
    assert [run["config"]["seed"] for run in received[0]["m"]] == [1, 2, 3]
    with pytest.raises(ValueError, match="seeds"):
        _load("quality").main(["m", "--seeds", "x"])


def test_validation_ladder_reads_the_targets_on_its_sets(monkeypatch, tmp_path):
    """Each setting's run carries the held-out targets read on the validation sets; a set named by --synthetic-sets
    is held to the halfway speaker target, the others to the recorded voices' ones. The two sets name their speakers
    alike (s0, s1): each set's speakers make that set's items."""
    import json

    import audiolm_lib.eval.oracle_ladder as ladder
    from audiolm_lib.demo import tiny_random_audiolm
    from audiolm_lib.pipeline import AudioLM

    bench = _load("validation_ladder")
    manifests = [_chord_dataset(tmp_path / name, ["valid"] * 4) for name in ("voices", "tts")]

    def fake_ladder(model, items, domain, seed=0):
        results = []
        for number, item in enumerate(items):
            rungs = {rung: {"speaker_similarity": 0.9, "voiced_share": 0.8, "dnsmos_ovrl": 2.5}
                     for rung in ladder.RUNGS}
            rungs["pipeline"] = {"speaker_similarity": 0.66, "voiced_share": 0.6, "dnsmos_ovrl": 2.25}
            results.append({"id": f"{item['set']}{number}", "set": item["set"], "rungs": rungs,
                            "different_speaker_baseline": 0.5})
        rows = [{"set": name, "rung": rung, **results[0]["rungs"][rung], "different_speaker_baseline": 0.5}
                for name in dict.fromkeys(r["set"] for r in results) for rung in ladder.RUNGS]
        return {"rows": rows, "levels": [], "items": results}

    monkeypatch.setattr(ladder, "oracle_ladder", fake_ladder)
    monkeypatch.setattr(AudioLM, "from_pretrained", classmethod(lambda cls, path: tiny_random_audiolm()))
    out = tmp_path / "v.json"
    monkeypatch.setattr(sys, "argv", ["validation_ladder.py", str(tmp_path / "model"), "--manifest", str(manifests[0]),
                                      "--manifest", str(manifests[1]), "--prompt-seconds", "0.5",
                                      "--continuation-seconds", "1.5", "--synthetic-sets", "tts", "--json", str(out)])
    bench.main()
    targets = {(t["set"], t["target"]): t for t in json.loads(out.read_text())["runs"][0]["targets"]}
    assert targets[("voices", "speaker similarity")]["bound"] == pytest.approx(0.55)  # different speaker + 0.05
    assert targets[("tts", "speaker similarity")]["bound"] == pytest.approx(0.70)  # halfway from 0.5 to 0.9
    assert targets[("voices", "voiced share / real")]["reading"] == pytest.approx(0.75)
    assert ("tts", "voiced share / real") not in targets
    assert json.loads(out.read_text())["items"] == 8  # 2 sets x 2 speakers x 2 stretches
    assert targets[("tts", "DNSMOS / resynthesis")]["margin"] == pytest.approx(0.1)
