"""Files the library reads: regular files (inside the folder they came with), size-limited, parsed with bounds.

A FIFO or device where a file is expected would block (or never end) on ``open``/``read``; a sparse 20 GB
``config.json`` would be read whole; a 460-byte YAML alias bomb or 10^5 nested JSON brackets expand or recurse
without end. Every reader here checks first, with ``os.stat`` (never ``open``), that the path is a regular file
(symlinks are followed; with ``inside=`` the real path must stay in that folder) no larger than a limit for
its kind, and parses JSON/YAML with refusals instead of crashes. Errors are :class:`InputFileError` (a
``ValueError``: the CLI prints one line). Torch-free.
"""
from __future__ import annotations

import functools
import json
import os
import stat
from pathlib import Path
from typing import Any

KIB, MIB = 1024, 1024 * 1024
# size limits before reading, by kind of file
MAX_CONFIG_BYTES = 4 * MIB  # config.json, --config, preprocessor / HF JSON, header.json, build.json
MAX_INDEX_BYTES = 256 * MIB  # a token-cache shard's index.json (one line per utterance)
MAX_MANIFEST_BYTES = 512 * MIB  # manifest.jsonl, .txt lists of files, logs read back
MAX_TRANSCRIPT_BYTES = 1 * MIB  # a .txt transcript beside an audio file
MAX_JSON_DEPTH = 64  # nesting of any JSON/YAML document the library reads


class InputFileError(ValueError):
    """An input file that is missing, not a regular file, outside its folder, too large or not parseable."""


def check_input_file(path: str | os.PathLike, what: str, *, inside: str | os.PathLike | None = None,
                     max_bytes: int | None = None) -> Path:
    """``path`` if it is an existing regular file (of at most ``max_bytes``); checked by ``stat``, nothing opened.

    ``inside``: the file's real path (symlinks resolved) must lie in this folder's real path.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        detail = " (a symlink to a missing file)" if path.is_symlink() else ""
        raise InputFileError(f"{what} not found: {path}{detail}") from None
    except OSError as exc:
        raise InputFileError(f"cannot access {what} {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"refusing {what} {path}: not a regular file (a FIFO, socket or device)")
    if inside is not None:
        check_inside(path, inside, what)
    if max_bytes is not None and info.st_size > max_bytes:
        raise InputFileError(f"refusing {what} {path}: {info.st_size:,} bytes, more than the {max_bytes:,} "
                             f"such a file may have")
    return path


def check_inside(path: str | os.PathLike, folder: str | os.PathLike, what: str) -> Path:
    """``path`` if its real path lies inside ``folder``'s real path (no ``..``, absolute path or symlink out)."""
    real, root = Path(path).resolve(), Path(folder).resolve()
    if root != real and root not in real.parents:
        raise InputFileError(f"refusing {what} {path}: it resolves to {real}, outside the folder {root}")
    return Path(path)


def read_text(path: str | os.PathLike, what: str, *, max_bytes: int = MAX_CONFIG_BYTES,
              inside: str | os.PathLike | None = None, errors: str = "strict") -> str:
    """The UTF-8 text of a checked file (:func:`check_input_file`); at most ``max_bytes`` are ever read."""
    path = check_input_file(path, what, inside=inside, max_bytes=max_bytes)
    with open(path, "rb") as handle:  # a regular file: open cannot block
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after the check
        raise InputFileError(f"refusing {what} {path}: more than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{what} {path} is not UTF-8 text: {exc}") from None


def parse_json(text: str, source: str) -> Any:
    """``json.loads`` with one-line errors for bad syntax and for nesting deeper than :data:`MAX_JSON_DEPTH`."""
    if len(text) <= MAX_CONFIG_BYTES and _max_bracket_depth(text) > MAX_JSON_DEPTH:
        raise InputFileError(f"{source}: JSON nested more than {MAX_JSON_DEPTH} levels deep; refusing it")
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise InputFileError(f"{source} is not valid JSON (truncated or corrupt?): {exc}") from None
    except RecursionError:
        raise InputFileError(f"{source}: JSON nested too deeply; refusing it") from None


def read_json(path: str | os.PathLike, what: str, *, max_bytes: int = MAX_CONFIG_BYTES,
              inside: str | os.PathLike | None = None) -> Any:
    """Parse a checked JSON file (:func:`read_text` + :func:`parse_json`)."""
    return parse_json(read_text(path, what, max_bytes=max_bytes, inside=inside), f"{what} {path}")


def parse_yaml(text: str, source: str) -> Any:
    """YAML as plain data: anchors and aliases (the way a few hundred bytes expand to gigabytes) are refused,
    and so are documents nested deeper than :data:`MAX_JSON_DEPTH`."""
    import yaml

    if _max_bracket_depth(text) > MAX_JSON_DEPTH:
        raise InputFileError(f"{source}: YAML nested more than {MAX_JSON_DEPTH} levels deep; refusing it")
    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise InputFileError(f"{source} is not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise InputFileError(f"{source}: YAML nested too deeply; refusing it") from None


@functools.lru_cache(maxsize=1)
def _yaml_loader() -> type:
    import yaml

    class PlainYamlLoader(yaml.SafeLoader):
        """SafeLoader without anchors/aliases (no expansion bombs) and with bounded nesting."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None) is not None:
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name / *name) are not "
                                                  "supported in audiolm_lib configs; write the values out",
                                                  event.start_mark)
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > MAX_JSON_DEPTH:
                    raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_JSON_DEPTH} levels",
                                                      self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return PlainYamlLoader


def _max_bracket_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting of ``text`` (strings included: an upper bound, cheap, no recursion)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest
