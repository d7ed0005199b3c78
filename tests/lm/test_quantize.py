"""Int8 dynamic quantisation (audiolm_lib.lm.quantize): the quantised decoding step matches the quantised
full forward, and a quantised model still generates what the float one does on an easy input."""
import torch

from audiolm_lib.lm.quantize import is_quantized, quantize_linear_int8
from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig
from audiolm_lib.lm.transformer import Transformer, TransformerConfig


def test_quantized_step_matches_quantized_forward():
    torch.manual_seed(0)
    model = quantize_linear_int8(Transformer(TransformerConfig(dim=32, depth=2, heads=2, max_seq_len=16)))
    assert is_quantized(model) and type(model.blocks[0].qkv) is not torch.nn.Linear
    x = torch.randn(1, 6, 32)
    full = model(x)
    cache = model.new_cache(1, 8)
    stepped = torch.stack([model.step(x[:, i], cache) for i in range(6)], dim=1)
    # activations are quantised per call (one scale per call), so one row at a time differs a little from the
    # whole sequence at once; a float model matches to 1e-5 (tests/lm/test_transformer.py)
    assert (stepped - full).abs().max() < 0.1
    float_model = Transformer(TransformerConfig(dim=32, depth=2, heads=2, max_seq_len=16))
    assert not is_quantized(float_model)


def test_quantized_stage_generates_close_to_float():
    torch.manual_seed(0)
    stage = CoarseLM(CoarseLMConfig(semantic_vocab_size=10, codebook_size=16, num_coarse_quantizers=2,
                                    window_seconds=1.0, transformer=TransformerConfig(dim=32, depth=1, heads=2)))
    stage.eval()
    quantized = quantize_linear_int8(stage)
    semantic = torch.randint(0, 10, (1, 20))
    assert stage.transformer.blocks[0].qkv.weight.dtype == torch.float32  # the original is left as it was
    a = stage.generate(semantic, None, 20, temperature=0)
    b = quantized.generate(semantic, None, 20, temperature=0)
    assert b.shape == a.shape == (1, 2, 20)
    assert (a == b).float().mean() > 0.5
