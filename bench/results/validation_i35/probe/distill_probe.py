"""Probe (issue 20, seventeenth pass, after rule 29): does a pull toward the shipped generator's own predictions on
*new* content keep the sound while adaptation carries the voice? Each adaptation step adds, to the prompt's loss,
``weight`` x KL(shipped || copy) on the masked frames of a self-made example: the prompt's last 2 s followed by 2 s the
shipped stages made from it (the semantic stage's ids, the shipped generator's codes; one fixed draw), masked with the
prompt delimiter at the boundary so that the scored frames are the new ones. The copy learns the voice from the prompt
and is held to the shipped generator where the content is new, which is where rules 28-29 lost DNSMOS (the pipeline's
ids). Through the whole pipeline (envelope matching 0.5, pf10), generation seeds 5 and 6, frozen_probe.py's voices:
shipped; all weights at 1e-4 (rule 28's); the same with the KL at weight 1 and 3.
``python distill_probe.py MANIFEST OUT.json VOICE,...``"""
import sys

import torch
from shared import compare_pipeline_variants, shipped_speech_model, voice_items

from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt, make_anchor

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
model.config.envelope_match_strength = 0.5
items = voice_items(sys.argv[1], sys.argv[3].split(","))


def adapt(m, semantic_prompt, prompt_codes, weight):
    """60 steps of all weights at 1e-4, with the anchor's KL at ``weight`` (the library's make_anchor and
    adapt_to_prompt, which took this probe's self-made example and loop: 2 s of the prompt, 2 s new, 4 masked copies)."""
    anchor = make_anchor(m, semantic_prompt, prompt_codes) if weight else None
    return adapt_to_prompt(m.acoustic, semantic_prompt, prompt_codes, steps=60, anchor=anchor, anchor_weight=weight)


VARIANTS = {"base": None, "all": 0.0, "kl1": 1.0, "kl3": 3.0}
compare_pipeline_variants(model, items, {
    name: None if weight is None else (lambda m, semantic, codes, weight=weight: adapt(m, semantic, codes, weight))
    for name, weight in VARIANTS.items()}, sys.argv[2])
