"""The oracle ladder on tiny random pipelines (the shipped architecture, and coarse + fine) and synthetic items:
every rung with every measure, the real rung against itself, seeds (on the waves: the measures are deterministic
functions of them), and the teacher-forced cross-entropy against the training loss's own masking."""
import math

import pytest
import torch
import torch.nn.functional as F

from audiolm_lib.eval.oracle_ladder import (
    LEVEL_MEASURES,
    PIANO_MEASURES,
    RUNGS,
    SPEECH_MEASURES,
    ladder_waves,
    oracle_ladder,
    teacher_forced_levels,
)
from audiolm_lib.eval.quality_tables import quality_markdown
from audiolm_lib.lm.masking import TrainingMask
from tiny_pipeline import tiny_audiolm, tiny_shipped_audiolm

RATE = 16000


def voiced(seconds: float, f0: float) -> torch.Tensor:
    """A harmonic tone with a slow tremolo (speech-like: voiced, with a pitch pYIN finds)."""
    t = torch.arange(int(seconds * RATE)) / RATE
    tone = sum(0.3 / k * torch.sin(2 * torch.pi * f0 * k * t) for k in range(1, 6))
    return tone * (0.6 + 0.4 * torch.sin(2 * torch.pi * 3 * t))


def items(domain: str) -> list[dict]:
    return [{"id": f"{domain}{n}", "set": "synthetic", "speaker": f"s{n}", "sample_rate": RATE,
             "prompt": voiced(1.5, f0), "real": voiced(1.2, f0)} for n, f0 in enumerate((140.0, 220.0))]


@pytest.fixture(scope="module")
def parallel_model():
    return tiny_shipped_audiolm()


@pytest.mark.slow
@pytest.mark.requires("librosa", "resemblyzer", "speechmos")
def test_speech_ladder_has_every_rung_and_measure(parallel_model):
    ladder = oracle_ladder(parallel_model, items("speech"), "speech", seed=3, progress=False)
    rows = {row["rung"]: row for row in ladder["rows"]}
    assert set(rows) == set(RUNGS) and all(row["items"] == 2 for row in rows.values())
    for item in ladder["items"]:
        assert set(item["rungs"]) == set(RUNGS)
        for measures in item["rungs"].values():
            assert set(measures) == set(SPEECH_MEASURES)
        real = item["rungs"]["real"]
        assert real["voiced_share"] > 0.8 and real["voicing_decision_error"] == 0 and real["f0_error_cents"] == 0
        assert item["different_speaker_baseline"] is not None and len(item["teacher_forced"]) == 4
    assert rows["real"]["dnsmos_ovrl"] is not None and rows["pipeline"]["speaker_similarity"] is not None
    markdown = quality_markdown({"name": "tiny", "ladder": {"speech": ladder}}, title=None)
    assert "| tiny | synthetic | a. real | " in markdown and "d. full pipeline" in markdown
    assert "teacher-forced cross-entropy" in markdown


def test_ladder_waves_are_seeded_and_of_one_length(parallel_model):
    prompt, real = voiced(1.5, 150.0), voiced(1.2, 150.0)
    waves, tokens = ladder_waves(parallel_model, prompt, real, seed=1)
    assert list(waves) == list(RUNGS) and len({len(wave) for wave in waves.values()}) == 1
    assert torch.equal(waves["real"], real[: len(waves["real"])])
    assert tokens["prompt_frames"] == 75 and tokens["codes"].shape[1] == 4
    same, _ = ladder_waves(parallel_model, prompt, real, seed=1)
    other, _ = ladder_waves(parallel_model, prompt, real, seed=2)
    assert all(torch.equal(waves[rung], same[rung]) for rung in RUNGS)
    assert not torch.equal(waves["acoustic"], other["acoustic"])
    assert torch.equal(waves["resynthesis"], other["resynthesis"])


def test_voice_match_reaches_rungs_c_and_d(parallel_model):
    prompt, real = voiced(1.5, 150.0), voiced(1.2, 150.0)
    plain, _ = ladder_waves(parallel_model, prompt, real, seed=1)
    parallel_model.config.voice_match = True
    try:
        matched, tokens = ladder_waves(parallel_model, prompt, real, seed=1)
    finally:
        parallel_model.config.voice_match = False
    assert tokens["levels"] == 4 and torch.equal(matched["resynthesis"], plain["resynthesis"])
    assert not torch.equal(matched["acoustic"], plain["acoustic"])
    assert not torch.equal(matched["pipeline"], plain["pipeline"])


def test_prompt_band_reaches_rung_c_as_the_pipeline_takes_it(parallel_model, monkeypatch):
    # a prompt with much above 4 kHz, so that its band-limited codes differ from its own
    prompt = voiced(1.5, 150.0) + 0.2 * torch.sin(2 * torch.pi * 6500 * torch.arange(int(1.5 * RATE)) / RATE)
    real = voiced(1.2, 150.0)
    seen = []
    original = parallel_model.acoustic.generate_acoustic

    def spy(semantic, acoustic_prompt, *args, **kwargs):
        seen.append(acoustic_prompt.clone())
        return original(semantic, acoustic_prompt, *args, **kwargs)

    monkeypatch.setattr(parallel_model.acoustic, "generate_acoustic", spy)
    plain, tokens = ladder_waves(parallel_model, prompt, real, seed=1)
    monkeypatch.setattr(parallel_model.config, "prompt_band_hz", 4000.0)
    banded, _ = ladder_waves(parallel_model, prompt, real, seed=1)
    frames = tokens["prompt_frames"]
    whole = torch.cat([prompt, real])
    # rungs c and d of each run: the true prompt codes, then the band-limited ones
    assert torch.equal(seen[0], tokens["codes"][..., :frames])
    assert torch.equal(seen[2], parallel_model.tokenize(whole, RATE, 4000.0)[1][..., :frames])
    assert not torch.equal(seen[2], seen[0])
    # the pipeline's (rung d) prompt codes are its band-limited prompt's, the semantic ids hear the whole band
    semantic, codes, _ = parallel_model._prompt_tokens(prompt, RATE, "test")
    assert torch.equal(seen[3], codes) and torch.equal(semantic, parallel_model.tokenize(prompt, RATE)[0])
    assert not torch.equal(seen[3], seen[1])
    assert torch.equal(banded["resynthesis"], plain["resynthesis"])
    assert not torch.equal(banded["acoustic"], plain["acoustic"])


@pytest.mark.slow
@pytest.mark.requires("librosa", "resemblyzer", "speechmos")
def test_voice_match_adds_a_matched_stranger_baseline(parallel_model):
    parallel_model.config.voice_match = True
    try:
        ladder = oracle_ladder(parallel_model, items("speech"), "speech", seed=3, progress=False)
    finally:
        parallel_model.config.voice_match = False
    assert all(-1 <= item["matched_stranger_baseline"] <= 1 for item in ladder["items"])
    assert all(-1 <= row["matched_stranger_baseline"] <= 1 for row in ladder["rows"])


def test_teacher_forced_matches_the_training_loss_on_one_window(parallel_model):
    acoustic = parallel_model.acoustic
    generator = torch.Generator().manual_seed(0)
    semantic = torch.randint(16, (1, 40), generator=generator)
    codes = torch.randint(32, (1, 4, 40), generator=generator)
    levels = teacher_forced_levels(acoustic, semantic, codes, prompt_frames=15)  # 40 frames: one 50-frame window
    assert [row["level"] for row in levels] == [1, 2, 3, 4] and all(row["frames"] == 25 for row in levels)
    new = torch.arange(40) >= 15
    for q, row in enumerate(levels):
        masked = (torch.arange(4)[:, None] >= q) & new[None]
        mask = TrainingMask(masked[None], new[None], torch.tensor([q]), torch.tensor([15]), torch.ones(1))
        with torch.inference_mode():
            logits, targets = acoustic.masked_logits(semantic, codes, mask)
        assert row["cross_entropy"] == pytest.approx(F.cross_entropy(logits, targets).item(), rel=1e-4)
        assert row["accuracy"] == pytest.approx((logits.argmax(-1) == targets).float().mean().item())
        assert row["uniform_cross_entropy"] == pytest.approx(math.log(32))
        assert 0 < row["unigram_cross_entropy"] <= math.log(25) + 1e-9  # in-sample: at most ln(frames)
        assert set(LEVEL_MEASURES) <= set(row)
    for scale in (1.0, 2.0):  # the library's own per-level scorer (one window) agrees, guided or not
        guided = teacher_forced_levels(acoustic, semantic, codes, 15, guidance_scale=scale)
        expected = acoustic.level_cross_entropy(semantic, codes, 15, guidance_scale=scale)
        assert [row["cross_entropy"] for row in guided] == pytest.approx(expected.tolist(), rel=1e-4)
    constant = torch.zeros_like(codes)
    assert teacher_forced_levels(acoustic, semantic, constant, 15)[0]["unigram_cross_entropy"] == 0
    long_codes = torch.randint(32, (1, 4, 120), generator=generator)  # several windows
    long_levels = teacher_forced_levels(acoustic, torch.randint(16, (1, 120), generator=generator), long_codes, 30)
    assert all(row["frames"] == 90 and math.isfinite(row["cross_entropy"]) for row in long_levels)
    with pytest.raises(ValueError, match="prompt_frames"):
        teacher_forced_levels(acoustic, semantic, codes, 40)


def test_hierarchical_generator_has_no_teacher_forced_levels():
    model = tiny_audiolm()
    semantic, codes = torch.zeros(1, 40, dtype=torch.long), torch.zeros(1, 4, 40, dtype=torch.long)
    assert teacher_forced_levels(model.acoustic, semantic, codes, 10) is None


@pytest.mark.slow
@pytest.mark.requires("librosa")
def test_piano_ladder_measures_music_and_checks_its_input(parallel_model):
    ladder = oracle_ladder(parallel_model, items("piano")[:1], "piano", progress=False)
    item = ladder["items"][0]
    assert all(set(item["rungs"][rung]) == set(PIANO_MEASURES) for rung in RUNGS)
    assert item["rungs"]["real"]["chroma_similarity_to_prompt"] > 0.5 and "different_speaker_baseline" not in item
    assert item["rungs"]["real"]["chroma_agreement_with_real"] == pytest.approx(1.0, abs=1e-6)
    assert item["rungs"]["real"]["onset_rate"] > 0
    # white noise's chroma relates to the prompt less than the real continuation's does, and every row carries it
    assert 0 < item["white_noise_chroma_baseline"] < item["rungs"]["real"]["chroma_similarity_to_prompt"]
    assert all(row["white_noise_chroma_baseline"] == item["white_noise_chroma_baseline"] for row in ladder["rows"])
    assert [row["level"] for row in ladder["levels"]] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="domain"):
        oracle_ladder(parallel_model, items("piano"), "drums")
    with pytest.raises(ValueError, match="no speech items"):
        oracle_ladder(parallel_model, [], "speech")


def test_each_item_draws_its_own_sampling_stream(monkeypatch):
    """Item i of a ladder run with seed s samples with item_seed(s, i): two run seeds never share an item's stream."""
    import types

    import audiolm_lib.eval.oracle_ladder as ladder
    from audiolm_lib.eval.seeds import item_seed

    seen = []

    def waves(model, prompt, real, seed):
        seen.append(seed)
        return {rung: real for rung in RUNGS}, {"acoustic": None, "semantic": None, "codes": None, "prompt_frames": 0}

    monkeypatch.setattr(ladder, "ladder_waves", waves)
    monkeypatch.setattr(ladder, "_piano_measures", lambda waves, prompt, rate: {
        "rungs": {rung: dict.fromkeys(PIANO_MEASURES, 0.5) for rung in RUNGS}})
    monkeypatch.setattr(ladder, "teacher_forced_levels", lambda *args: None)
    clips = [{"id": str(i), "set": "p", "prompt": torch.zeros(800), "real": torch.zeros(800), "sample_rate": 16000}
             for i in range(3)]
    for seed in (0, 2):
        ladder.oracle_ladder(types.SimpleNamespace(sample_rate=16000), clips, "piano", seed=seed, progress=False)
    assert seen == [0, 1, 2] + [item_seed(2, i) for i in range(3)] and len(set(seen)) == 6
