"""ChunkedDecoder: codes pushed chunk by chunk decode to the one-shot audio (conv codec) or join without seams
(spectral codec with a reconstructed phase); reconstruct_phase continues a given phase."""
import math

import pytest
import torch

from audiolm_lib.codecs.chunked_decode import ChunkedDecoder
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
from audiolm_lib.codecs.spectral_ops import SpectralFrontEnd, reconstruct_phase
from audiolm_lib.eval.seams import seam_flux

SIZES = (7, 30, 1, 45, 37)  # uneven chunks, one smaller than the hold-back


def push_all(decoder, codes, sizes=SIZES):
    out, at = [], 0
    for index, size in enumerate(sizes):
        out.append(decoder.push(codes[..., at:at + size], final=index == len(sizes) - 1))
        at += size
    return torch.cat(out, dim=-1)


def test_conv_codec_chunks_equal_the_one_shot_decode():
    codec = SoundStream(SoundStreamConfig(channels=4, latent_dim=16, num_quantizers=2, codebook_size=32)).eval()
    codes = torch.randint(0, 32, (2, 2, sum(SIZES) + 10))
    prompt, new = codes[..., :10], codes[..., 10:]
    decoder = ChunkedDecoder(codec, prompt)
    streamed = push_all(decoder, new)
    whole = codec.decode(codes)[..., 10 * codec.hop_length:]
    assert streamed.shape == whole.shape == (2, 1, sum(SIZES) * codec.hop_length)
    assert torch.allclose(streamed, whole, atol=1e-5)
    assert len(decoder.seams) >= 2 and decoder.seams == sorted(decoder.seams)
    # no hold-back and no context: the chunk edges are decoded against padding, and no longer match
    bare = push_all(ChunkedDecoder(codec, prompt, context_frames=0, lookahead_frames=0, crossfade_frames=0), new)
    assert not torch.allclose(bare, whole, atol=1e-3)


def test_decoder_arguments_are_checked():
    codec = SoundStream(SoundStreamConfig(channels=4, latent_dim=16, num_quantizers=2, codebook_size=32))
    with pytest.raises(ValueError, match="crossfade_frames"):
        ChunkedDecoder(codec, context_frames=2, crossfade_frames=3)
    with pytest.raises(ValueError, match="LongTensor"):
        ChunkedDecoder(codec).push(torch.zeros(3, 4, dtype=torch.long))


def harmonic_codes(codec, seconds=3.0, rate=16000):
    t = torch.arange(int(seconds * rate)) / rate
    pitch = 220 * 2 ** (torch.floor(t * 2) / 12)  # a note every 0.5 s
    phase = 2 * math.pi * torch.cumsum(pitch, 0) / rate
    wave = sum(0.2 / k * torch.sin(k * phase) for k in range(1, 5))[None, None]
    return codec.encode(wave)


@pytest.mark.parametrize("phase_start, iterations", [("locked", 8), ("pghi", 0)])
def test_spectral_codec_chunks_join_without_seams(phase_start, iterations):
    torch.manual_seed(0)
    codec = SpectralCodec(SpectralCodecConfig(dim=32, encoder_depth=1, decoder_depth=1, upsampler_dim=16,
                                              upsampler_depth=1, latent_dim=16, num_quantizers=3,
                                              codebook_size=64, phase_start=phase_start,
                                              phase_iterations=iterations))
    codec.train()
    codec(torch.randn(2, 1, 16000) * 0.1)  # k-means initialised codebooks
    codec.eval()
    codes = harmonic_codes(codec)
    decoder = ChunkedDecoder(codec, codes[..., :20])
    streamed = push_all(decoder, codes[..., 20:], sizes=(30, 40, 30, 30))[0, 0]
    whole = codec.decode(codes)[0, 0, 20 * codec.hop_length:]
    assert streamed.shape == whole.shape
    result = seam_flux(streamed, decoder.seams)
    reference = seam_flux(whole, decoder.seams)
    assert len(result["ratios"]) == 3
    # (measured 1.0; 1.3 without the phase continuity, 2.8 with neither hold-back nor cross-fade)
    assert result["mean_ratio"] < 1.2 and reference["mean_ratio"] < 1.2
    spec = lambda w: torch.stft(w, 512, 160, window=torch.hann_window(512), return_complex=True).abs()  # noqa: E731
    assert float((spec(streamed) - spec(whole)).abs().mean() / spec(whole).mean()) < 0.25


def test_reconstruct_phase_continues_a_given_phase():
    front = SpectralFrontEnd(128, 20, 80)
    t = torch.arange(1600) / 16000
    wave = (0.3 * torch.sin(2 * math.pi * 440 * t + 1.0))[None, None]
    spec = front.stft_frames(wave)  # [1, N, bins]
    magnitude = spec.abs().transpose(1, 2)
    prefix = torch.angle(spec[:, :30])
    free = reconstruct_phase(magnitude, front, iterations=0)
    kept = reconstruct_phase(magnitude, front, iterations=0, prefix_phase=prefix)
    region = slice(200, 500)  # inside the prefix frames, away from the start
    assert (kept[..., region] - wave[..., region]).abs().max() < 1e-3  # the given phase is the signal's own
    assert (free[..., region] - wave[..., region]).abs().max() > 1e-2  # a free start is not aligned with it
    # and the frames after the prefix continue it: a steady tone stays close to the original
    assert (kept[..., 700:1400] - wave[..., 700:1400]).abs().mean() < 0.05
