"""Probe (issue 20, twelfth pass): a stranger's real speech (and the same speaker's) moved toward the prompt's voice by (a) kNN matching
(k=4, continuity 0.05: the option), (b) matching the per-dimension mean / std of the codec latents (AdaIN-like): of the whole 5 s,
and causal as the library does it (PromptStatisticsMatcher, several priors).
Speaker similarity to the prompt and DNSMOS OVRL, validation clips only."""
import json, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from validation_ladder import validation_clips
from pathlib import Path
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.voice_match import PromptStatisticsMatcher, code_latents, match_to_prompt
from audiolm_lib.eval.speaker import speaker_similarity
from audiolm_lib.eval.perceptual import dnsmos
from audiolm_lib.eval.voicing import voicing_report

model = AudioLM.from_pretrained("/work/main/checkpoints/speech")
codec = model.codec.eval()
clips = []
for m in sys.argv[1:]:
    clips += validation_clips(Path(m), "valid", 2)
clips = [c for c in clips if c["wave"].numel() >= 16000 * 8]
print(len(clips), "clips", file=sys.stderr)

def stats_match(gen, prompt, strength=1.0, std=True, floor=1e-3):
    levels = gen.shape[1]
    g, p = code_latents(codec, gen), code_latents(codec, prompt[:, :levels])
    mg, mp = g.mean(-1, keepdim=True), p.mean(-1, keepdim=True)
    if std:
        sg, sp = g.std(-1, keepdim=True).clamp_min(floor), p.std(-1, keepdim=True).clamp_min(floor)
        out = (g - mg) / sg * sp + mp
    else:
        out = g - mg + mp
    out = torch.lerp(g, out, strength)
    return codec.quantizer.encode(out, levels)

rows = []
with torch.inference_mode():
    for i, clip in enumerate(clips):
        other = next(clips[(i + j) % len(clips)] for j in range(1, len(clips)) if clips[(i + j) % len(clips)]["speaker"] != clip["speaker"])
        w = clip["wave"]
        prompt_w = w[: 3 * 16000]
        cont_w = w[3 * 16000: 8 * 16000]
        stranger_w = other["wave"][3 * 16000: 8 * 16000]
        pc = codec.encode(prompt_w[None, None])
        row = {"id": clip["id"], "set": clip["set"]}
        for name, src in (("same", cont_w), ("stranger", stranger_w)):
            sc = codec.encode(src[None, None])
            variants = {"resynth": sc, "knn4c05": match_to_prompt(codec, sc, pc, 0.05, 4, 1.0),
                        "stats": stats_match(sc, pc), "stats75": stats_match(sc, pc, 0.75), "mean": stats_match(sc, pc, std=False),
                        **{f"causal{n}": PromptStatisticsMatcher(codec, pc, 1.0, n)(sc) for n in (0, 10, 25, 50)}}
            for vname, codes in variants.items():
                out = codec.decode(codes)[0, 0]
                row[f"{name}/{vname}/sim"] = speaker_similarity(prompt_w, out, 16000)
                row[f"{name}/{vname}/ovrl"] = dnsmos(out, 16000)["ovrl"]
                row[f"{name}/{vname}/voiced"] = voicing_report(out, 16000)["voiced_share"]
        rows.append(row)
        print(json.dumps(row), flush=True)
json.dump(rows, open("probe_rows.json", "w"), indent=0)  # (run in two parts, joined by id, for the table)
