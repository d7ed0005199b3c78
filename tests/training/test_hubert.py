"""HuBERT iteration-1 training: masking, target alignment, learning, exact resume, loadable result."""
import pytest
import torch

from audiolm_lib.audio import save_audio
from audiolm_lib.training import hubert as hubert_training
from audiolm_lib.training.hubert import (
    HubertTrainingConfig,
    frame_targets,
    num_frames,
    span_mask,
    train_hubert,
)
from audiolm_lib.semantic.tokenizer import SemanticTokenizer, fit_tokenizer

TINY = dict(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, conv_dim=16, conv_pos=16,
            conv_pos_groups=2, proj_dim=16, num_clusters=6, crop_seconds=0.5, batch_size=4, lr=3e-3,
            warmup_steps=3, log_every=1, checkpoint_every=4)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hubert_audio")
    t = torch.arange(16000) / 16000
    for i, (f1, f2) in enumerate(((200.0, 1200.0), (500.0, 2500.0), (900.0, 300.0))):
        # two tones that alternate every 0.1 s: structure that masked prediction can learn
        gate = (torch.floor(t * 10) % 2 == 0).float()
        wave = 0.4 * (gate * torch.sin(2 * torch.pi * f1 * t) + (1 - gate) * torch.sin(2 * torch.pi * f2 * t))
        save_audio(folder / f"{i}.wav", wave[None], 16000)
    return folder


@pytest.fixture(scope="module")
def targets(audio_dir):
    return fit_tokenizer(audio_dir, "mfcc", num_clusters=6, batch_frames=32, progress=False)


def test_span_mask_covers_the_requested_spans():
    mask = span_mask(3, 100, 0.5, 10, torch.Generator().manual_seed(0))
    assert mask.shape == (3, 100) and mask.dtype == torch.bool
    assert (mask.sum(dim=1) >= 10).all() and (mask.sum(dim=1) <= 50).all()
    again = span_mask(3, 100, 0.5, 10, torch.Generator().manual_seed(0))
    assert torch.equal(mask, again)


def test_targets_align_with_hubert_frames(targets):
    wave = 0.3 * torch.randn(2, 8000)
    labels = frame_targets(targets, wave)
    assert labels.shape == (2, num_frames(8000)) == (2, 24)
    # frame i of HuBERT is centred at 320 i + 200: the same as the tokenizer's frame i of the shifted audio
    assert torch.equal(labels, targets.tokenize(wave[:, None, 200:])[:, :24])


def test_training_learns_and_resumes_exactly(audio_dir, targets, tmp_path, monkeypatch):
    config = HubertTrainingConfig(**TINY, steps=8)
    straight = train_hubert(audio_dir, tmp_path / "a", config, targets=targets, progress=False)
    from audiolm_lib.training.metrics import read_metrics

    losses = [row["loss"] for row in read_metrics(tmp_path / "a")]
    assert len(losses) == 8 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3

    # interrupt after the step-4 checkpoint, then resume to the end: same weights as the straight run
    import audiolm_lib.training.state as state_module

    real_save = state_module.save_training_state

    def save_then_stop(directory, step, state, keep=2):
        path = real_save(directory, step, state, keep)
        if step == 4:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(state_module, "save_training_state", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_hubert(audio_dir, tmp_path / "b", config, targets=targets, progress=False)
    monkeypatch.setattr(state_module, "save_training_state", real_save)
    resumed = train_hubert(audio_dir, tmp_path / "b", config, targets=targets, progress=False)
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name

    # the saved HF directory feeds a HuBERT tokenizer
    tokenizer = SemanticTokenizer.from_hubert(tmp_path / "b" / "hubert", layer=2, kmeans=torch.randn(5, 32))
    assert tokenizer.tokenize(torch.randn(1, 1, 4000)).shape == (1, 12)


def test_bad_training_config_is_refused():
    with pytest.raises(ValueError, match="divisible"):
        HubertTrainingConfig(hidden_size=30, num_heads=4)
    with pytest.raises(ValueError, match="mask span"):
        HubertTrainingConfig(crop_seconds=0.1)
    with pytest.raises(ValueError, match="lr must be float"):
        HubertTrainingConfig(lr="fast")
