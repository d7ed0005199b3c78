import torch

from audiolm_lib.codecs.discriminators import CodecDiscriminator, DiscriminatorConfig
from audiolm_lib.codecs.losses import (
    LossBalancer,
    MultiResolutionSTFTLoss,
    MultiScaleMelLoss,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)


def test_reconstruction_losses_zero_for_identical_and_grow_with_noise():
    torch.manual_seed(0)
    clean = torch.randn(2, 1, 4000) * 0.1
    stft, mel = MultiResolutionSTFTLoss((512, 128)), MultiScaleMelLoss(16000, (512, 256), n_mels=32)
    assert stft(clean, clean).item() == 0.0 and mel(clean, clean).item() == 0.0
    small, large = clean + 0.01 * torch.randn_like(clean), clean + 0.1 * torch.randn_like(clean)
    assert 0 < stft(small, clean) < stft(large, clean)
    assert 0 < mel(small, clean) < mel(large, clean)


def test_adversarial_losses():
    real, fake = [torch.full((2, 1, 5), 2.0)], [torch.full((2, 1, 5), -2.0)]
    assert discriminator_hinge_loss(real, fake).item() == 0.0  # confident, correct discriminator
    assert generator_adversarial_loss(fake).item() == 3.0
    feats = [[torch.ones(2, 3, 4), torch.ones(2, 3, 2)]]
    assert feature_matching_loss(feats, feats).item() == 0.0
    assert feature_matching_loss(feats, [[torch.zeros(2, 3, 4), torch.ones(2, 3, 2)]]).item() == 0.5


def test_discriminator_output_shapes():
    config = DiscriminatorConfig(wave_scales=2, wave_channels=4, wave_max_channels=16, stft_ffts=(256, 128),
                                 stft_channels=4)
    disc = CodecDiscriminator(config)
    logits, features = disc(torch.randn(3, 1, 4096))
    assert len(logits) == len(features) == 4
    assert logits[0].shape == (3, 1, 16) and logits[1].shape == (3, 1, 8)  # 4096/4^4, then pooled by 2
    assert logits[2].shape == (3, 1, 65, 17)  # STFT 256: 65 frames, 129 bins halved 3 times
    assert logits[3].shape == (3, 1, 129, 9)
    assert all(f.shape[0] == 3 for layer in features for f in layer)


def test_balancer_gives_each_loss_its_weighted_share():
    output = torch.randn(2, 1, 50, requires_grad=True)
    big = 1000 * output.pow(2).sum()
    small = 0.001 * output.abs().sum()
    balancer = LossBalancer({"big": 1.0, "small": 3.0}, total_norm=1.0, ema_decay=0.0)
    grad = balancer.gradient({"big": big, "small": small}, output)
    g_big = torch.autograd.grad(big, output, retain_graph=True)[0]
    g_small = torch.autograd.grad(small, output)[0]
    norm = lambda g: g.reshape(2, -1).norm(dim=1).mean()
    expected = 0.25 * g_big / norm(g_big) + 0.75 * g_small / norm(g_small)
    torch.testing.assert_close(grad, expected)
