"""Write evaluation results as JSON (everything) and a small Markdown table (the numbers people read)."""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from audiolm_lib.serialization import atomic_write_text


def _to_builtin(value: Any) -> Any:
    """numpy / torch scalars and arrays -> plain Python, so ``json`` can write them."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _format(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(row, Mapping) for row in value)


def _flatten(results: Mapping, prefix: str = "") -> tuple[list[tuple[str, Any]], list[tuple[str, list]]]:
    """Scalars as ``(dotted.key, value)`` rows; lists of dicts as separate tables; other lists are JSON-only."""
    scalars, tables = [], []
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            inner_scalars, inner_tables = _flatten(value, f"{name}.")
            scalars += inner_scalars
            tables += inner_tables
        elif _is_table(value):
            tables.append((name, value))
        elif not isinstance(value, (list, tuple)):
            scalars.append((name, _to_builtin(value) if hasattr(value, "tolist") else value))
    return scalars, tables


def markdown_report(results: Mapping, title: str = "Evaluation") -> str:
    """``results`` -> Markdown: one ``metric | value`` table, then one table per list of records."""
    if not isinstance(results, Mapping):
        raise ValueError(f"results must be a dict, got {type(results).__name__}")
    scalars, tables = _flatten(results)
    lines = [f"# {title}", ""]
    if scalars:
        lines += ["| metric | value |", "| --- | --- |"]
        lines += [f"| {_format(name)} | {_format(value)} |" for name, value in scalars]
        lines.append("")
    for name, rows in tables:
        columns = list(dict.fromkeys(column for row in rows for column in row))
        lines += [f"## {name}", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        lines += ["| " + " | ".join(_format(row.get(column)) for column in columns) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def write_report(results: Mapping, out_dir: str | os.PathLike, name: str = "eval", title: str = "Evaluation") -> tuple[Path, Path]:
    """Write ``<out_dir>/<name>.json`` (all results) and ``<out_dir>/<name>.md`` (tables); returns both paths."""
    if not isinstance(results, Mapping):
        raise ValueError(f"results must be a dict, got {type(results).__name__}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"report output path exists and is not a directory: {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=_to_builtin, allow_nan=True)
    json_path = atomic_write_text(out_dir / f"{name}.json", text + "\n")
    md_path = atomic_write_text(out_dir / f"{name}.md", markdown_report(results, title))
    return json_path, md_path
