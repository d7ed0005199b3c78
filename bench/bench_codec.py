"""Speed of the default SoundStream codec: encode / decode 10 s of 16 kHz audio on 2 CPU threads.

Prints JSON: median seconds of 5 runs after a warm-up, real-time factors (audio seconds per compute
second), parameter count and peak resident memory. Untrained weights (speed does not depend on them).
"""
from __future__ import annotations

import json

import torch
from _timing import median_seconds, process_peak_rss_mb


def run(device: str = "cpu") -> dict:
    from audiolm_lib.codecs.soundstream import SoundStream

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = SoundStream().to(device).eval()
    seconds = 10.0
    wave = (0.1 * torch.randn(1, 1, int(seconds * model.sample_rate))).to(device)
    # initialise the codebooks from data (as after training) so encoding does real nearest-code search
    with torch.no_grad():
        model.train()
        model(wave[..., : model.sample_rate], num_levels=model.num_quantizers)
        model.eval()
    codes = model.encode(wave)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    encode_s = median_seconds(lambda: (model.encode(wave), sync()))
    decode_s = median_seconds(lambda: (model.decode(codes), sync()))
    return {
        "codec_encode_10s": round(encode_s, 4),
        "codec_decode_10s": round(decode_s, 4),
        "codec_encode_rtf": round(seconds / encode_s, 2),
        "codec_decode_rtf": round(seconds / decode_s, 2),
        "codec_params": sum(p.numel() for p in model.parameters()),
        "codec_peak_rss_mb": round(process_peak_rss_mb(), 1),
        "codec_frames_10s": int(codes.shape[-1]),
        "device": device,
        "threads": torch.get_num_threads(),
    }


if __name__ == "__main__":
    print(json.dumps(run()))
