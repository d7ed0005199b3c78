"""Read an original fairseq HuBERT checkpoint (``.pt``) into ``transformers.HubertModel``, without fairseq.

fairseq checkpoints are pickles that reference ``argparse.Namespace`` (old ``args``), omegaconf containers
(new ``cfg``), fairseq dictionaries and meters. Unpickling them normally can run arbitrary code, so we unpickle
with a restricted unpickler: tensor rebuilding and plain containers are allowed, fairseq/omegaconf objects
become inert :class:`_Opaque` records (no code of theirs runs), and any other global is refused with a
:class:`~audiolm_lib.serialization.CheckpointError`.

The key mapping follows the fairseq HuBERT module structure (``feature_extractor.conv_layers.{i}.0``,
``post_extract_proj``, ``encoder.pos_conv.0``, ``encoder.layers.{i}.self_attn.*`` ...).
"""
from __future__ import annotations

import argparse
import ast
import codecs
import collections
import os
import pickle
import re
import types
from pathlib import Path
from typing import Any

import torch

from audiolm_lib.serialization import CheckpointError

# --------------------------------------------------------------------------------------------- unpickling
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): collections.defaultdict,
    ("argparse", "Namespace"): argparse.Namespace,
    ("_codecs", "encode"): codecs.encode,  # protocol-2 pickles store bytes as encode(str, "latin1")
    ("torch", "Size"): torch.Size,
    **{("builtins", t.__name__): t for t in (set, frozenset, dict, list, tuple, int, float, str, bool, slice, complex, bytes)},
    **{("torch._utils", name): getattr(torch._utils, name) for name in (
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state")
       if hasattr(torch._utils, name)},
}
# objects from these modules are kept as inert records: configs, dictionaries, meters, enum values
_OPAQUE_MODULE_PREFIXES = ("omegaconf", "fairseq", "typing", "enum", "numpy", "pathlib")
_STORAGE_NAME = re.compile(r"^[A-Za-z0-9]*Storage$")


class _Opaque:
    """Inert stand-in for a fairseq/omegaconf/numpy object: records constructor args and pickled state."""

    _qualified_name = "opaque"

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<{self._qualified_name}>"


def _opaque_class(module: str, name: str) -> type:
    return type(name, (_Opaque,), {"_qualified_name": f"{module}.{name}"})


class DisallowedGlobalError(pickle.UnpicklingError):
    """The pickle references a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        # protocol-2 pickles spell Python 3 modules the Python 2 way (what fix_imports would undo)
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and (_STORAGE_NAME.match(name) or name in ("float32", "float16", "bfloat16", "float64")):
            return getattr(torch, name)
        if module == "torch.storage" and name == "UntypedStorage":
            return torch.UntypedStorage
        if module.split(".")[0] in _OPAQUE_MODULE_PREFIXES:
            return _opaque_class(module, name)
        raise DisallowedGlobalError(f"disallowed global {module}.{name}")


# torch.load(pickle_module=...) needs a module-like object exposing Unpickler/load
_restricted_pickle = types.SimpleNamespace(
    Unpickler=_RestrictedUnpickler,
    load=lambda file, **kw: _RestrictedUnpickler(file, **kw).load(),
    __name__="audiolm_restricted_pickle",
)


def safe_load_checkpoint(path: str | os.PathLike) -> Any:
    """Unpickle a foreign ``.pt`` file with the restricted unpickler; refuses disallowed globals.

    The file is first checked to be a plain ``torch.save`` archive (:func:`~audiolm_lib.safe_load.inspect_torch_archive`):
    ``torch.load`` would hand a TorchScript archive to ``torch.jit.load``, which runs its code.
    """
    from audiolm_lib.safe_load import inspect_torch_archive

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"expected a fairseq checkpoint file (.pt), got a directory: {path}")
    inspect_torch_archive(path, "fairseq checkpoint")  # TorchScript and odd archives: refused before reading
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle)
    except DisallowedGlobalError as exc:
        raise CheckpointError(f"refusing to load {path}: it contains a {exc} (not a plain fairseq checkpoint)") from exc
    except Exception as exc:  # zipfile/EOF/format errors from torch
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint (truncated or corrupt?): {exc}") from exc


def to_plain(value: Any) -> Any:
    """Turn Namespaces and inert omegaconf records into plain dicts/lists/values."""
    if isinstance(value, argparse.Namespace):
        return {k: to_plain(v) for k, v in vars(value).items()}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(v) for v in value)
    if isinstance(value, _Opaque):
        state = value.state
        if isinstance(state, dict) and "_content" in state:  # omegaconf DictConfig / ListConfig
            return to_plain(state["_content"])
        if isinstance(state, dict) and "_val" in state:  # omegaconf ValueNode
            return to_plain(state["_val"])
        if len(value.args) == 1 and state is None:  # enum member pickled as Enum(value)
            return to_plain(value.args[0])
        return value
    return value


# --------------------------------------------------------------------------------------------- config
def _literal_layers(spec: str) -> list[tuple[int, int, int]]:
    """Evaluate fairseq's ``conv_feature_layers`` string, e.g. ``"[(512,10,5)] + [(512,3,2)] * 4"``, safely."""

    def walk(node: ast.AST):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [walk(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Mult):  # "[(512,3,2)] * 10**9" must not build a billion-item list
                count = right if isinstance(left, (list, tuple)) else left
                items = left if isinstance(left, (list, tuple)) else right
                if isinstance(items, (list, tuple)) and (not isinstance(count, int) or len(items) * count > 256):
                    raise ValueError("more than 256 convolution layers")
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"unsupported expression in conv_feature_layers: {ast.dump(node)}")

    try:
        layers = walk(ast.parse(spec, mode="eval"))
    except (SyntaxError, ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot parse conv_feature_layers {spec!r}: {exc}") from exc
    return [tuple(int(v) for v in layer[:3]) for layer in layers]


def checkpoint_model_config(checkpoint: dict) -> dict:
    """The fairseq model config as a plain dict, from ``cfg['model']`` (new) or ``args`` (old)."""
    cfg = to_plain(checkpoint.get("cfg"))
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        model_cfg = dict(cfg["model"])
        if isinstance(cfg.get("task"), dict):
            model_cfg.setdefault("normalize", cfg["task"].get("normalize", False))
        return model_cfg
    args = to_plain(checkpoint.get("args"))
    if isinstance(args, dict):
        return dict(args, _name=args.get("arch", args.get("_name")))
    raise CheckpointError("fairseq checkpoint has neither 'cfg' nor 'args': cannot read the model configuration")


def hubert_config_from_fairseq(model_cfg: dict):
    """fairseq HuBERT model config (dict) -> ``transformers.HubertConfig``."""
    from transformers import HubertConfig

    layers = _literal_layers(model_cfg.get("conv_feature_layers", "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"))
    extractor_mode = model_cfg.get("extractor_mode", "default")
    return HubertConfig(
        hidden_size=int(model_cfg.get("encoder_embed_dim", 768)),
        num_hidden_layers=int(model_cfg.get("encoder_layers", 12)),
        num_attention_heads=int(model_cfg.get("encoder_attention_heads", 12)),
        intermediate_size=int(model_cfg.get("encoder_ffn_embed_dim", 3072)),
        hidden_act=str(model_cfg.get("activation_fn", "gelu")),
        conv_dim=tuple(layer[0] for layer in layers),
        conv_kernel=tuple(layer[1] for layer in layers),
        conv_stride=tuple(layer[2] for layer in layers),
        conv_bias=bool(model_cfg.get("conv_bias", False)),
        num_conv_pos_embeddings=int(model_cfg.get("conv_pos", 128)),
        num_conv_pos_embedding_groups=int(model_cfg.get("conv_pos_groups", 16)),
        feat_extract_norm="layer" if extractor_mode == "layer_norm" else "group",
        do_stable_layer_norm=bool(model_cfg.get("layer_norm_first", False)),
        feat_proj_layer_norm=True,
        layer_norm_eps=1e-5,
        # inference only: no dropout
        hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0, feat_proj_dropout=0.0,
        final_dropout=0.0, layerdrop=0.0,
    )


# --------------------------------------------------------------------------------------------- weights
_LAYER_MAP = {
    "self_attn.k_proj": "attention.k_proj",
    "self_attn.v_proj": "attention.v_proj",
    "self_attn.q_proj": "attention.q_proj",
    "self_attn.out_proj": "attention.out_proj",
    "self_attn_layer_norm": "layer_norm",
    "fc1": "feed_forward.intermediate_dense",
    "fc2": "feed_forward.output_dense",
    "final_layer_norm": "final_layer_norm",
}
# pretraining-only parameters that HubertModel does not have
_PRETRAINING_ONLY = ("label_embs_concat", "final_proj.", "label_embs", "target_glu.")
_FINETUNED_PREFIX = "w2v_encoder.w2v_model."


def map_fairseq_key(key: str) -> str | None:
    """fairseq HuBERT parameter name -> ``HubertModel`` name (None for pretraining-only parameters)."""
    if key.startswith(_PRETRAINING_ONLY):
        return None
    if key == "mask_emb":
        return "masked_spec_embed"
    if key.startswith("post_extract_proj."):
        return "feature_projection.projection." + key.split(".", 1)[1]
    if key.startswith("layer_norm."):
        return "feature_projection.layer_norm." + key.split(".", 1)[1]
    match = re.match(r"feature_extractor\.conv_layers\.(\d+)\.(0|2|2\.1)\.(weight|bias)$", key)
    if match:
        index, part, param = match.groups()
        return f"feature_extractor.conv_layers.{index}.{'conv' if part == '0' else 'layer_norm'}.{param}"
    # weight norm is stored as weight_g / weight_v (torch.nn.utils.weight_norm) or, by newer torch, as
    # parametrizations.weight.original0 / original1
    match = re.match(r"encoder\.pos_conv\.0\.(weight_g|weight_v|bias|parametrizations\.weight\.original[01])$", key)
    if match:
        param = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}
        return "encoder.pos_conv_embed.conv." + param.get(match.group(1), match.group(1))
    if key.startswith("encoder.layer_norm."):
        return key
    match = re.match(r"encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$", key)
    if match and match.group(2) in _LAYER_MAP:
        index, module, param = match.groups()
        return f"encoder.layers.{index}.{_LAYER_MAP[module]}.{param}"
    raise CheckpointError(f"unexpected parameter {key!r} in a fairseq HuBERT checkpoint")


def _check_is_hubert(checkpoint: dict, model_cfg: dict, state: dict, path: Path) -> None:
    name = str(model_cfg.get("_name") or model_cfg.get("arch") or "")
    if any(k.startswith(("quantizer.", "project_q.")) for k in state) or name.startswith("wav2vec"):
        raise CheckpointError(
            f"{path} is a wav2vec 2.0 checkpoint (model {name or 'with a quantizer'}), not HuBERT; "
            "convert it to a Hugging Face directory and load it as such"
        )
    if name and not name.startswith("hubert"):
        raise CheckpointError(f"{path} holds a fairseq {name!r} model, not HuBERT")
    if not any(k.startswith("feature_extractor.conv_layers.") for k in state):
        raise CheckpointError(f"{path} has no HuBERT convolutional feature extractor weights: not a HuBERT checkpoint")


def load_fairseq_hubert(path: str | os.PathLike):
    """Read a fairseq HuBERT ``.pt`` (pretrained or CTC fine-tuned) as an eval-mode ``transformers.HubertModel``.

    Returns:
        (model, normalize_waveform): ``normalize_waveform`` is fairseq's ``task.normalize`` (large models).
    """
    from transformers import HubertModel

    path = Path(path)
    checkpoint = safe_load_checkpoint(path)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise CheckpointError(f"{path} is not a fairseq checkpoint (expected a dict with a 'model' state dict)")
    state = checkpoint["model"]
    model_cfg = checkpoint_model_config(checkpoint)
    if any(k.startswith(_FINETUNED_PREFIX) for k in state):  # hubert_ctc: the encoder is nested
        state = {k[len(_FINETUNED_PREFIX):]: v for k, v in state.items() if k.startswith(_FINETUNED_PREFIX)}
        model_cfg = dict(to_plain(model_cfg.get("w2v_args") or {}).get("model", model_cfg), _name="hubert")
    _check_is_hubert(checkpoint, model_cfg, state, path)
    config = hubert_config_from_fairseq(model_cfg)
    from audiolm_lib.limits import LimitError, check_model_size
    from audiolm_lib.safe_load import check_hf_model_config, offline_hub

    check_hf_model_config(config.to_dict(), f"{path} (fairseq model config)")  # bounded before allocation
    with offline_hub():
        with torch.device("meta"):  # sized before any memory is allocated
            parameters = sum(p.numel() for p in HubertModel(config).parameters())
        try:
            check_model_size(parameters, f"{path} (fairseq model config)")
        except LimitError as exc:
            raise CheckpointError(str(exc)) from None
        model = HubertModel(config)
    mapped = {}
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            continue
        new_key = map_fairseq_key(key)
        if new_key is not None:
            mapped[new_key] = tensor.float()
    own = model.state_dict()
    if "feature_projection.projection.weight" not in mapped:
        # fairseq omits post_extract_proj when conv and encoder widths match: it is the identity
        mapped["feature_projection.projection.weight"] = torch.eye(*own["feature_projection.projection.weight"].shape)
        mapped["feature_projection.projection.bias"] = torch.zeros_like(own["feature_projection.projection.bias"])
    if "masked_spec_embed" in own and "masked_spec_embed" not in mapped:
        mapped["masked_spec_embed"] = own["masked_spec_embed"]
    missing = sorted(set(own) - set(mapped))
    unexpected = sorted(set(mapped) - set(own))
    mismatched = [f"{k}: {tuple(mapped[k].shape)} vs {tuple(own[k].shape)}" for k in mapped if k in own and mapped[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        raise CheckpointError(
            f"{path}: fairseq weights do not match the HuBERT config they declare "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, shape mismatch {mismatched[:3]})"
        )
    model.load_state_dict(mapped, strict=True)
    return model.eval(), bool(model_cfg.get("normalize", False))
