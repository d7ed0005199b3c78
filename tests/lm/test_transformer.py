import pytest
import torch

from audiolm_lib.lm.transformer import Transformer, TransformerConfig


def tiny(**kw):
    return Transformer(TransformerConfig(dim=32, depth=2, heads=4, max_seq_len=64, **kw)).eval()


def test_cached_decoding_equals_full_recompute():
    model = tiny()
    x = torch.randn(2, 24, 32)
    full = model(x)
    cache = model.new_cache(2, 64)
    parts = [model(x[:, :9], cache)]  # prefill, then single steps, then a multi-token chunk
    for t in range(9, 15):
        parts.append(model(x[:, t : t + 1], cache))
    parts.append(model(x[:, 15:], cache))
    assert cache.length == 24
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=0)


def test_crop_rolls_back_the_cache():
    model = tiny()
    x, y = torch.randn(1, 10, 32), torch.randn(1, 3, 32)
    cache = model.new_cache(1, 64)
    model(x, cache)
    model(torch.randn(1, 5, 32), cache)
    cache.crop(10)
    after_crop = model(y, cache)
    reference = model(torch.cat([x, y], 1))[:, 10:]
    torch.testing.assert_close(after_crop, reference, atol=1e-5, rtol=0)
    with pytest.raises(ValueError):
        cache.crop(99)


def test_causality_future_never_changes_past():
    model = tiny()
    x = torch.randn(1, 16, 32)
    y = x.clone()
    y[:, 10:] = torch.randn(1, 6, 32)
    out_x, out_y = model(x), model(y)
    torch.testing.assert_close(out_x[:, :10], out_y[:, :10], atol=1e-6, rtol=0)
    assert (out_x[:, 10:] - out_y[:, 10:]).abs().max() > 1e-3


def test_dropout_only_in_training():
    model = tiny(dropout=0.5)
    x = torch.randn(1, 8, 32)
    torch.testing.assert_close(model(x), model(x))
    model.train()
    assert (model(x) - model(x)).abs().max() > 1e-4


def test_bad_inputs_raise_clear_errors():
    model = tiny()
    with pytest.raises(ValueError, match="expected Tensor"):
        model(torch.randn(1, 4, 16))
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.randn(1, 65, 32))
    cache = model.new_cache(1, 8)
    with pytest.raises(ValueError, match="capacity"):
        model(torch.randn(1, 9, 32), cache)
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(dim=30, heads=4)


def test_rotary_survives_dtype_conversion():
    # casting the module must not touch the complex rotary table (a complex buffer would lose its sine)
    model = tiny()
    x = torch.randn(1, 12, 32)
    reference = model(x)
    converted = tiny()
    converted.load_state_dict(model.state_dict())
    converted = converted.to(torch.float64)
    torch.testing.assert_close(converted(x.double()).float(), reference, atol=1e-4, rtol=0)
    assert torch.is_complex(converted.rotary.table) and converted.rotary.table.imag.abs().max() > 0.5


def test_single_step_path_equals_forward():
    model = tiny()
    x = torch.randn(3, 20, 32)
    full = model(x)
    cache = model.new_cache(3, 64)
    model(x[:, :5], cache)
    outputs = [model.step(x[:, t], cache) for t in range(5, 20)]
    assert cache.length == 20
    torch.testing.assert_close(torch.stack(outputs, 1), full[:, 5:], atol=1e-5, rtol=0)
