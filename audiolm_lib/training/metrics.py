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
