"""Probe (issue 20, fifteenth pass): the validation ladder's waves of one seed, kept for trying post-decoding steps
on them without generating again. ``python cache_waves.py MANIFEST OUT.pt [SEED [on|off [clean|telephone|room]]]``: per validation item the prompt,
the real continuation, rungs b (codec resynthesis), c (acoustic generator on the true semantic ids) and d (the
pipeline) of ``checkpoints/speech`` as shipped (postfilter on; ``off``: without it), and a different speaker's real continuation."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from validation_ladder import heldout_geometry, validation_clips  # noqa: E402

from audiolm_lib.eval.continuation_quality import speech_items  # noqa: E402
from audiolm_lib.eval.oracle_ladder import ladder_waves  # noqa: E402
from audiolm_lib.pipeline import AudioLM  # noqa: E402

torch.set_num_threads(1)
manifest, out = Path(sys.argv[1]), Path(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 2
postfilter = sys.argv[4] if len(sys.argv) > 4 else "on"  # "off": the decoder's own audio
condition = sys.argv[5] if len(sys.argv) > 5 else "clean"  # "telephone" / "room": see recording_condition


def recording_condition(wave: torch.Tensor, name: str, seed: int) -> torch.Tensor:
    """The validation recordings are clean studio speech; the held-out ones are not (Allison: an 8 kHz telephone
    recording; LibriVox: amateur readings with room noise and reverberation). ``telephone``: a 4 kHz band limit
    (soxr) and noise at 35 dB SNR; ``room``: a 0.35 s exponentially decaying noise reverb (direct-to-reverberant
    ratio ~6 dB) and low-passed noise at 25 dB SNR. The same condition on the prompt, the real continuation and
    the stranger's speech (one recording each)."""
    from audiolm_lib.audio import band_limit

    rng = torch.Generator().manual_seed(seed)
    noise = torch.randn(wave.shape, generator=rng)
    if name == "telephone":
        wave = band_limit(wave, 16000, 4000.0)
        noise = band_limit(noise, 16000, 4000.0)
        snr_db = 35.0
    elif name == "room":
        decay = torch.exp(-torch.arange(int(0.35 * 16000)) / 16000 * 6.9 / 0.35)  # -60 dB at 0.35 s
        response = torch.randn(decay.shape, generator=rng) * decay
        response = response / response.norm() * 0.5  # the tail ~6 dB below the direct sound
        response[0] = 1.0
        wave = torch.fft.irfft(torch.fft.rfft(wave, 2 * len(wave)) * torch.fft.rfft(response, 2 * len(wave)),
                               2 * len(wave))[: len(wave)]
        noise = torch.cumsum(noise, 0) * 0.05  # a low rumble: brownish
        noise = noise - noise.mean()
        snr_db = 25.0
    else:
        return wave
    noise = noise * wave.norm() / noise.norm().clamp_min(1e-9) * 10 ** (-snr_db / 20)
    out = wave + noise
    return out * (0.5 / out.abs().max().clamp_min(1e-9)).clamp(max=1.0)


prompt_seconds, _ = heldout_geometry("speech")
items = speech_items(validation_clips(manifest, "valid", 4), prompt_seconds, 5.0, per_speaker=2)
if condition != "clean":  # the item's whole passage (prompt + real) through one condition
    for number, item in enumerate(items):
        passage = recording_condition(torch.cat([item["prompt"], item["real"]]).float(), condition, number)
        item["prompt"], item["real"] = passage[: len(item["prompt"])], passage[len(item["prompt"]):]
model = AudioLM.from_pretrained("/work/main/checkpoints/speech").eval()
if postfilter == "off":
    model.config.postfilter_strength = 0.0
rows = []
for number, item in enumerate(items):
    prompt, real = item["prompt"].float(), item["real"].float()
    waves, _ = ladder_waves(model, prompt, real, seed + number)
    others = items[number + 1:] + items[:number]
    other = next(o for o in others if o.get("speaker") != item.get("speaker"))
    rows.append({"id": item["id"], "set": item["set"], "speaker": item.get("speaker"), "prompt": prompt,
                 **waves, "other": other["real"].float(), "condition": condition})
    print(number, item["id"], flush=True)
torch.save(rows, out)
