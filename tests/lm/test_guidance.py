"""Classifier-free guidance on the prompt for the semantic stage (audiolm_lib.lm.guidance)."""
import pytest
import torch

from audiolm_lib.lm.guidance import sample_guided
from audiolm_lib.lm.stages import SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.serialization import config_from_dict, config_to_dict


def semantic_lm(**kw):
    torch.manual_seed(0)
    config = SemanticLMConfig(vocab_size=12, window_seconds=0.4, transformer=TransformerConfig(
        dim=32, depth=2, heads=2, max_seq_len=256), **kw)  # a 20-token window, hop 10
    return SemanticLM(config).eval()


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_scale_one_reproduces_plain_sampling_through_sliding_windows():
    model = semantic_lm()
    prompt = torch.randint(12, (2, 15), generator=gen(1))
    plain = model.generate(prompt, 30, generator=gen(2))  # the window slides twice
    buffer = torch.full((2, 1, 45), -1)
    buffer[:, 0, :15] = prompt
    sample_guided(model, buffer, 15, model.window, model.hop, model.capacity, 1.0, generator=gen(2))
    assert torch.equal(buffer[:, 0, 15:], plain)
    assert torch.equal(model.generate(prompt, 30, generator=gen(2), guidance_scale=1.0), plain)


def test_scale_zero_ignores_the_prompt_and_other_scales_use_it():
    model = semantic_lm()
    prompt = torch.randint(12, (2, 8), generator=gen(1))
    unprompted = model.generate(prompt[:, :0], 10, generator=gen(3))
    assert torch.equal(model.generate(prompt, 10, generator=gen(3), guidance_scale=0.0), unprompted)
    plain = model.generate(prompt, 10, generator=gen(3))
    assert not torch.equal(plain, unprompted)  # the prompt matters to this model
    assert not torch.equal(model.generate(prompt, 10, generator=gen(3), guidance_scale=3.0), plain)
    # no prompt: nothing to contrast, guidance changes nothing
    assert torch.equal(model.generate(prompt[:, :0], 10, generator=gen(3), guidance_scale=3.0), unprompted)


def test_guidance_settings_load_and_fail_clearly():
    model = semantic_lm(guidance_scale=2.0)
    old = {k: v for k, v in config_to_dict(model.config).items() if k != "guidance_scale"}
    assert config_from_dict(SemanticLMConfig, old).guidance_scale == 1.0  # checkpoints of before: no guidance
    prompt = torch.randint(12, (1, 8), generator=gen(1))
    assert model.generate(prompt, 5, generator=gen(4)).shape == (1, 5)
    with pytest.raises(ValueError, match="guidance_scale"):
        semantic_lm(guidance_scale=-1.0)
    with pytest.raises(ValueError, match="guidance_scale"):
        model.generate(prompt, 5, guidance_scale=float("nan"))
    delay = semantic_lm(layout="delay")
    with pytest.raises(ValueError, match="flat"):
        delay.generate(prompt, 5, guidance_scale=2.0)


def test_guided_sampling_stops_at_eos():
    model = semantic_lm()
    with torch.no_grad():  # EOS certain in both branches (as tests/lm/test_stages.py's make_eos_certain)
        model.transformer.norm.bias.fill_(1.0)
        model.head[0, model.config.vocab_size].fill_(100.0)
    prompt = torch.randint(12, (2, 8), generator=gen(1))
    out = model.generate(prompt, 6, generator=gen(5), stop_at_eos=True, guidance_scale=2.0)
    assert out.shape == (2, 6) and (out == -1).all()
    assert ((model.generate(prompt, 6, generator=gen(5), guidance_scale=2.0) >= 0)).all()  # EOS never sampled


def test_scale_one_reproduces_the_tokens_sampled_before_guidance_existed():
    """Tokens the semantic stage sampled before guidance was added (commit 041f93d, same seeds)."""
    draw = torch.Generator().manual_seed(0)
    torch.randint(20, (1, 24), generator=draw), torch.randint(16, (1, 3, 4), generator=draw)  # the draws before
    prompt = torch.randint(12, (1, 15), generator=draw)
    out = semantic_lm().generate(prompt, 30, generator=gen(2), guidance_scale=1.0)
    assert out[0].tolist() == [10, 7, 3, 5, 6, 4, 6, 0, 11, 11, 0, 10, 5, 6, 6, 1, 1, 10, 10, 5, 6, 3, 2, 0, 6, 11,
                               8, 6, 10, 8]
