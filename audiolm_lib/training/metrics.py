"""Metric logging people use: JSONL + CSV files, and TensorBoard when it is installed."""
from __future__ import annotations

import csv
import io
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from audiolm_lib.atomic import append_line, atomic_write, atomic_write_text, read_lines
from audiolm_lib.inputs import MAX_MANIFEST_BYTES, check_input_file, read_text


class MetricsLogger:
    """Appends ``{"step", "time", name: value, ...}`` rows to ``metrics.jsonl`` and ``metrics.csv``.

    Appending (not rewriting) keeps the log of a resumed run continuous; each row is one ``write`` call
    (:func:`~audiolm_lib.atomic.append_line`), so a crash can only cut the last line, which the readers skip
    with a warning and opening a logger removes. Only rank 0 should log.
    """

    def __init__(self, directory: str | os.PathLike, tensorboard: bool = True, enabled: bool = True):
        self.enabled = enabled
        self.directory = Path(directory)
        self._writer = None
        self._csv_fields: list[str] | None = None
        if not enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in [self.directory / "metrics.jsonl", *_own_csv_files(self.directory)]:
            _drop_torn_tail(path)  # a later row must not be appended to a cut line
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(self.directory / "tensorboard"))
            except Exception:  # tensorboard not installed: files only
                self._writer = None

    def log(self, step: int, split: str = "train", **values: Any) -> None:
        if not self.enabled:
            return
        row = {"step": int(step), "split": split, "time": round(time.time(), 3)}
        row.update({k: float(v) for k, v in values.items()})
        append_line(self.directory / "metrics.jsonl", json.dumps(row))
        self._append_csv(self.directory / f"metrics_{split}.csv", row)
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(f"{split}/{key}", float(value), step)

    def _append_csv(self, csv_path: Path, row: dict[str, Any]) -> None:
        """One row under the file's own header: a row with fewer keys leaves those cells empty, and a row with a
        key the header lacks rewrites the file once with the widened header (columns never shift)."""
        header = _csv_header(csv_path)
        if header is not None and not set(row) <= set(header):
            header = header + [key for key in row if key not in header]
            with open(csv_path, newline="", encoding="utf-8") as handle:
                old_rows = list(csv.DictReader(handle))
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(old_rows)
            atomic_write_text(csv_path, buffer.getvalue())
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header or list(row), lineterminator="\n")
        if header is None:
            writer.writeheader()
        writer.writerow(row)
        append_line(csv_path, buffer.getvalue())

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_metrics(directory: str | os.PathLike) -> list[dict]:
    """Rows of ``directory/metrics.jsonl``; a torn last line (a killed run) is skipped with a warning naming
    the file, any other bad line raises ``ValueError`` naming the file and line."""
    path = Path(directory) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in read_lines(path, _is_json_row, "metrics")]


def truncate_metrics(directory: str | os.PathLike, last_step: int) -> None:
    """Drop rows logged after ``last_step`` (a run killed past its last checkpoint), so a resumed log is
    continuous; a torn last line is dropped too (with a warning naming the file)."""
    directory = Path(directory)
    jsonl = directory / "metrics.jsonl"
    if jsonl.exists():
        kept = [line for line in read_lines(jsonl, _is_json_row, "metrics") if json.loads(line)["step"] <= last_step]
        atomic_write_text(jsonl, "".join(line + "\n" for line in kept))
    for csv_path in _own_csv_files(directory):
        lines = csv_path.read_text(encoding="utf-8", errors="replace").split("\n")
        if not lines or not lines[0].strip():
            continue
        header = lines[0]
        step_column = header.split(",").index("step")
        rows = read_lines(csv_path, lambda line: _is_csv_row(line, header, step_column), "CSV metrics")[1:]
        kept = [row for row in rows if int(row.split(",")[step_column]) <= last_step]
        atomic_write_text(csv_path, "\n".join([header] + kept) + "\n")


def _own_csv_files(directory: Path) -> list[Path]:
    """The ``metrics_<split>.csv`` files this logger wrote (their header starts ``step,split,time``); a user's
    ``metrics_summary.csv`` beside them is never cut or rewritten."""
    own = []
    for path in sorted(directory.glob("metrics_*.csv")):
        try:
            with open(check_input_file(path, "metrics CSV"), encoding="utf-8", errors="replace") as handle:
                first = handle.readline(256)
        except (OSError, ValueError):
            continue
        if first.startswith("step,split,time"):
            own.append(path)
    return own


def _is_json_row(line: str) -> bool:
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return isinstance(row, dict) and isinstance(row.get("step"), int)


def _is_csv_row(line: str, header: str, step_column: int) -> bool:
    if line == header:
        return True
    cells = line.split(",")
    return len(cells) > step_column and cells[step_column].strip().lstrip("-").isdigit()


def _drop_torn_tail(path: Path) -> None:
    """Cut a log file back to its last complete line (atomically), warning that a torn line was removed."""
    if not path.exists():
        return
    data = read_text(path, "metrics log", max_bytes=MAX_MANIFEST_BYTES, errors="surrogateescape").encode(
        "utf-8", errors="surrogateescape")
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    warnings.warn(f"{path}: removing a torn last line ({len(data) - cut} bytes, from an interrupted run)",
                  stacklevel=3)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data[:cut]))


def _csv_header(csv_path: Path) -> list[str] | None:
    """The column names of an existing, non-empty CSV file, else ``None``."""
    if not csv_path.exists():
        return None
    with open(check_input_file(csv_path, "metrics CSV"), newline="", encoding="utf-8") as handle:
        first = handle.readline().strip()
    return first.split(",") if first else None
