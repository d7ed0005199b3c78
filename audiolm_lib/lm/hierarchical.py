"""The paper's acoustic stages, coarse (RVQ levels ``1..Qc`` given semantic tokens) then fine (levels
``Qc+1..Qc+Qf`` given the coarse ones), behind the acoustic generator interface
(:class:`~audiolm_lib.interfaces.AcousticGeneratorProtocol`) that :class:`~audiolm_lib.AudioLM` calls.

The pair samples exactly as the pipeline always did (coarse, then fine, from one ``torch.Generator``), so outputs
of existing checkpoints do not change. A batch of prompts runs as one batch through both stages.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class HierarchicalAcoustic(nn.Module):
    """``CoarseLM`` + ``FineLM`` as one acoustic generator of ``Qc + Qf`` levels.

    Args:
        coarse_lm: a :class:`~audiolm_lib.lm.stages.CoarseLM` (any layout).
        fine_lm: a :class:`~audiolm_lib.lm.stages.FineLM` (any layout).
    """

    sampling_stages = ("coarse", "fine")

    def __init__(self, coarse_lm: nn.Module, fine_lm: nn.Module) -> None:
        super().__init__()
        self.coarse_lm = coarse_lm
        self.fine_lm = fine_lm

    @property
    def num_coarse(self) -> int:
        return int(self.coarse_lm.config.num_coarse_quantizers)

    @property
    def num_fine(self) -> int:
        return int(self.fine_lm.config.num_fine_quantizers)

    @property
    def semantic_vocab_size(self) -> int:
        return int(self.coarse_lm.config.semantic_vocab_size)

    @property
    def semantic_rate(self) -> float:
        return float(self.coarse_lm.config.semantic_rate)

    @property
    def acoustic_rate(self) -> float:
        return float(self.coarse_lm.config.acoustic_rate)

    @property
    def codebook_size(self) -> int:
        return int(self.coarse_lm.config.codebook_size)

    @property
    def num_quantizers(self) -> int:
        return self.num_coarse + self.num_fine

    def describe(self) -> str:
        """One line for ``audiolm info``: how the levels are generated."""
        return (f"coarse + fine stages: coarse levels 1-{self.num_coarse} given semantic tokens, fine levels "
                f"{self.num_coarse + 1}-{self.num_quantizers} given the coarse ones")

    def compatibility_problems(self) -> list[str]:
        coarse, fine = self.coarse_lm.config, self.fine_lm.config
        problems = []
        if not math.isclose(float(coarse.acoustic_rate), float(fine.acoustic_rate), rel_tol=1e-6):
            problems.append(f"acoustic rate (coarse LM vs fine LM): {coarse.acoustic_rate} != {fine.acoustic_rate}")
        if coarse.codebook_size != fine.codebook_size:
            problems.append(f"codebook size (coarse LM vs fine LM): {coarse.codebook_size} != {fine.codebook_size}")
        if coarse.num_coarse_quantizers != fine.num_coarse_quantizers:
            problems.append(f"coarse levels (coarse LM vs fine LM): {coarse.num_coarse_quantizers} != "
                            f"{fine.num_coarse_quantizers}")
        return problems

    def components(self) -> dict[str, nn.Module]:
        """What :meth:`AudioLM.save_pretrained` writes, one sub-folder each."""
        return {"coarse_lm": self.coarse_lm, "fine_lm": self.fine_lm}

    @classmethod
    def from_components(cls, coarse_lm: nn.Module, fine_lm: nn.Module) -> "HierarchicalAcoustic":
        return cls(coarse_lm, fine_lm)

    def generate_acoustic(self, semantic: Tensor, prompt: Tensor | None, num_frames: int, *,
                          sampling: dict[str, dict], generator: torch.Generator | None = None,
                          progress: bool = False) -> Tensor:
        """Coarse then fine: ``semantic: LongTensor[B, S]``, ``prompt: LongTensor[B, Qc + Qf, F0]`` or None ->
        ``LongTensor[B, Qc + Qf, num_frames]``."""
        levels = self.num_coarse
        coarse_prompt = None if prompt is None else prompt[:, :levels]
        fine_prompt = None if prompt is None else prompt[:, levels:]
        if fine_prompt is not None and fine_prompt.shape[1] != self.num_fine:
            raise ValueError(f"prompt must have {self.num_quantizers} levels (dim 1), got shape {tuple(prompt.shape)}")
        new_coarse = self.coarse_lm.generate(semantic, coarse_prompt, num_frames, generator=generator,
                                             **sampling.get("coarse", {}))
        all_coarse = new_coarse if coarse_prompt is None else torch.cat([coarse_prompt, new_coarse], dim=-1)
        new_fine = self.fine_lm.generate(all_coarse, fine_prompt, generator=generator, **sampling.get("fine", {}))
        return torch.cat([new_coarse, new_fine], dim=1)
