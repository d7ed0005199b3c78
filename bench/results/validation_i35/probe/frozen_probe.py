"""Probe (issue 20, seventeenth pass, after rule 28): does adapting only the transformer blocks, with the code
embeddings and the output head kept as shipped, spare the Asterisk voices? Mechanism to test: on a 3 s prompt the
cross-entropy pushes down the head's logits of every code the prompt does not use, and AdamW turns even those small
gradients into full-size steps, so the copy forgets codes that a continuation with new content (the semantic stage's)
needs. Through the whole pipeline (rung d: the semantic stage's ids, then the adapted generator, envelope matching 0.5,
pf10), generation seeds 5 and 6, the first item of six Asterisk voices and four TTS voices: shipped; all weights (ad60,
rule 28's candidate); blocks only at 1e-4 and at 3e-4, 60 steps. ``python frozen_probe.py MANIFEST OUT.json VOICE,...``"""
import copy
import sys

import torch
from shared import compare_pipeline_variants, shipped_speech_model, voice_items

from audiolm_lib.lm.masking import training_mask

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
model.config.envelope_match_strength = 0.5
items = voice_items(sys.argv[1], sys.argv[3].split(","))
EMBEDDINGS_AND_HEAD = ("code_embedding", "semantic_embedding", "head")


def adapt(acoustic, semantic_prompt, prompt_codes, *, steps=60, lr=1e-4, batch=8, blocks_only=False, seed=0):
    frames = prompt_codes.shape[-1]
    keep = min(frames, acoustic.window, acoustic.transformer.config.max_seq_len)
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codes = prompt_codes[..., frames - keep:].clone().expand(batch, -1, -1)
        semantic = semantic_prompt.clone().expand(batch, -1)
        tuned = copy.deepcopy(acoustic).train()
        params = [p for n, p in tuned.named_parameters() if not (blocks_only and n.split(".")[0] in EMBEDDINGS_AND_HEAD)]
        optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        masks = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            mask = training_mask(batch, codes.shape[1], keep, generator=masks, scored_levels=tuned.config.output_levels)
            loss = tuned(semantic, codes, mask=mask)
            optimiser.zero_grad(set_to_none=True); loss.backward(); optimiser.step()
    for p in tuned.parameters():
        p.requires_grad_(False)
    return tuned.eval()


VARIANTS = {"base": None, "all": {}, "blocks": {"blocks_only": True}, "blocks_lr3e-4": {"blocks_only": True, "lr": 3e-4}}
compare_pipeline_variants(model, items, {
    name: None if options is None else (lambda m, semantic, codes, options=options: adapt(m.acoustic, semantic, codes,
                                                                                            **options))
    for name, options in VARIANTS.items()}, sys.argv[2])
