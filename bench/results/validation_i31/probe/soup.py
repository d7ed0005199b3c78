"""Soups of the shipped generator (the seeded mean of legs 2 and 3) and the control's leg 4, as average_tune_legs
[2, 3, 4] / [2, 3, 4, 4] would make them, into copies of the control's assembled folder (only acoustic_lm differs)."""
import shutil
from pathlib import Path

from audiolm_lib.serialization import load_pretrained

shipped = load_pretrained(Path("/work/ck_control/speech/stage_parallel_average/model"))
leg4 = load_pretrained(Path("/work/ck_control/speech/stage_parallel_tune4/model"))
for name, share in (("soup3", 1 / 3), ("soup2", 1 / 2)):
    a, b = shipped.state_dict(), leg4.state_dict()
    mean = {k: ((1 - share) * a[k].double() + share * b[k].double()).to(a[k].dtype) if a[k].is_floating_point() else b[k]
            for k in a}
    leg4_copy = load_pretrained(Path("/work/ck_control/speech/stage_parallel_tune4/model"))
    leg4_copy.load_state_dict(mean)
    out = Path(f"/work/cand/{name}")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree("/work/cand/ck_control", out)
    shutil.rmtree(out / "acoustic_lm")
    leg4_copy.save_pretrained(out / "acoustic_lm", dtype="float16")
    print(name, out)
