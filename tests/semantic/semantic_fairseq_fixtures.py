"""Build tiny HuBERT models and write them in the original fairseq checkpoint layout (for tests)."""
from __future__ import annotations

import argparse
import re
import sys
import types
import typing

import torch

TINY = dict(
    hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
    conv_dim=(16, 16, 16), conv_kernel=(10, 8, 16), conv_stride=(5, 4, 16),
    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
)
CONV_SPEC = "[(16, 10, 5)] + [(16, 8, 4)] + [(16, 16, 16)]"


def tiny_hubert(stable: bool = False):
    """A random HubertModel: base-style (group norm, post-LN) or large-style (layer norm, pre-LN, conv bias)."""
    from transformers import HubertConfig, HubertModel

    extra = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True) if stable else {}
    torch.manual_seed(1)
    model = HubertModel(HubertConfig(**TINY, **extra)).eval()
    with torch.no_grad():  # non-trivial norms / biases so a wrong mapping shows
        for name, param in model.named_parameters():
            if "layer_norm" in name or name.endswith("bias"):
                param.add_(0.1 * torch.randn_like(param))
    return model


def to_fairseq_state(model) -> dict[str, torch.Tensor]:
    """HubertModel state dict -> fairseq HuBERT key names (+ the pretraining-only parameters)."""
    layer_map = {
        "attention.k_proj": "self_attn.k_proj", "attention.v_proj": "self_attn.v_proj",
        "attention.q_proj": "self_attn.q_proj", "attention.out_proj": "self_attn.out_proj",
        "layer_norm": "self_attn_layer_norm", "feed_forward.intermediate_dense": "fc1",
        "feed_forward.output_dense": "fc2", "final_layer_norm": "final_layer_norm",
    }
    layer_norm_mode = model.config.feat_extract_norm == "layer"
    out = {}
    for key, value in model.state_dict().items():
        if key == "masked_spec_embed":
            new = "mask_emb"
        elif key.startswith("feature_projection.projection."):
            new = "post_extract_proj." + key.rsplit(".", 1)[1]
        elif key.startswith("feature_projection.layer_norm."):
            new = "layer_norm." + key.rsplit(".", 1)[1]
        elif m := re.match(r"feature_extractor\.conv_layers\.(\d+)\.(conv|layer_norm)\.(\w+)$", key):
            part = "0" if m.group(2) == "conv" else ("2.1" if layer_norm_mode else "2")
            new = f"feature_extractor.conv_layers.{m.group(1)}.{part}.{m.group(3)}"
        elif key.startswith("encoder.pos_conv_embed.conv."):
            tail = key.split("encoder.pos_conv_embed.conv.", 1)[1]
            new = "encoder.pos_conv.0." + {"parametrizations.weight.original0": "weight_g",
                                           "parametrizations.weight.original1": "weight_v"}.get(tail, tail)
        elif m := re.match(r"encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$", key):
            new = f"encoder.layers.{m.group(1)}.{layer_map[m.group(2)]}.{m.group(3)}"
        else:
            new = key  # encoder.layer_norm.*
        out[new] = value.clone()
    dim = model.config.hidden_size
    out["label_embs_concat"] = torch.randn(504, 16)
    out["final_proj.weight"] = torch.randn(16, dim)
    out["final_proj.bias"] = torch.randn(16)
    return out


def fairseq_model_cfg(model, name: str = "hubert") -> dict:
    config = model.config
    return {
        "_name": name, "extractor_mode": "layer_norm" if config.feat_extract_norm == "layer" else "default",
        "encoder_layers": config.num_hidden_layers, "encoder_embed_dim": config.hidden_size,
        "encoder_ffn_embed_dim": config.intermediate_size, "encoder_attention_heads": config.num_attention_heads,
        "activation_fn": "gelu", "conv_feature_layers": CONV_SPEC, "conv_bias": config.conv_bias,
        "conv_pos": config.num_conv_pos_embeddings, "conv_pos_groups": config.num_conv_pos_embedding_groups,
        "layer_norm_first": config.do_stable_layer_norm, "dropout": 0.1, "label_rate": 50.0,
    }


def _fake_omegaconf_modules() -> dict[str, types.ModuleType]:
    """Modules named like omegaconf/fairseq so the pickle references those globals, as a real checkpoint does."""
    modules = {name: types.ModuleType(name) for name in (
        "omegaconf", "omegaconf.dictconfig", "omegaconf.nodes", "omegaconf.base", "fairseq", "fairseq.data",
        "fairseq.data.dictionary")}

    def make(module, name):
        cls = type(name, (), {"__module__": module})
        cls.__qualname__ = name
        setattr(modules[module], name, cls)
        return cls

    make("omegaconf.dictconfig", "DictConfig")
    make("omegaconf.nodes", "AnyNode")
    make("omegaconf.base", "ContainerMetadata")
    make("fairseq.data.dictionary", "Dictionary")
    return modules


def _as_dictconfig(value, modules):
    """Mimic omegaconf's pickled layout: DictConfig.__dict__ = {_metadata, _parent, _content: {k: node}}."""
    if isinstance(value, dict):
        node = modules["omegaconf.dictconfig"].DictConfig()
        meta = modules["omegaconf.base"].ContainerMetadata()
        meta.__dict__.update(ref_type=typing.Any, object_type=dict, key=None, optional=True, flags={})
        node.__dict__.update(_metadata=meta, _parent=None, _content={k: _as_dictconfig(v, modules) for k, v in value.items()})
        return node
    node = modules["omegaconf.nodes"].AnyNode()
    node.__dict__.update(_val=value, _metadata=None, _parent=None)
    return node


def write_fairseq_checkpoint(model, path, style: str = "cfg", name: str = "hubert", state=None, normalize=False) -> None:
    """Save ``model`` as a fairseq checkpoint: ``style='cfg'`` (omegaconf, new) or ``'args'`` (Namespace, old)."""
    state = to_fairseq_state(model) if state is None else state
    model_cfg = fairseq_model_cfg(model, name)
    if style == "args":
        checkpoint = {"args": argparse.Namespace(arch=name, normalize=normalize, **{k: v for k, v in model_cfg.items() if k != "_name"}),
                      "model": state, "optimizer_history": [{"num_updates": 10}], "extra_state": {}}
        torch.save(checkpoint, path)
        return
    modules = _fake_omegaconf_modules()
    saved = {k: sys.modules.get(k) for k in modules}
    sys.modules.update(modules)
    try:
        dictionary = modules["fairseq.data.dictionary"].Dictionary()
        dictionary.__dict__.update(symbols=["<s>", "<pad>", "0", "1"], count=[1, 1, 5, 5])
        cfg = _as_dictconfig({"model": model_cfg, "task": {"_name": "hubert_pretraining", "normalize": normalize}}, modules)
        checkpoint = {"cfg": cfg, "model": state, "task_state": {"dictionaries": [dictionary]},
                      "optimizer_history": [], "extra_state": {"epoch": 3, "blob": b"\x00\xff"}}
        torch.save(checkpoint, path)
    finally:
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module
