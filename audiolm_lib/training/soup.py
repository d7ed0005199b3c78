"""Weight averaging of trained models: a "model soup" (Wortsman et al. 2022), e.g. two tune legs of one stage whose
mean scores better than either (``checkpoints/recipes`` ``average_tune_legs``)."""
from __future__ import annotations

from pathlib import Path


def average_models(sources: list[Path], out: Path) -> Path:
    """The element-wise mean of the weights of ``sources`` (model folders of one class and shape) saved as a model
    folder at ``out``. Integer buffers and the config and provenance are the last source's."""
    from audiolm_lib.serialization import load_pretrained

    models = [load_pretrained(source) for source in sources]
    states = [model.state_dict() for model in models]
    if any(state.keys() != states[0].keys() or any(state[k].shape != states[0][k].shape for k in state)
           for state in states):
        raise SystemExit(f"cannot average {[str(s) for s in sources]}: their weights differ in names or shapes")
    # summed in float64 so that the mean of float16-stored weights is not rounded twice
    mean = {key: (sum(state[key].double() for state in states) / len(states)).to(states[0][key].dtype)
            if states[0][key].is_floating_point() else states[-1][key] for key in states[0]}
    models[-1].load_state_dict(mean)
    models[-1].save_pretrained(out)
    return out
