"""Prematched decoder training (kNN-VC's prematched vocoder on the codec's latents)."""
import numpy as np
import pytest
import torch

from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
from audiolm_lib.training.codec_trainer import CodecTrainConfig, train_codec
from audiolm_lib.training.prematch import Prematcher, match_within

from test_codec_trainer import _train_logs, _write_tones

TINY = SpectralCodecConfig(hop_length=80, n_fft=128, stft_hop=20, dim=16, encoder_depth=1, decoder_depth=1,
                           upsampler_dim=8, upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16)


def test_match_within_is_the_mean_of_the_nearest_frames_far_enough_away():
    latents = torch.randn(2, 5, 30, generator=torch.Generator().manual_seed(0))
    matched = match_within(latents, neighbours=3, exclude=4)
    assert matched.shape == latents.shape
    unit = latents / latents.norm(dim=1, keepdim=True)
    for b in range(2):
        for f in range(30):  # brute force: the 3 best cosines among frames more than 4 away
            far = [g for g in range(30) if abs(g - f) > 4]
            cosines = torch.stack([unit[b, :, f] @ unit[b, :, g] for g in far])
            best = [far[i] for i in cosines.topk(3).indices.tolist()]
            assert torch.allclose(matched[b, :, f], latents[b][:, best].mean(-1), atol=1e-6)
    # a frame's own copy elsewhere in the crop is found; the frame itself never is
    latents[:, :, 25] = latents[:, :, 2] * 3
    assert torch.allclose(match_within(latents, 1, 4)[:, :, 2], latents[:, :, 25])
    with pytest.raises(ValueError, match="at least 12 frames"):
        match_within(latents[..., :11], neighbours=3, exclude=4)


def test_prematcher_changes_only_the_items_it_draws_and_requantizes_them():
    codec = SpectralCodec(TINY).eval()
    wave = torch.randn(6, 1, 80 * 40, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.no_grad():
        quantized = codec.quantizer.decode(codec.encode(wave, 2))
    generator = torch.Generator().manual_seed(1)
    picked = torch.rand(6, generator=generator) < 0.5  # what the prematcher will draw first
    out = Prematcher(codec.quantizer, 0.5, 2, 3, (0.6, 0.9), torch.Generator().manual_seed(1))(quantized, 2)
    assert out.shape == quantized.shape and 0 < picked.sum() < 6
    for b in range(6):
        assert torch.equal(out[b], quantized[b]) != bool(picked[b])
    # a prematched item is a sum of RVQ code vectors again: encoding and decoding it changes nothing
    assert torch.allclose(codec.quantizer.decode(codec.quantizer.encode(out, 2)), out, atol=1e-5)
    assert torch.equal(Prematcher(codec.quantizer, 0.0, 2, 3, (1, 1), generator)(quantized, 2), quantized)
    for bad in [dict(share=1.5), dict(strength=(0.9, 0.5)), dict(strength=(0.0, 1.0)), dict(neighbours=0)]:
        settings = dict(share=0.5, neighbours=2, exclude=3, strength=(0.5, 1.0), **{})
        settings.update(bad)
        with pytest.raises(ValueError, match="prematch"):
            Prematcher(codec.quantizer, generator=generator, **settings)


def test_prematched_training_keeps_the_codes_moves_the_decoder_and_resumes_exactly(tmp_path):
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.state import list_checkpoints

    _write_tones(tmp_path / "audio", seconds=0.6)
    common = dict(arch="spectral", spectral=TINY, batch_size=2, segment_seconds=0.3, warmup_steps=1, log_every=1,
                  eval_every=10**6, ema_warmup_steps=1, lr=3e-3)
    first = train_codec(CodecTrainConfig(steps=2, checkpoint_every=10**6, **common), tmp_path / "audio",
                        tmp_path / "base")
    tune = dict(common, init_from=str(first), train_decoder_only=True, checkpoint_every=2, prematch_exclude_frames=4,
                prematch_neighbours=2)
    plain = train_codec(CodecTrainConfig(steps=4, **tune), tmp_path / "audio", tmp_path / "plain")
    out = tmp_path / "prematched"
    tuned = train_codec(CodecTrainConfig(steps=4, prematch_share=1.0, **tune), tmp_path / "audio", out)
    wave = torch.randn(2, 1, 4000) * 0.1
    assert torch.equal(load_pretrained(first).encode(wave), load_pretrained(tuned).encode(wave))
    # the same data and seeds: only the prematching differs, and it changes what the decoder learns
    assert not torch.equal(load_pretrained(plain).decode(load_pretrained(plain).encode(wave)),
                           load_pretrained(tuned).decode(load_pretrained(tuned).encode(wave)))
    logs = _train_logs(out)
    list_checkpoints(out)[-1].unlink()
    (out / "metrics.jsonl").unlink()
    train_codec(CodecTrainConfig(steps=4, prematch_share=1.0, **tune), tmp_path / "audio", out, resume=True)
    resumed = _train_logs(out)
    assert [row["step"] for row in resumed] == [3, 4]
    for before, after in zip(logs[2:], resumed):
        assert np.isclose(after["loss_magnitude"], before["loss_magnitude"], rtol=1e-5)
    with pytest.raises(ValueError, match="train_decoder_only"):
        CodecTrainConfig(prematch_share=0.5, **common)
