"""SemanticTokenizer: fitting on a folder, stable tokens, save/load, errors, HuBERT self-contained directory."""
import pytest
import torch

from audiolm_lib.audio import AudioError, load_audio, save_audio
from audiolm_lib.interfaces import SemanticTokenizerProtocol
from audiolm_lib.semantic.kmeans import KMeans
from audiolm_lib.semantic.tokenizer import SemanticTokenizer, fit_tokenizer
from audiolm_lib.serialization import CheckpointError, load_pretrained
from semantic_fairseq_fixtures import tiny_hubert, write_fairseq_checkpoint


def _tones(folder, rate=16000):
    """Three short files of chirps and tones at two sample rates (resampling on load is exercised)."""
    folder.mkdir()
    torch.manual_seed(0)  # module-scoped: created before the per-test seeding
    t = torch.arange(int(0.8 * rate)) / rate
    for i, freq in enumerate((220.0, 660.0, 1500.0)):
        wave = 0.4 * torch.sin(2 * torch.pi * (freq + 300 * t) * t) + 0.01 * torch.randn_like(t)
        save_audio(folder / f"tone_{i}.wav", wave[None], rate if i < 2 else 22050)
    return folder


@pytest.fixture(scope="module")
def mfcc_tokenizer(tmp_path_factory):
    folder = _tones(tmp_path_factory.mktemp("audio") / "wavs")
    return fit_tokenizer(folder, "mfcc", num_clusters=8, batch_frames=32, progress=False)


def test_fit_on_folder_gives_a_protocol_tokenizer(mfcc_tokenizer):
    tok = mfcc_tokenizer
    assert isinstance(tok, SemanticTokenizerProtocol)
    assert (tok.vocab_size, tok.sample_rate, tok.frame_rate) == (8, 16000, 50.0)
    wave = 0.3 * torch.randn(2, 1, 16000)
    tokens = tok.tokenize(wave)
    assert tokens.shape == (2, 50) and tokens.dtype == torch.long
    assert int(tokens.min()) >= 0 and int(tokens.max()) < 8
    assert torch.equal(tokens, tok.tokenize(wave))  # stable across calls
    assert torch.equal(tokens, tok.kmeans.assign(tok.extract_features(wave)))


def test_tokens_follow_the_audio(mfcc_tokenizer, tmp_path):
    t = torch.arange(16000) / 16000
    low = 0.4 * torch.sin(2 * torch.pi * 300 * t)  # inside the first chirp's range
    high = 0.4 * torch.sin(2 * torch.pi * 1800 * t)  # inside the third chirp's range
    tokens = mfcc_tokenizer.tokenize(torch.cat([low, high])[None, None])[0]
    # the two halves are separated by the clustering: their majority tokens differ
    assert torch.mode(tokens[5:45]).values != torch.mode(tokens[55:95]).values
    save_audio(tmp_path / "x.wav", torch.cat([low, high])[None], 16000)
    from_file = mfcc_tokenizer.tokenize_file(tmp_path / "x.wav")
    assert torch.equal(from_file, mfcc_tokenizer.tokenize(load_audio(tmp_path / "x.wav")[None])[0])
    assert (from_file == tokens).float().mean() > 0.8  # 16-bit rounding moves only borderline frames


def test_save_and_load_pretrained_round_trip(mfcc_tokenizer, tmp_path):
    mfcc_tokenizer.save_pretrained(tmp_path / "tok")
    loaded = SemanticTokenizer.from_pretrained(tmp_path / "tok")
    assert loaded.config == mfcc_tokenizer.config
    wave = 0.3 * torch.randn(1, 1, 8000)
    assert torch.equal(loaded.tokenize(wave), mfcc_tokenizer.tokenize(wave))
    assert torch.equal(load_pretrained(tmp_path / "tok").kmeans.centroids, mfcc_tokenizer.kmeans.centroids)


def test_named_constructors_accept_centroids_or_a_path(tmp_path):
    kmeans = KMeans(6, 80, torch.randn(6, 80))
    kmeans.save(tmp_path / "logmel.npy")
    a = SemanticTokenizer.logmel(tmp_path / "logmel.npy")
    b = SemanticTokenizer.logmel(kmeans.centroids)
    wave = 0.3 * torch.randn(1, 1, 3200)
    assert torch.equal(a.tokenize(wave), b.tokenize(wave)) and a.tokenize(wave).shape == (1, 10)
    with pytest.raises(ValueError, match="39-dim features"):
        SemanticTokenizer.mfcc(torch.randn(6, 80))


def test_bad_input_is_a_clear_error(mfcc_tokenizer):
    with pytest.raises(AudioError, match="takes 16000 Hz audio, got 44100 Hz"):
        mfcc_tokenizer.tokenize(torch.randn(1, 1, 16000), sample_rate=44100)
    with pytest.raises(AudioError, match=r"Tensor\[B, 1, T\]"):
        mfcc_tokenizer.tokenize(torch.randn(16000))
    with pytest.raises(AudioError, match="NaN"):
        mfcc_tokenizer.tokenize(torch.full((1, 1, 800), float("nan")))


def test_hubert_tokenizer_directory_is_self_contained(tmp_path):
    model = tiny_hubert()
    write_fairseq_checkpoint(model, tmp_path / "hubert.pt")
    centroids = torch.randn(12, 32)
    tok = SemanticTokenizer.from_hubert(tmp_path / "hubert.pt", layer=2, kmeans=centroids)
    wave = 0.3 * torch.randn(2, 1, 8000)
    tokens = tok.tokenize(wave)
    assert tokens.shape == (2, tok.num_frames(8000)) == (2, 24)
    with pytest.raises(AudioError, match="at least 345"):
        tok.tokenize(torch.randn(1, 1, 300))
    tok.save_pretrained(tmp_path / "tok")
    (tmp_path / "hubert.pt").unlink()  # the directory must not need the original checkpoint
    loaded = SemanticTokenizer.from_pretrained(tmp_path / "tok")
    assert len(loaded.features.model.encoder.layers) == 2  # cut after the chosen layer
    assert torch.equal(loaded.tokenize(wave), tokens)
    with pytest.raises(CheckpointError, match="not a checkpoint directory|config.json"):
        SemanticTokenizer.from_pretrained(tmp_path)


def test_w2v_bert_tokenizer_matches_the_full_model_and_round_trips(tmp_path):
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    torch.manual_seed(2)
    config = Wav2Vec2BertConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
                                feature_projection_input_dim=160, conv_depthwise_kernel_size=5, add_adapter=False)
    model = Wav2Vec2BertModel(config).eval()
    model.save_pretrained(tmp_path / "w2vbert")
    tok = SemanticTokenizer.from_w2v_bert(tmp_path / "w2vbert", layer=2, kmeans=torch.randn(7, 32))
    wave = 0.3 * torch.randn(2, 1, 8000)
    inputs = SeamlessM4TFeatureExtractor()([w[0].numpy() for w in wave], sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        reference = model(inputs["input_features"], output_hidden_states=True).hidden_states[2]
    features = tok.extract_features(wave)
    assert features.shape == (2, tok.num_frames(8000), 32) == (2, 24, 32)
    torch.testing.assert_close(features, reference, rtol=1e-5, atol=1e-5)
    tok.save_pretrained(tmp_path / "tok")
    loaded = SemanticTokenizer.from_pretrained(tmp_path / "tok")
    assert torch.equal(loaded.tokenize(wave), tok.tokenize(wave))
    with pytest.raises(ValueError, match="layer 4 does not exist"):
        SemanticTokenizer.from_w2v_bert(tmp_path / "w2vbert", layer=4, kmeans=torch.randn(7, 32))
    with pytest.raises(CheckpointError, match="Hugging Face model directory"):
        SemanticTokenizer.from_w2v_bert(tmp_path / "nothing", layer=1, kmeans=torch.randn(7, 32))
