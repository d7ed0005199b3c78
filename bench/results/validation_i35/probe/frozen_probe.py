"""Probe (issue 20, seventeenth pass, after rule 28): does adapting only the transformer blocks, with the code
embeddings and the output head kept as shipped, spare the Asterisk voices? Mechanism to test: on a 3 s prompt the
cross-entropy pushes down the head's logits of every code the prompt does not use, and AdamW turns even those small
gradients into full-size steps, so the copy forgets codes that a continuation with new content (the semantic stage's)
needs. Through the whole pipeline (rung d: the semantic stage's ids, then the adapted generator, envelope matching 0.5,
pf10), generation seeds 5 and 6, the first item of six Asterisk voices and four TTS voices: shipped; all weights (ad60,
rule 28's candidate); blocks only at 1e-4 and at 3e-4, 60 steps. ``python frozen_probe.py MANIFEST OUT.json VOICE,...``"""
import sys

import torch
from shared import compare_pipeline_variants, shipped_speech_model, voice_items

from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
model.config.envelope_match_strength = 0.5
items = voice_items(sys.argv[1], sys.argv[3].split(","))
# name: (parts, learning rate); 60 steps, batch 8 (the library's adapt_to_prompt, which took this probe's loop)
VARIANTS = {"base": None, "all": ("all", 1e-4), "blocks": ("transformer", 1e-4), "blocks_lr3e-4": ("transformer", 3e-4)}
compare_pipeline_variants(model, items, {
    name: None if setting is None else (
        lambda m, semantic, codes, setting=setting: adapt_to_prompt(m.acoustic, semantic, codes, steps=60,
                                                                    parts=setting[0], learning_rate=setting[1]))
    for name, setting in VARIANTS.items()}, sys.argv[2])
