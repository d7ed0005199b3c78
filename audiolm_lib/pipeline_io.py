"""Reading and writing an :class:`~audiolm_lib.pipeline.AudioLM` folder: the pipeline's ``config.json`` (its class,
its :class:`~audiolm_lib.pipeline_config.AudioLMConfig`, its components and its acoustic generator's class) beside one
sub-folder per component, each ``config.json`` + ``model.safetensors`` (:mod:`audiolm_lib.serialization`).

Apart from :mod:`audiolm_lib.pipeline` so that the sampler's module holds the sampler.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from audiolm_lib.lm.hierarchical import HierarchicalAcoustic
from audiolm_lib.pipeline_config import AudioLMConfig
from audiolm_lib.serialization import (
    CONFIG_NAME,
    CheckpointError,
    atomic_write_text,
    class_path,
    config_from_dict,
    config_to_dict,
    import_class,
    load_config_file,
    load_pretrained,
)

# the parts every AudioLM has; the acoustic generator adds its own (``coarse_lm`` + ``fine_lm``, or ``acoustic_lm``)
BASE_COMPONENTS = ("semantic_tokenizer", "codec", "semantic_lm")


def save_pipeline(model, directory: str | os.PathLike, dtype: str | None = None) -> Path:
    """Write ``model`` (an :class:`~audiolm_lib.pipeline.AudioLM`) to ``directory``: one sub-directory per component
    (each ``config.json`` + ``model.safetensors``) and the pipeline's ``config.json``; ``dtype`` "float16" stores the
    weights at half width (loading casts them back; for distributing a model)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    parts = model.components()
    for name, component in parts.items():
        if not hasattr(component, "save_pretrained"):
            raise TypeError(f"{name} ({type(component).__name__}) has no save_pretrained")
        component.save_pretrained(directory / name, **({"dtype": dtype} if dtype else {}))
    acoustic_parts = [name for name in parts if name not in BASE_COMPONENTS]
    meta = {
        "class": class_path(type(model)),
        "format_version": 1,
        "config": config_to_dict(model.config),
        "components": {name: name for name in parts},
        "acoustic": {"class": class_path(type(model.acoustic)), "components": acoustic_parts},
    }
    atomic_write_text(directory / CONFIG_NAME, json.dumps(meta, indent=2) + "\n")
    return directory


def load_pipeline(cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu"):
    """An instance of ``cls`` (:class:`~audiolm_lib.pipeline.AudioLM` or a subclass) from a directory written by
    :func:`save_pipeline`; errors name the missing or mismatched part."""
    directory = Path(directory)
    meta = load_config_file(directory)
    if meta["class"] != class_path(cls):
        raise CheckpointError(f"{directory} holds a {meta['class'].rpartition('.')[2]}, not an AudioLM pipeline")
    components = meta.get("components") or {}
    # written before acoustic generators were pluggable: the coarse + fine pair
    acoustic_meta = meta.get("acoustic") or {"class": class_path(HierarchicalAcoustic),
                                             "components": ["coarse_lm", "fine_lm"]}
    if (not isinstance(components, dict) or not isinstance(acoustic_meta, dict)
            or not isinstance(acoustic_meta.get("components") or [], list)):
        raise CheckpointError(f"{directory / CONFIG_NAME}: 'components' and 'acoustic' must be JSON objects "
                              "(as save_pretrained writes them)")
    acoustic_names = [str(name) for name in acoustic_meta.get("components") or []]
    missing = [name for name in BASE_COMPONENTS + tuple(acoustic_names) if name not in components]
    if missing:
        raise CheckpointError(f"{directory / CONFIG_NAME} lists no {missing}")
    parts = {}
    for name in BASE_COMPONENTS + tuple(acoustic_names):
        _check_component_path(directory, name, components[name])
        try:
            parts[name] = load_pretrained(directory / components[name], map_location=map_location)
        except CheckpointError as exc:
            raise CheckpointError(f"AudioLM component '{name}': {exc}") from exc
    acoustic_class = import_class(str(acoustic_meta.get("class")))
    try:
        acoustic = acoustic_class.from_components(**{name: parts.pop(name) for name in acoustic_names})
    except (TypeError, AttributeError) as exc:
        raise CheckpointError(f"{directory / CONFIG_NAME}: cannot build the acoustic generator "
                              f"{acoustic_class.__name__} from {acoustic_names}: {exc}") from exc
    config = config_from_dict(AudioLMConfig, meta["config"], source=str(directory / CONFIG_NAME))
    return cls(**parts, config=config, acoustic=acoustic).eval()


def _check_component_path(directory: Path, name: str, entry: object) -> None:
    """A component folder is a plain sub-folder name of the pipeline folder: not ``../x``, an absolute path
    or a symlink that leads out of it."""
    folder = directory / str(entry)
    if (not isinstance(entry, str) or not entry or "/" in entry or "\\" in entry or entry in (".", "..")
            or Path(entry).is_absolute()):
        raise CheckpointError(f"{directory / CONFIG_NAME}: component {name!r} must be a sub-folder name of the model "
                              f"folder, got {entry!r}")
    real, root = folder.resolve(), directory.resolve()
    if root not in real.parents:
        raise CheckpointError(f"refusing {directory / CONFIG_NAME}: component {name!r} ({entry}) resolves to {real}, "
                              f"outside the model folder {root}")
