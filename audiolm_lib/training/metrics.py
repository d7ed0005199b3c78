"""Metric logging people use: JSONL + CSV files, and TensorBoard when it is installed."""
from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any


class MetricsLogger:
    """Appends ``{"step", "time", name: value, ...}`` rows to ``metrics.jsonl`` and ``metrics.csv``.

    Appending (not rewriting) keeps the log of a resumed run continuous. Only rank 0 should log.
    """

    def __init__(self, directory: str | os.PathLike, tensorboard: bool = True, enabled: bool = True):
        self.enabled = enabled
        self.directory = Path(directory)
        self._writer = None
        self._csv_fields: list[str] | None = None
        if not enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
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
        with open(self.directory / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        csv_path = self.directory / f"metrics_{split}.csv"
        fields = list(row)
        new_file = not csv_path.exists()
        with open(csv_path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(f"{split}/{key}", float(value), step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_metrics(directory: str | os.PathLike) -> list[dict]:
    path = Path(directory) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def truncate_metrics(directory: str | os.PathLike, last_step: int) -> None:
    """Drop rows logged after ``last_step`` (a run killed past its last checkpoint), so a resumed log is continuous."""
    from audiolm_lib.serialization import atomic_write_text

    directory = Path(directory)
    jsonl = directory / "metrics.jsonl"
    if jsonl.exists():
        kept = [line for line in jsonl.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["step"] <= last_step]
        atomic_write_text(jsonl, "".join(line + "\n" for line in kept))
    for csv_path in directory.glob("metrics_*.csv"):
        with open(csv_path, newline="", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        if not lines:
            continue
        header, rows = lines[0], lines[1:]
        step_column = header.split(",").index("step")
        kept = [row for row in rows if int(row.split(",")[step_column]) <= last_step]
        atomic_write_text(csv_path, "\n".join([header] + kept) + "\n")
