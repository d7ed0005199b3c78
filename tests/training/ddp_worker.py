"""Run by tests/training/test_distributed.py under ``torchrun --standalone --nproc_per_node 2``.

Each rank trains a tiny semantic stage with DDP (gloo) twice: straight through, and stopped at step 2 then
resumed; it writes a digest of its weights and the items it drew to ``OUT/rank{r}.json``.
"""
import hashlib
import json
import sys
from pathlib import Path

import torch

from audiolm_lib.training.config import StageTrainConfig
from audiolm_lib.training.data import InMemoryTokenCache
from audiolm_lib.training.distributed import cleanup_distributed, exit_worker, setup_distributed
from audiolm_lib.training.metrics import read_metrics
from audiolm_lib.training.trainer import StageTrainer


def digest(module: torch.nn.Module) -> str:
    sha = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        sha.update(name.encode())
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def main(out: Path) -> None:
    torch.set_num_threads(1)
    info = setup_distributed("cpu")
    cache = InMemoryTokenCache.random(10, 2.0, num_quantizers=6, semantic_vocab_size=32, codebook_size=64, valid_items=2)
    config = StageTrainConfig(
        stage="semantic", crop_seconds=0.5, batch_size=2, grad_accumulation=2, steps=4, warmup_steps=1,
        log_every=1, eval_every=2, sample_every=4, checkpoint_every=2, progress=False, tensorboard=False,
        lr=1e-2, model={"transformer": {"dim": 16, "depth": 1, "heads": 2, "max_seq_len": 256, "dropout": 0.1}},
    )
    full = StageTrainer(config, cache, out / "full", dist=info)
    initial = digest(full.model)
    drawn = [full.batches._item_index(n) for n in range(4)]
    full.train()
    StageTrainer(config, cache, out / "resumed", dist=info).train(max_steps=2)
    resumed = StageTrainer(config, cache, out / "resumed", resume=True, dist=info)
    resumed.train()
    record = {
        "rank": info.rank,
        "world_size": info.world_size,
        "initial": initial,
        "final": digest(full.model),
        "ema": digest(full.ema.shadow),
        "resumed_final": digest(resumed.model),
        "items": drawn,
    }
    if info.is_main:
        record["log_full"] = [(r["step"], r["loss"]) for r in read_metrics(out / "full") if r["split"] == "train"]
        record["log_resumed"] = [(r["step"], r["loss"]) for r in read_metrics(out / "resumed") if r["split"] == "train"]
    (out / f"rank{info.rank}.json").write_text(json.dumps(record))
    cleanup_distributed()
    exit_worker(0)  # as `audiolm train` under torchrun: never abort in gloo's teardown after the work is done


if __name__ == "__main__":
    main(Path(sys.argv[1]))
