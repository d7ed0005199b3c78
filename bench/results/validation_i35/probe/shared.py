"""What this pass's probes share: the fifteenth pass's measures (speaker similarity, voiced share, DNSMOS OVRL),
the shipped speech model, and the validation items (3 s prompt + 5 s real continuation) of some voices."""
import math
import sys
from pathlib import Path

sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from validation_ladder import validation_clips  # noqa: E402

from audiolm_lib.eval.continuation_quality import speech_items  # noqa: E402
from audiolm_lib.eval.perceptual import dnsmos  # noqa: E402
from audiolm_lib.eval.speaker import speaker_similarity  # noqa: E402
from audiolm_lib.eval.voicing import voicing_report  # noqa: E402

__all__ = ["compare_variants", "dnsmos", "item_tokens", "measure", "rung_c_measures", "shipped_speech_model",
           "voice_items"]
RATE = 16000


def measure(prompt, wave):
    return {"sim": speaker_similarity(prompt, wave, RATE), "voiced": voicing_report(wave, RATE)["voiced_share"],
            "ovrl": dnsmos(wave, RATE)["ovrl"]}


def shipped_speech_model():
    """``(model, its acoustic generator, the prompt's frames)`` of ``checkpoints/speech``, in eval mode."""
    from audiolm_lib.pipeline import AudioLM

    model = AudioLM.from_pretrained("/work/main/checkpoints/speech").eval()
    return model, model.acoustic, int(math.floor(3.0 * model.acoustic_rate))


def voice_items(manifest: str, voices=None, continuation: float = 5.0) -> list[dict]:
    """The first validation item of each voice of ``manifest`` (those named in ``voices``, default all)."""
    items = speech_items(validation_clips(Path(manifest), "valid", 4), 3.0, continuation, per_speaker=1)
    return [item for item in items if voices is None or item["speaker"] in voices or item["id"] in voices]


def item_tokens(model, item: dict, prompt_frames: int):
    """``(semantic, codes, new frames, the prompt's semantic ids, the prompt's codes)`` of prompt + real continuation."""
    import torch

    with torch.inference_mode():
        semantic, codes = model.tokenize(torch.cat([item["prompt"], item["real"]]), RATE)
    return (semantic, codes, codes.shape[-1] - prompt_frames, semantic[:, :prompt_frames],
            codes[..., :prompt_frames])


def rung_c_measures(model, acoustic, item: dict, semantic, prompt, frames: int, seed: int) -> dict:
    """Rung c from ``acoustic`` (the true semantic ids, the prompt's codes; pf10 after the decoder), measured:
    :func:`measure`'s plus DNSMOS SIG and BAK."""
    import torch

    sampling = {"acoustic": {"temperature": model.config.acoustic.temperature, "top_k": None, "top_p": None}}
    with torch.inference_mode():
        new = acoustic.generate_acoustic(semantic, prompt, frames, sampling=sampling,
                                         generator=torch.Generator().manual_seed(seed))
        start = prompt.shape[-1] * int(model.codec.hop_length)
        wave = model.decode(torch.cat([prompt, new], -1), item["prompt"][None, None])[0, 0, start:]
    return measure(item["prompt"], wave) | {k: v for k, v in dnsmos(wave, RATE).items() if k in ("sig", "bak")}


def compare_variants(model, items: list[dict], prompt_frames: int, variants_of, out_path: str) -> list[dict]:
    """Per item, rung c of each generator ``variants_of(prompt semantic ids, prompt codes)`` names (seed 2 + the
    item's number), printed as it comes; the rows to ``out_path`` and each variant's means printed at the end."""
    import json

    import numpy as np

    rows = []
    for number, item in enumerate(items):
        semantic, _, frames, sem_prompt, prompt = item_tokens(model, item, prompt_frames)
        row = {"id": item["id"]}
        for name, acoustic in variants_of(sem_prompt, prompt).items():
            row[name] = rung_c_measures(model, acoustic, item, semantic, prompt, frames, 2 + number)
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(out_path, "w") as out:
        json.dump(rows, out, indent=1)
    for key in (rows[0] if rows else []):
        if key != "id":
            print(key, {m: round(float(np.mean([r[key][m] for r in rows])), 3) for m in ("sim", "voiced", "ovrl", "bak")})
    return rows
