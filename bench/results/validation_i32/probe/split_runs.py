"""Split a validation ladder JSON with several --set runs into one file per run: python3 split_runs.py IN.json
NAME1 NAME2 ... writes NAMEi_sSEED.json (SEED from IN's name, ..._sN.json) beside IN, each with ``runs`` = [run i]."""
import json
import re
import sys
from pathlib import Path

source = Path(sys.argv[1])
seed = re.search(r"_s(\d+)\.json$", source.name).group(1)
data = json.loads(source.read_text())
for name, run in zip(sys.argv[2:], data["runs"], strict=True):
    (source.parent / f"{name}_s{seed}.json").write_text(json.dumps(dict(data, runs=[run])))
