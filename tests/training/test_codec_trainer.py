import json

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolm_lib.codecs.discriminators import DiscriminatorConfig
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.training.codec_trainer import CodecTrainConfig, CodecTrainer, resolve_audio_files, train_codec
from audiolm_lib.training.metrics import read_metrics
from audiolm_lib.training.state import list_checkpoints, load_training_state


def _write_tones(folder, count=3, seconds=0.5, rate=16000):
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    paths = []
    for index in range(count):
        wave = 0.3 * np.sin(2 * np.pi * (220 + 110 * index) * t) * np.exp(-2 * t)
        path = folder / f"tone_{index}.wav"
        sf.write(path, wave.astype(np.float32), rate)
        paths.append(path)
    return paths


def tiny_train_config(**overrides):
    values = dict(
        arch="soundstream",
        codec=SoundStreamConfig(channels=2, strides=(2, 4), latent_dim=8, num_quantizers=3, codebook_size=16),
        discriminator=DiscriminatorConfig(wave_scales=1, wave_channels=2, wave_max_channels=8, stft_ffts=(128,),
                                          stft_channels=2),
        steps=4, batch_size=2, segment_seconds=0.05, warmup_steps=2, checkpoint_every=2, log_every=1,
        eval_every=2, eval_segments=2, stft_fft_sizes=(256, 64), mel_fft_sizes=(256,), ema_warmup_steps=1,
    )
    values.update(overrides)
    return CodecTrainConfig(**values)


def _train_logs(directory):
    return [row for row in read_metrics(directory) if row["split"] == "train"]


def test_training_runs_exports_and_resumes_exactly(tmp_path):
    files = _write_tones(tmp_path / "audio")
    config = tiny_train_config()
    out = tmp_path / "run"
    export = train_codec(config, tmp_path / "audio", out)
    logs = _train_logs(out)
    assert [row["step"] for row in logs] == [1, 2, 3, 4]
    assert all(np.isfinite(row["loss_mel"]) and np.isfinite(row["loss_discriminator"]) for row in logs)
    assert [p.name for p in list_checkpoints(out)] == ["step_00000002.safetensors", "step_00000004.safetensors"]
    codec = SoundStream.from_pretrained(export)
    assert codec.encode(torch.zeros(1, 1, 80)).shape == (1, 3, 10)
    evals = [row for row in read_metrics(out) if row["split"] == "eval"]
    assert [row["step"] for row in evals] == [0, 2, 4] and "si_sdr_q3" in evals[0]
    final = load_training_state(list_checkpoints(out)[-1], restore_rng=False)

    # interrupt after step 2: drop the later checkpoint and logs, resume, and compare
    list_checkpoints(out)[-1].unlink()
    (out / "metrics.jsonl").unlink()
    train_codec(config, [str(p) for p in files], out, resume=True)
    resumed = _train_logs(out)
    assert [row["step"] for row in resumed] == [3, 4]
    for before, after in zip(logs[2:], resumed):
        for key in ("loss_mel", "loss_stft", "loss_adversarial", "loss_discriminator", "commitment"):
            assert after[key] == pytest.approx(before[key], rel=1e-5, abs=1e-7), key
    again = load_training_state(list_checkpoints(out)[-1], restore_rng=False)
    for name, tensor in final["generator"].items():
        torch.testing.assert_close(again["generator"][name], tensor, rtol=1e-5, atol=1e-6)


def test_manifest_and_errors(tmp_path):
    files = _write_tones(tmp_path / "audio", count=2)
    manifest = tmp_path / "audio" / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"audio": p.name, "text": "x"}) + "\n" for p in files))
    assert resolve_audio_files(manifest) == files
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"path": "a.wav"}\n')
    with pytest.raises(ValueError, match="audio"):
        resolve_audio_files(bad)
    with pytest.raises(FileNotFoundError):
        resolve_audio_files(tmp_path / "missing")
    with pytest.raises(ValueError, match="steps"):
        CodecTrainConfig(steps=0)


def test_segment_must_hold_whole_codec_frames():
    import pytest

    from audiolm_lib.codecs.soundstream import SoundStreamConfig
    from audiolm_lib.training.codec_trainer import CodecTrainConfig

    assert CodecTrainConfig(segment_seconds=0.4).segment_seconds == 0.4  # 6400 samples = 20 hops of 320
    with pytest.raises(ValueError, match="whole number of 320-sample codec frames"):
        CodecTrainConfig(segment_seconds=0.25)  # 4000 samples
    with pytest.raises(ValueError, match="multiple of 0.001 s"):
        CodecTrainConfig(arch="soundstream", codec=SoundStreamConfig(strides=(2, 8)), segment_seconds=0.0105)


def test_decoder_only_fine_tuning_keeps_every_code(tmp_path):
    from audiolm_lib.codecs.spectral import SpectralCodecConfig
    from audiolm_lib.serialization import load_pretrained

    _write_tones(tmp_path / "audio", seconds=0.6)
    tiny = SpectralCodecConfig(hop_length=80, n_fft=128, stft_hop=20, dim=16, encoder_depth=1, decoder_depth=1,
                               upsampler_dim=8, upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16)
    common = dict(arch="spectral", spectral=tiny, batch_size=2, segment_seconds=0.2, warmup_steps=1, log_every=1,
                  eval_every=10**6, checkpoint_every=10**6, ema_warmup_steps=1, lr=3e-3)
    first = train_codec(CodecTrainConfig(steps=3, **common), tmp_path / "audio", tmp_path / "base")
    tuned = train_codec(CodecTrainConfig(steps=6, init_from=str(first), train_decoder_only=True, **common),
                        tmp_path / "audio", tmp_path / "tuned")
    before, after = load_pretrained(first), load_pretrained(tuned)
    wave = torch.randn(2, 1, 4000) * 0.1
    assert torch.equal(before.encode(wave), after.encode(wave))  # the same codes: trained LMs stay valid
    for name, tensor in before.state_dict().items():
        same = torch.equal(tensor, after.state_dict()[name])
        assert same == name.startswith(("encoder", "quantizer")), name  # only the decoder side moved
    with pytest.raises(Exception, match="another config"):
        CodecTrainer(CodecTrainConfig(steps=1, init_from=str(first), **dict(common, spectral=SpectralCodecConfig())),
                     tmp_path / "audio", tmp_path / "bad")


def test_adversarial_decoder_tuning_keeps_codes_and_resumes_exactly(tmp_path):
    from audiolm_lib.codecs.discriminators import SpectrogramDiscriminatorConfig
    from audiolm_lib.codecs.spectral import SpectralCodecConfig
    from audiolm_lib.serialization import load_pretrained

    _write_tones(tmp_path / "audio", seconds=0.6)
    tiny = SpectralCodecConfig(hop_length=80, n_fft=128, stft_hop=20, dim=16, encoder_depth=1, decoder_depth=1,
                               upsampler_dim=8, upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16)
    common = dict(arch="spectral", spectral=tiny, batch_size=2, segment_seconds=0.2, warmup_steps=1, log_every=1,
                  eval_every=10**6, ema_warmup_steps=1, lr=3e-3)
    first = train_codec(CodecTrainConfig(steps=2, checkpoint_every=10**6, **common), tmp_path / "audio", tmp_path / "base")
    gan = dict(common, init_from=str(first), train_decoder_only=True, spectral_adversarial=True,
               spectrogram_discriminator=SpectrogramDiscriminatorConfig(channels=2, layers=2),
               weight_adversarial=0.5, weight_feature=0.5, adversarial_start_step=1, checkpoint_every=2)
    out = tmp_path / "gan"
    tuned = train_codec(CodecTrainConfig(steps=4, **gan), tmp_path / "audio", out)
    logs = _train_logs(out)
    assert "loss_discriminator" not in logs[0]  # before adversarial_start_step: reconstruction only
    assert all(np.isfinite(row["loss_discriminator"]) and np.isfinite(row["loss_feature"]) for row in logs[1:])
    wave = torch.randn(2, 1, 4000) * 0.1
    assert torch.equal(load_pretrained(first).encode(wave), load_pretrained(tuned).encode(wave))

    # the discriminator and its optimizer are part of the training state: a resume continues exactly
    list_checkpoints(out)[-1].unlink()
    (out / "metrics.jsonl").unlink()
    train_codec(CodecTrainConfig(steps=4, **gan), tmp_path / "audio", out, resume=True)
    resumed = _train_logs(out)
    assert [row["step"] for row in resumed] == [3, 4]
    for before, after in zip(logs[2:], resumed):
        for key in ("loss_magnitude", "loss_adversarial", "loss_feature", "loss_discriminator"):
            assert after[key] == pytest.approx(before[key], rel=1e-5, abs=1e-7), key
    with pytest.raises(Exception, match="differs"):  # another discriminator: refused, not silently mixed
        train_codec(CodecTrainConfig(steps=5, **dict(gan, spectrogram_discriminator=SpectrogramDiscriminatorConfig(
            channels=3, layers=2))), tmp_path / "audio", out, resume=True)
