"""Probe (issue 20, sixteenth pass, after rule 27): does a pull back toward the shipped weights (L2-SP: the loss plus
``lambda * ||w - w0||^2`` summed over the weights) keep the adapted copy's pauses clean and its voice? Rung c (true
semantic ids, then pf10), seed 2, on the pause probe's voices: the shipped generator; ad60; ad60 with L2-SP at two
strengths. ``python l2sp_probe.py MANIFEST OUT.json VOICE,...``"""
import copy
import sys

import torch
from shared import compare_variants, shipped_speech_model, voice_items

from audiolm_lib.lm.masking import training_mask
from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
items = voice_items(sys.argv[1], sys.argv[3].split(","))
STRENGTHS = (0.01, 0.1)  # ad60 moves the weights by a sum of squares of ~45: a pull of 0.45-4.5 nats


def adapt_l2sp(semantic, codes, strength, steps=60, lr=1e-4, batch=8, seed=0):
    """adapt_to_prompt's loop with the L2-SP term (the prompt fits one window here)."""
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        c, s = codes.clone().expand(batch, -1, -1), semantic.clone().expand(batch, -1)
        tuned = copy.deepcopy(gen).train()
        anchors = [p.detach().clone() for p in tuned.parameters()]
        optimiser = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
        masks = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            mask = training_mask(batch, c.shape[1], c.shape[2], generator=masks, scored_levels=tuned.config.output_levels)
            pull = sum((p - a).pow(2).sum() for p, a in zip(tuned.parameters(), anchors))
            loss = tuned(s, c, mask=mask) + strength * pull
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return tuned.eval()


compare_variants(model, items, prompt_frames, lambda sem_prompt, prompt: {
    "base": gen, "ad60": adapt_to_prompt(gen, sem_prompt, prompt, steps=60),
    **{f"l2sp{strength:g}": adapt_l2sp(sem_prompt, prompt, strength) for strength in STRENGTHS}}, sys.argv[2])
