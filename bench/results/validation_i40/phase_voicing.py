"""Where the codec loses a low voice's voicing: the magnitudes or the phase rebuilt from them? (issue 20, 24th pass)

Validation clips only (a recorded manifest's ``valid`` split; e.g. the 0.55x speed copies, whose voices sit where the
held-out LibriVox reader does). Per clip, pYIN's voiced share (the ladder's measure) of:
- ``real``: the clip;
- ``true_mag_gl{N}``: its own STFT magnitudes on the codec's grid, phase rebuilt as the codec does (phase-locked
  start, N fast Griffin-Lim iterations; the codec's is 8);
- ``codec``: the codec's resynthesis (12 levels);
- ``codec_mag_true_phase``: the codec's decoded magnitudes with the clip's own phase (the magnitudes' ceiling);
- ``codec_mag_gl{N}``: the codec's decoded magnitudes, N iterations.

    PYTHONPATH=. python3 bench/results/validation_i40/phase_voicing.py --manifest M --clips 24 --json out.json
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--codec", default="checkpoints/speech")
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--offset", type=int, default=0, help="skip this many validation clips first")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--iterations", default="8,32")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--dnsmos", action="store_true", help="DNSMOS OVRL of every version too")
    parser.add_argument("--pghi", action="store_true", help="phase gradient heap integration starts too (pghipy)")
    args = parser.parse_args()
    from audiolm_lib.audio import load_audio
    from audiolm_lib.codecs.spectral_ops import reconstruct_phase
    from audiolm_lib.eval.voicing import voicing_report
    from audiolm_lib.pipeline import AudioLM

    torch.set_num_threads(1)
    codec = AudioLM.from_pretrained(args.codec).codec.eval()
    front = codec.front_end
    rows = [json.loads(line) for line in args.manifest.read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row.get("split") == "valid"][args.offset: args.offset + args.clips]
    iterations = [int(n) for n in args.iterations.split(",")]
    results = []
    for row in rows:
        path = Path(row["audio"])
        path = path if path.is_absolute() else args.manifest.parent / path
        wave = load_audio(path, codec.sample_rate).reshape(-1)[: int(args.seconds * codec.sample_rate)]
        x = wave[None, None].float()
        length = x.shape[-1] // codec.hop_length * codec.hop_length
        x = x[..., :length]
        with torch.inference_mode():
            spec = front.stft(x)  # complex [1, bins, N]
            log_mag, _ = codec._heads(codec._decode_features(codec.quantizer.decode(codec.encode(x))))
            decoded = torch.exp(log_mag.clamp(max=6.9))
            n = min(decoded.shape[-1], spec.shape[-1])
            waves = {"real": x[0, 0], "codec": codec.decode(codec.encode(x))[0, 0]}
            for it in iterations:
                waves[f"true_mag_gl{it}"] = reconstruct_phase(spec.abs(), front, it)[0, 0]
                waves[f"codec_mag_gl{it}"] = reconstruct_phase(decoded, front, it)[0, 0]
            if args.pghi:
                import numpy as np
                from pghipy import pghi

                frames = decoded[0].T.double().numpy()  # [N, bins]
                phase0 = pghi(frames, win_length=front.n_fft, hop_length=front.stft_hop,
                              gamma=0.25645 * front.n_fft ** 2)  # Hann's gamma (Prusa et al. 2017)
                initial = torch.from_numpy(np.ascontiguousarray(phase0)).float()[None]
                for it in [0] + iterations:
                    waves[f"codec_mag_pghi_gl{it}"] = reconstruct_phase(decoded, front, it, initial_phase=initial)[0, 0]
                true_frames = spec.abs()[0].T.double().numpy()
                true0 = torch.from_numpy(np.ascontiguousarray(pghi(
                    true_frames, win_length=front.n_fft, hop_length=front.stft_hop,
                    gamma=0.25645 * front.n_fft ** 2))).float()[None]
                waves["true_mag_pghi_gl8"] = reconstruct_phase(spec.abs(), front, 8, initial_phase=true0)[0, 0]
            true_phase = torch.polar(decoded[..., :n], torch.angle(spec[..., :n]))
            waves["codec_mag_true_phase"] = front.istft(true_phase, n * front.stft_hop)[0, 0]
        shares = {name: voicing_report(w[:length].numpy(), codec.sample_rate)["voiced_share"]
                  for name, w in waves.items()}
        if args.dnsmos:
            from audiolm_lib.eval.perceptual import dnsmos

            shares.update({f"dnsmos:{name}": dnsmos(w[:length].float(), codec.sample_rate)["ovrl"]
                           for name, w in waves.items()})
        results.append({"path": str(row["audio"]), "speaker": row.get("speaker"), **shares})
        print(Path(row["audio"]).name, " ".join(f"{k} {v:.2f}" for k, v in shares.items() if v is not None), flush=True)
    names = [k for k in results[0] if k not in ("path", "speaker")]
    means = {k: statistics.mean(r[k] for r in results if r[k] is not None) for k in names}
    print("mean", json.dumps({k: round(v, 3) for k, v in means.items()}))
    if args.json:
        args.json.write_text(json.dumps({"manifest": str(args.manifest), "clips": results, "means": means}, indent=1))


if __name__ == "__main__":
    main()
