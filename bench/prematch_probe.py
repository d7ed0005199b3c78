"""What voice matching costs the sound of *real* speech, per codec decoder (issue 20, twenty-first pass).

    python bench/prematch_probe.py --codec checkpoints/speech/codec --codec runs/prematched/codec \
        --manifest data/recorded/manifest.jsonl --manifest data/tts/manifest.jsonl --json out.json

For every validation clip of at least 8 s (at most ``--per-identity`` per identity): the first 3 s are the prompt,
the next 5 s the continuation. The codes come from the first codec's encoder (a decoder-only fine-tune keeps the
encoder and the codebooks, so the codes are every listed codec's). Each codec decodes three continuations:

- ``resynthesis``: the continuation's own codes;
- ``matched``: those codes voice-matched to the prompt (``audiolm_lib.voice_match``, the library's frame matcher),
  what the matching costs where the voice is already right;
- ``stranger_matched``: another identity's continuation matched to the prompt, the generator's case (a voice that is
  not the prompt's, moved to it).

Per wave: speaker similarity to the (uncoded) prompt, DNSMOS OVRL / SIG / BAK and the pYIN voiced share. Prints
means per set and codec as JSON. Only a decoder trained on matched latents (kNN-VC's "prematched" vocoder) should
lower what ``matched`` costs against ``resynthesis``.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT_SECONDS, CONTINUATION_SECONDS = 3.0, 5.0


def pick_clips(manifest: Path, per_identity: int, min_seconds: float) -> list[dict]:
    """The manifest's valid-split entries of at least ``min_seconds``, at most ``per_identity`` an identity (else
    speaker, else id), in file order; ``"audio"`` resolved (:func:`~audiolm_lib.datasets.manifest.read_manifest`)."""
    from audiolm_lib.datasets.manifest import read_manifest

    taken: dict[str, int] = defaultdict(int)
    clips = []
    for row in read_manifest(manifest):
        identity = row.get("identity", row.get("speaker", row["id"]))
        if row["split"] != "valid" or row["duration"] < min_seconds or taken[identity] >= per_identity:
            continue
        taken[identity] += 1
        clips.append({**row, "identity": identity})
    return clips


def measure(wave, prompt, rate: int) -> dict:
    from audiolm_lib.eval.perceptual import dnsmos
    from audiolm_lib.eval.speaker import speaker_similarity
    from audiolm_lib.eval.voicing import voicing_track

    scores = dnsmos(wave, rate)
    return {"speaker": speaker_similarity(prompt, wave, rate), "ovrl": scores["ovrl"], "sig": scores["sig"],
            "bak": scores["bak"], "voiced": voicing_track(wave, rate).voiced_share}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codec", action="append", required=True, help="codec folder (first: the encoder's)")
    parser.add_argument("--manifest", action="append", required=True)
    parser.add_argument("--per-identity", type=int, default=6)
    parser.add_argument("--neighbours", type=int, default=4)
    parser.add_argument("--continuity", type=float, default=0.05)
    parser.add_argument("--strength", type=float, default=0.75)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch
    from tqdm.auto import tqdm

    from audiolm_lib.audio import load_audio
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.voice_match import match_to_prompt

    torch.set_num_threads(args.threads)
    codecs = {str(path): load_pretrained(path).eval() for path in args.codec}
    encoder = next(iter(codecs.values()))
    rate = int(encoder.sample_rate)
    prompt_samples, next_samples = round(PROMPT_SECONDS * rate), round(CONTINUATION_SECONDS * rate)
    settings = {key: value for key, value in vars(args).items() if key != "json"}
    results: dict = {"settings": json.loads(json.dumps(settings, default=str)), "sets": {}}
    for manifest in args.manifest:
        clips = pick_clips(Path(manifest), args.per_identity, PROMPT_SECONDS + CONTINUATION_SECONDS)
        items = []  # (identity, prompt wave, prompt codes, continuation codes): each clip encoded once
        with torch.inference_mode():
            for clip in clips:
                wave = load_audio(clip["audio"], sample_rate=rate)[0]
                prompt, continuation = wave[:prompt_samples], wave[prompt_samples:prompt_samples + next_samples]
                items.append((clip["identity"], prompt, encoder.encode(prompt[None, None]),
                              encoder.encode(continuation[None, None])))
        rows = defaultdict(list)
        for index, (identity, prompt, prompt_codes, codes) in enumerate(tqdm(items, desc=Path(manifest).parent.name)):
            # the stranger: the next item of another identity (the list is grouped by identity)
            stranger = next((other_codes for other, _, _, other_codes in items[index + 1:] + items[:index]
                             if other != identity), None)
            with torch.inference_mode():
                waves = {"resynthesis": codes,
                         "matched": match_to_prompt(encoder, codes, prompt_codes, args.continuity, args.neighbours,
                                                    args.strength)}
                if stranger is not None:
                    waves["stranger_matched"] = match_to_prompt(encoder, stranger, prompt_codes, args.continuity,
                                                                args.neighbours, args.strength)
                for name, codec in codecs.items():
                    for kind, kind_codes in waves.items():
                        decoded = codec.decode(kind_codes).float()[0, 0, :next_samples]
                        rows[(name, kind)].append(measure(decoded, prompt, rate))
        summary = {}
        for (name, kind), records in rows.items():
            summary.setdefault(name, {})[kind] = {
                key: round(sum(r[key] for r in records) / len(records), 4) for key in records[0]}
            summary[name][kind]["items"] = len(records)
        results["sets"][str(manifest)] = summary
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
