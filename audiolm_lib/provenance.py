"""Provenance: what a tokenizer or codec is (:func:`component_identity`), what a trained stage records of the ones
its tokens came from (:func:`identity_summary`, its ``trained_on``), and whether an assembled model's parts agree
(:func:`provenance_problems`, run by :class:`~audiolm_lib.AudioLM` on construction).

Shared by the token cache (training) and the pipeline (inference), so neither imports the other.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import torch

from audiolm_lib.serialization import class_path, config_to_dict


def component_identity(component: Any, *, with_weights: bool = True) -> dict:
    """What makes a tokenizer or codec produce the ids it does: class, config, rates, and a weights digest.

    Two caches (or a cache and a model) agree only if these agree; the SHA-1 over parameters and buffers
    catches two checkpoints of the same class and config.
    """
    identity: dict[str, Any] = {"class": class_path(type(component))}
    config = getattr(component, "config", None)
    if config is not None and dataclasses.is_dataclass(config):
        identity["config"] = config_to_dict(config)
    for name in ("sample_rate", "frame_rate", "hop_length", "num_quantizers", "codebook_size", "vocab_size"):
        value = getattr(component, name, None)
        if isinstance(value, (int, float)):
            identity[name] = value
    if with_weights and isinstance(component, torch.nn.Module):
        digest = hashlib.sha1()
        for key, tensor in sorted(component.state_dict().items()):
            digest.update(key.encode("utf-8"))
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        identity["weights_sha1"] = digest.hexdigest()
    return identity


def tokens_digest(component: Any) -> str | None:
    """SHA-1 over the weights that decide a component's ids alone: a codec's encoder and codebooks, as its
    ``encoding_modules()`` names them (``None`` where a component does not say). A codec whose decoder was retrained
    with the encoder frozen keeps this digest, so stages trained on its codes stay recognised as fitting it."""
    modules = getattr(component, "encoding_modules", None)
    if not callable(modules):
        return None
    digest = hashlib.sha1()
    for index, module in enumerate(modules()):
        for key, tensor in sorted(module.state_dict().items()):
            digest.update(f"{index}.{key}".encode("utf-8"))
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def identity_summary(identity: dict, component: Any = None) -> dict:
    """What a trained stage records of the tokenizer or codec its data came from: class, feature type
    (tokenizers: ``mfcc``, ``logmel``, ``hubert`` ...), weights digest and, given the live ``component``, the digest of
    what decides its ids (:func:`tokens_digest`)."""
    summary = {"class": identity.get("class"), "weights_sha1": identity.get("weights_sha1")}
    features = (identity.get("config") or {}).get("features")
    if isinstance(features, dict) and features.get("kind") is not None:
        summary["features"] = features["kind"]
    tokens = tokens_digest(component) if component is not None else None
    if tokens is not None:
        summary["tokens_sha1"] = tokens
    return summary


def provenance_problems(components: dict[str, Any]) -> list[str]:
    """Compare what each component was trained on (its ``trained_on`` record, see
    :attr:`audiolm_lib.training.token_cache.TokenCache.provenance`)
    with the ``semantic_tokenizer`` and ``codec`` among ``components``.

    Another class or feature type (log-mel tokens fed to stages trained on MFCC tokens: same vocabulary and
    rate, different meaning) is a problem, returned; the same kind with other weights (a re-fitted k-means, a
    fine-tuned codec) is warned about.
    """
    import warnings

    problems, live = [], {}
    for name, part in components.items():
        trained_on = getattr(part, "trained_on", None)
        if not isinstance(trained_on, dict):
            continue
        for role in ("semantic_tokenizer", "codec"):
            recorded, given = trained_on.get(role), components.get(role)
            if not isinstance(recorded, dict) or given is None:
                continue
            if role not in live:
                live[role] = identity_summary(component_identity(given), given)
            current = live[role]
            mismatched = [f"{role} {label}: {name} was trained on tokens of {recorded[key]!r}, this {role} is "
                          f"{current[key]!r}" for key, label in (("class", "class"), ("features", "feature type"))
                          if recorded.get(key) is not None and current.get(key) not in (None, recorded[key])]
            problems += mismatched
            same_ids = recorded.get("tokens_sha1") is not None and recorded.get("tokens_sha1") == current.get("tokens_sha1")
            if not mismatched and not same_ids and recorded.get("weights_sha1") not in (None, current.get("weights_sha1")):
                kind = recorded.get("features") or str(recorded.get("class")).rpartition(".")[2]
                warnings.warn(f"{name} was trained on tokens of another {role} (also {kind}, other weights): "
                              "the ids may mean something else to it", stacklevel=3)
    return problems


def describe_difference(what: str, stored: dict, current: dict) -> str:
    """One line naming how two :func:`component_identity` records differ (class, or the differing keys)."""
    if stored.get("class") != current.get("class"):
        return f"{what}: cache built with {stored.get('class')}, given {current.get('class')}"
    keys = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
    return f"{what} ({current.get('class')}): {', '.join(keys)} differ"
