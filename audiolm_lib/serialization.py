"""One checkpoint format for every component: a directory with ``config.json`` + ``model.safetensors``.

Configs are dataclasses stored as plain JSON (never pickled); weights are safetensors. Writes are
atomic (temp file + rename) so an interrupted save never leaves a half-written checkpoint behind.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

import torch

from audiolm_lib.atomic import atomic_write, atomic_write_text  # noqa: F401  (re-exported)
from audiolm_lib.errors import CheckpointError  # noqa: F401  (re-exported)
from audiolm_lib.safe_load import check_regular_file

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1

T = TypeVar("T")


# --------------------------------------------------------------------------------------------- configs
def config_to_dict(config: Any) -> dict:
    """Dataclass -> JSON-ready dict (tuples become lists)."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"expected a dataclass config, got {type(config).__name__}")
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type[T], data: dict, *, source: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; nested dataclasses and tuples are rebuilt.

    Unknown keys raise :class:`CheckpointError` (a config from another model or version). Old field names listed
    in the class's ``RENAMED_FIELDS`` (``{old: new}``) are read as the new ones, with a ``DeprecationWarning``.
    """
    if not isinstance(data, dict):
        raise CheckpointError(f"{source}: expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    data = renamed_fields(cls, data, source)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise CheckpointError(f"{source}: unknown field(s) {unknown} for {cls.__name__}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints.get(name), value, f"{source}: {cls.__name__}.{name}")
    from audiolm_lib.limits import LimitError, check_config_bounds

    try:
        config = cls(**kwargs)
        check_config_bounds(config, f"{source} ({cls.__name__})")
    except LimitError as exc:
        raise CheckpointError(str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: invalid {cls.__name__}: {exc}") from exc
    return config


def renamed_fields(cls: type, data: dict, source: str = "config") -> dict:
    """``data`` with ``cls.RENAMED_FIELDS`` old names replaced by the new ones (warned); both given is an error."""
    renamed = getattr(cls, "RENAMED_FIELDS", {})
    old = [key for key in data if key in renamed]
    if not old:
        return data
    import warnings

    both = [key for key in old if renamed[key] in data]
    if both:
        raise CheckpointError(f"{source}: both {both[0]!r} and its new name {renamed[both[0]]!r} are given")
    warnings.warn(f"{source}: {cls.__name__} field(s) {', '.join(f'{k} -> {renamed[k]}' for k in old)} were renamed; "
                  "the old names are still read", DeprecationWarning, stacklevel=3)
    return {renamed.get(key, key): value for key, value in data.items()}


def _coerce(hint: Any, value: Any, where: str = "config") -> Any:
    """``value`` as a field of type ``hint``: nested configs rebuilt, lists made tuples, and the simple types
    checked (an integral float such as ``16.0`` or ``1e3`` is taken as an int); else a :class:`CheckpointError`."""
    if hint is None or hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        arms = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if value is None and len(arms) < len(typing.get_args(hint)):
            return None
        failures = []
        for arg in arms:
            try:
                return _coerce(arg, value, where)
            except CheckpointError as exc:
                failures.append(exc)
        raise failures[0] if failures else CheckpointError(f"{where}: unexpected value {value!r:.60}")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise CheckpointError(f"{where}: expected an object for {hint.__name__}, got {type(value).__name__}")
        return config_from_dict(hint, value, source=where)
    if hint is tuple or origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise CheckpointError(f"{where}: expected a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], item, where) for item in value)
        return tuple(_coerce(arg, item, where) for arg, item in zip(args, value)) if len(args) == len(value) \
            else tuple(value)
    if hint in (int, float, bool, str):
        return _simple(hint, value, where)
    return value


_TYPE_NAMES = {int: "int", float: "a number", bool: "true or false", str: "a string"}


def _simple(hint: type, value: Any, where: str) -> Any:
    if hint is int and isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    ok = {bool: isinstance(value, bool), str: isinstance(value, str),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool)}[hint]
    if ok and hint is float:
        try:
            return float(value)
        except OverflowError:
            ok = False
    if not ok:
        raise CheckpointError(f"{where} must be {_TYPE_NAMES[hint]}, got {type(value).__name__} {value!r:.60}")
    return value


def load_config_file(directory: str | os.PathLike, path: str | os.PathLike | None = None) -> dict:
    """Read and validate ``directory/config.json``; returns the parsed object."""
    directory = Path(directory)
    if not directory.exists():
        raise CheckpointError(f"checkpoint directory not found: {directory}")
    if not directory.is_dir():
        raise CheckpointError(f"expected a checkpoint directory (config.json + model.safetensors), got a file: {directory}")
    from audiolm_lib.inputs import InputFileError, read_json

    config_path = directory / CONFIG_NAME if path is None else Path(path)
    if not config_path.exists() and not config_path.is_symlink():
        raise CheckpointError(f"{directory} has no {CONFIG_NAME}: not a checkpoint directory")
    check_regular_file(config_path, "checkpoint config", inside=directory)
    try:
        meta = read_json(config_path, "checkpoint config", inside=directory)
    except InputFileError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("class"), str) or "config" not in meta:
        raise CheckpointError(f"{config_path} lacks the 'class' (a string) and 'config' entries of an audiolm_lib "
                              "checkpoint")
    return meta


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def import_class(path: str) -> type:
    """Import the checkpoint class ``audiolm_lib.<module>.<Class>`` named in a config; refuses anything else.

    Only a class defined in a public module of this library is accepted: not another library's object, not a module attribute (``audiolm_lib.audio.os``), and no
    ``__main__``-like module (importing it would run a command).
    """
    parts = path.split(".") if isinstance(path, str) else []
    if (len(parts) < 3 or parts[0] != "audiolm_lib"
            or not all(part.isidentifier() and not part.startswith("_") for part in parts[1:])):
        raise CheckpointError(f"refusing to load class {path!r}: only audiolm_lib classes can be loaded")
    module_name, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint names class {path!r}, which this version of audiolm_lib lacks") from exc
    if not isinstance(found, type) or found.__module__ != module_name:
        raise CheckpointError(f"refusing to load {path!r}: it is not a class of audiolm_lib "
                              f"(found {type(found).__name__} {getattr(found, '__name__', '?')!r})")
    return found


# --------------------------------------------------------------------------------------------- weights
STORAGE_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def save_weights(module: torch.nn.Module, path: str | os.PathLike, dtype: str | None = None) -> Path:
    """Write ``module``'s state dict as safetensors (tied weights stored once), atomically.

    ``dtype`` ("float16" or "bfloat16"): store float32 tensors at that width (half the file; loading casts them
    back to the module's dtype). For distributing trained models, not for training state.
    """
    from safetensors.torch import save_model

    if dtype is None:
        return atomic_write(path, lambda tmp: save_model(module, tmp))
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"storage dtype must be one of {sorted(STORAGE_DTYPES)}, got {dtype!r}")
    import copy

    narrow = copy.deepcopy(module)
    for tensor in list(narrow.parameters()) + list(narrow.buffers()):
        if tensor.dtype == torch.float32:
            tensor.data = tensor.data.to(STORAGE_DTYPES[dtype])
    return atomic_write(path, lambda tmp: save_model(narrow, tmp))


def load_weights(module: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load safetensors weights into ``module`` strictly, with errors that name the problem.

    Names, shapes and dtypes are checked from the file's header before any tensor is read (an extra or
    oversized tensor is never allocated); a floating-point weight must be stored as a float and be finite once
    converted to the module's dtype (float64 1e300 becomes inf in float32); integer and bool buffers must be
    stored with their own dtype.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file


    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(f"weights file not found: {path}")
    check_regular_file(path, "weights file", inside=path.parent)
    own = module.state_dict()
    check_weights_header(own, path, type(module).__name__)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path} (truncated or corrupt safetensors file?): {exc}") from exc
    nonfinite = non_finite_tensors({k: t.to(own[k].dtype) if own[k].is_floating_point() else t
                                    for k, t in state.items()})
    if nonfinite:
        raise CheckpointError(f"weights in {path} contain NaN or Inf values (after conversion to the model's "
                              f"dtype) in {len(nonfinite)} tensor(s), e.g. {nonfinite[:3]}: the model was saved after "
                              "training diverged, or the file is not a model of this library; use an earlier checkpoint")
    module.load_state_dict(state, strict=False)


_SAFETENSORS_NAMES = {torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                      torch.uint8: "U8", torch.bool: "BOOL"}


def check_weights_header(own: dict[str, torch.Tensor], path: Path, model_name: str) -> None:
    """Tensor names, shapes and dtypes of safetensors ``path`` (from its header) against a state dict ``own``
    (real or on the ``meta`` device); a :class:`CheckpointError` listing the differences."""
    from audiolm_lib.safe_load import FLOAT_STORAGE, read_safetensors_header

    header = read_safetensors_header(path)
    stored = {k: torch.empty(v["shape"], device="meta") for k, v in header.items()}
    # tied weights are stored once: accept a missing key whose storage is shared with a present one
    problems = state_dict_mismatch(stored, own, aliases=_shared_aliases(own))
    wrong = [f"{k}: {v['dtype']}" for k, v in header.items() if k in own and v["dtype"] not in (
        FLOAT_STORAGE if own[k].is_floating_point() else (_SAFETENSORS_NAMES.get(own[k].dtype),))]
    if wrong:
        problems.append(f"wrong dtype in {len(wrong)} tensor(s), e.g. {wrong[:3]} (weights must be stored as "
                        "float16, bfloat16, float32 or float64, buffers with their own integer type)")
    if problems:
        raise CheckpointError(f"weights in {path} do not match {model_name}: " + "; ".join(problems))


def non_finite_tensors(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors in ``state`` holding NaN or Inf."""
    return [key for key, tensor in state.items()
            if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all())]


def state_dict_mismatch(
    state: dict[str, torch.Tensor],
    own: dict[str, torch.Tensor],
    aliases: dict[str, list[str]] | None = None,
) -> list[str]:
    """How checkpoint ``state`` differs from a model's ``own`` state dict, one phrase per kind; [] if it fits.

    ``aliases`` maps a model key to keys sharing its storage (tied weights): it counts as present if any is.
    """
    aliases = aliases or {}
    missing = [k for k in own if k not in state and not any(a in state for a in aliases.get(k, ()))]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in state
        if k in own and state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s), e.g. {missing[:3]}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensor(s), e.g. {unexpected[:3]}")
    if mismatched:
        problems.append(f"shape mismatch in {len(mismatched)} tensor(s), e.g. {mismatched[:3]}")
    return problems


def _shared_aliases(state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    by_ptr: dict[tuple, list[str]] = {}
    for key, tensor in state.items():
        # on the meta device (a probed model, its state_dict(keep_vars=True)) tied weights are one object
        where = ("meta", id(tensor)) if tensor.is_meta else tensor.untyped_storage().data_ptr()
        by_ptr.setdefault((where, tensor.storage_offset(), tuple(tensor.shape)), []).append(key)
    return {k: [o for o in keys if o != k] for keys in by_ptr.values() if len(keys) > 1 for k in keys}


# --------------------------------------------------------------------------------------------- mixin
class PretrainedMixin:
    """``save_pretrained(dir)`` / ``from_pretrained(dir)`` for an ``nn.Module`` built as ``cls(config)``.

    Subclasses set ``config_class`` (a dataclass) and keep the config in ``self.config``. A ``trained_on``
    dict (what the training data's tokens came from, set by the trainer) is kept in ``config.json`` too.
    """

    config_class: type

    def save_pretrained(self, directory: str | os.PathLike, dtype: str | None = None) -> Path:
        """``directory/config.json`` + ``model.safetensors``; ``dtype`` "float16" stores the weights at half width."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"class": class_path(type(self)), "format_version": FORMAT_VERSION, "config": config_to_dict(self.config)}
        if getattr(self, "trained_on", None):
            meta["trained_on"] = self.trained_on
        save_weights(self, directory / WEIGHTS_NAME, dtype)
        atomic_write_text(directory / CONFIG_NAME, json.dumps(meta, indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu"):
        directory = Path(directory)
        meta = load_config_file(directory)
        stored_path = meta["class"]
        if stored_path == class_path(cls):
            stored = cls
        else:
            try:
                stored = import_class(stored_path)
            except CheckpointError:
                stored = None
            if stored is None or not issubclass(stored, cls):
                raise CheckpointError(f"{directory} holds a {stored_path.rpartition('.')[2]}, not a {cls.__name__}")
        config = config_from_dict(stored.config_class, meta["config"], source=str(directory / CONFIG_NAME))
        check_buildable(stored, config, str(directory / CONFIG_NAME), directory / WEIGHTS_NAME)
        model = stored(config)
        load_weights(model, directory / WEIGHTS_NAME)
        if isinstance(meta.get("trained_on"), dict):
            model.trained_on = meta["trained_on"]
        return model.to(map_location).eval()


def check_buildable(cls: type, config: Any, source: str, weights: Path | None = None) -> None:
    """Build ``cls(config)`` on the ``meta`` device (no memory) and refuse, before the real model is allocated,
    a model larger than :data:`~audiolm_lib.limits.MAX_PARAMETERS` or one the ``weights`` file does not fit."""
    from audiolm_lib.limits import LimitError, check_model_size

    try:
        with torch.device("meta"):
            probe = cls(config)
    except CheckpointError:
        raise
    except Exception:  # a class that cannot be built on meta: the config's field bounds still applied
        return
    tensors = {**dict(probe.named_parameters()), **dict(probe.named_buffers())}
    try:
        check_model_size(sum(t.numel() for t in tensors.values()), source)
    except LimitError as exc:
        raise CheckpointError(str(exc)) from None
    if weights is not None and weights.exists():
        check_weights_header(probe.state_dict(keep_vars=True), weights, cls.__name__)


def load_pretrained(directory: str | os.PathLike, map_location: str | torch.device = "cpu",
                    kind: type | None = None, what: str | None = None):
    """Load whatever audiolm_lib component ``directory`` holds (dispatch on its config's class).

    ``kind``: a class or runtime-checkable Protocol (e.g. :class:`~audiolm_lib.interfaces.CodecProtocol`) the
    component must be, else a :class:`CheckpointError` saying what the folder holds; ``what`` names the
    expected role in that message (default: the kind's name).
    """
    meta = load_config_file(directory)
    try:
        cls = import_class(meta["class"])
    except CheckpointError as exc:
        raise CheckpointError(f"{Path(directory) / CONFIG_NAME}: {exc}") from exc
    model = cls.from_pretrained(directory, map_location=map_location)
    if kind is not None and not isinstance(model, kind):
        expected = what or kind.__name__.removesuffix("Protocol")
        raise CheckpointError(f"{directory} holds a {type(model).__name__}, not a {expected}")
    return model
