"""Probe (issue 20, seventeenth pass, after rule 29): does a pull toward the shipped generator's own predictions on
*new* content keep the sound while adaptation carries the voice? Each adaptation step adds, to the prompt's loss,
``weight`` x KL(shipped || copy) on the masked frames of a self-made example: the prompt's last 2 s followed by 2 s the
shipped stages made from it (the semantic stage's ids, the shipped generator's codes; one fixed draw), masked with the
prompt delimiter at the boundary so that the scored frames are the new ones. The copy learns the voice from the prompt
and is held to the shipped generator where the content is new, which is where rules 28-29 lost DNSMOS (the pipeline's
ids). Through the whole pipeline (envelope matching 0.5, pf10), generation seeds 5 and 6, frozen_probe.py's voices:
shipped; all weights at 1e-4 (rule 28's); the same with the KL at weight 1 and 3.
``python distill_probe.py MANIFEST OUT.json VOICE,...``"""
import copy
import sys

import torch
import torch.nn.functional as F
from shared import compare_pipeline_variants, shipped_speech_model, voice_items

from audiolm_lib.lm.masking import training_mask

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
model.config.envelope_match_strength = 0.5
items = voice_items(sys.argv[1], sys.argv[3].split(","))
KEEP, NEW, DISTILL_BATCH = 100, 100, 4


def self_made_example(m, semantic_prompt, prompt_codes):
    """``(semantic [1, 200], codes [1, Q, 200])``: the prompt's last 2 s and 2 s of the shipped stages' continuation."""
    draw = torch.Generator().manual_seed(11)
    sampling = {"acoustic": {"temperature": m.config.acoustic.temperature, "top_k": None, "top_p": None}}
    with torch.inference_mode():
        new_semantic = m.semantic_lm.generate(semantic_prompt, NEW, temperature=1.0, generator=draw)
        new_codes = m.acoustic.generate_acoustic(torch.cat([semantic_prompt, new_semantic], 1), prompt_codes, NEW,
                                                 sampling=sampling, generator=draw)
    semantic = torch.cat([semantic_prompt[:, -KEEP:], new_semantic], 1).clone()
    codes = torch.cat([prompt_codes[..., -KEEP:], new_codes], -1).clone()
    return semantic, codes


def adapt(m, semantic_prompt, prompt_codes, *, weight, steps=60, lr=1e-4, batch=8, seed=0):
    acoustic = m.acoustic
    frames = prompt_codes.shape[-1]
    d_semantic, d_codes = self_made_example(m, semantic_prompt, prompt_codes) if weight else (None, None)
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codes = prompt_codes.clone().expand(batch, -1, -1)
        semantic = semantic_prompt.clone().expand(batch, -1)
        tuned = copy.deepcopy(acoustic).train()
        optimiser = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
        masks = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            mask = training_mask(batch, codes.shape[1], frames, generator=masks, scored_levels=tuned.config.output_levels)
            loss = tuned(semantic, codes, mask=mask)
            if weight:
                d_mask = training_mask(DISTILL_BATCH, d_codes.shape[1], d_codes.shape[-1], generator=masks,
                                       prompt_frames=torch.full((DISTILL_BATCH,), KEEP),
                                       scored_levels=tuned.config.output_levels)
                s, c = d_semantic.expand(DISTILL_BATCH, -1), d_codes.expand(DISTILL_BATCH, -1, -1)
                logits, _ = tuned.masked_logits(s, c, d_mask)
                with torch.no_grad():
                    target, _ = acoustic.masked_logits(s, c, d_mask)
                loss = loss + weight * F.kl_div(F.log_softmax(logits.float(), -1), F.log_softmax(target.float(), -1),
                                                log_target=True, reduction="batchmean")
            optimiser.zero_grad(set_to_none=True); loss.backward(); optimiser.step()
    for p in tuned.parameters():
        p.requires_grad_(False)
    return tuned.eval()


VARIANTS = {"base": None, "all": 0.0, "kl1": 1.0, "kl3": 3.0}
compare_pipeline_variants(model, items, {
    name: None if weight is None else (lambda m, semantic, codes, weight=weight: adapt(m, semantic, codes, weight=weight))
    for name, weight in VARIANTS.items()}, sys.argv[2])
