"""The parallel generator's prompt summary: zero at the start (a trained model keeps its function), computed from the
prompt's frames alone, nothing without a prompt, moving every frame's output once trained, saved and loaded."""
import functools

import pytest
import torch

from audiolm_lib.lm.parallel import ParallelAcousticLM
from audiolm_lib.lm.prompt_summary import PromptSummary, prompt_frames
from audiolm_lib.serialization import load_pretrained
from audiolm_lib.training.extend import extended

from tiny_parallel import tiny_parallel

LEVELS, CODES, PROMPT, NEW = 3, 16, 10, 14


make_model = functools.partial(tiny_parallel, LEVELS, CODES, 0.6)


def inputs(batch=2):
    """Semantic ids and codes of every level over prompt and continuation, any code."""
    draw = functools.partial(torch.randint, generator=torch.Generator().manual_seed(1))
    return draw(32, (batch, PROMPT + NEW)), draw(CODES, (batch, LEVELS, PROMPT + NEW))


def trained_summary(model: ParallelAcousticLM) -> ParallelAcousticLM:
    torch.manual_seed(3)
    torch.nn.init.normal_(model.prompt_summary.out.weight, std=0.5)  # as if training had moved it off zero
    return model


def test_a_model_given_a_summary_computes_what_it_did_until_trained():
    plain = make_model()
    summarised = extended(plain, prompt_summary=True).eval()
    assert summarised.config.prompt_summary and not plain.config.prompt_summary
    semantic, codes = inputs()
    assert torch.equal(plain.level_cross_entropy(semantic, codes, PROMPT),
                       summarised.level_cross_entropy(semantic, codes, PROMPT))
    seeded = [m.generate(semantic, codes[:, :, :PROMPT], NEW, generator=torch.Generator().manual_seed(2))
              for m in (plain, summarised)]
    assert torch.equal(*seeded)


def test_the_summary_reads_the_leading_known_frames_only():
    summary = PromptSummary(8)
    torch.nn.init.normal_(summary.out.weight)
    frames = torch.randn(2, 6, 8)
    known = prompt_frames(torch.tensor([[True, True, True, False, True, False]] * 2))
    assert known.sum() == 6  # three frames each: the known frame after the gap is not the prompt
    changed = frames.clone()
    changed[:, 3:] = torch.randn(2, 3, 8)  # after the prompt, a scattered known frame included
    assert torch.allclose(summary(frames, known), summary(changed, known))
    changed[:, 1] += torch.randn(2, 8)
    assert not torch.allclose(summary(frames, known), summary(changed, known))
    none_known = torch.zeros(2, 6, dtype=torch.bool)
    assert torch.equal(summary(frames, none_known), torch.zeros(2, 1, 8))  # no prompt (or dropped): nothing


def test_once_trained_the_summary_moves_every_frame_given_a_prompt_and_none_without():
    plain = make_model()
    model = trained_summary(extended(plain, prompt_summary=True).eval())
    semantic, codes = inputs(batch=1)
    aligned = semantic[:, model.semantic_positions(0, PROMPT + NEW, semantic.shape[1])]
    prompted, unprompted = torch.full_like(codes, CODES), torch.full_like(codes, CODES)
    prompted[:, :, :PROMPT] = codes[:, :, :PROMPT]
    with torch.no_grad():
        moved = (model.hidden(aligned, prompted) - plain.hidden(aligned, prompted)).abs().amax(-1)  # [1, T]
        assert bool((moved > 1e-3).all())
        assert torch.allclose(model.hidden(aligned, unprompted), plain.hidden(aligned, unprompted), atol=1e-6)


def test_a_summarised_model_round_trips_through_save_and_load(tmp_path):
    model = trained_summary(extended(make_model(), prompt_summary=True).eval())
    model.save_pretrained(tmp_path / "m")
    loaded = load_pretrained(tmp_path / "m").eval()
    assert loaded.config.prompt_summary
    semantic, codes = inputs()
    assert torch.allclose(model.level_cross_entropy(semantic, codes, PROMPT),
                          loaded.level_cross_entropy(semantic, codes, PROMPT), atol=1e-5)


def test_a_model_without_the_setting_or_an_unknown_part_is_refused():
    with pytest.raises(TypeError, match="prompt_summary"):
        extended(torch.nn.Linear(2, 2), prompt_summary=True)
    with pytest.raises(ValueError, match="no neutral part"):
        extended(make_model(), prompt_sumary=True)
    with pytest.raises(ValueError, match="prompt_summary must be true or false"):
        make_model(prompt_summary="yes")
