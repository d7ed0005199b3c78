import pytest
import torch

from audiolm_lib.codecs.discriminators import SpectrogramDiscriminator, SpectrogramDiscriminatorConfig


def test_spectrogram_discriminator_one_output_per_band_and_gradients_reach_the_input():
    config = SpectrogramDiscriminatorConfig(band_edges=(0.0, 0.25, 1.0), channels=4, layers=2)
    discriminator = SpectrogramDiscriminator(65, config)
    assert discriminator.bands == [(0, 16), (16, 65)]
    spec = torch.randn(2, 65, 40, requires_grad=True)
    logits, features = discriminator(spec)
    assert len(logits) == len(features) == 2
    assert all(out.shape[:2] == (2, 1) for out in logits)
    sum(out.mean() for out in logits).backward()
    low_band_grad = spec.grad[:, :16].abs().sum()
    assert low_band_grad > 0 and spec.grad[:, 16:].abs().sum() > 0


@pytest.mark.parametrize("edges", [(0.0, 0.5), (0.1, 1.0), (0.0, 0.6, 0.4, 1.0), (0.0,)])
def test_spectrogram_discriminator_rejects_bad_bands(edges):
    with pytest.raises(ValueError, match="band_edges"):
        SpectrogramDiscriminatorConfig(band_edges=edges)
