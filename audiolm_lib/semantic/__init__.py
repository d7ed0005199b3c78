"""Semantic tokenizers: self-supervised (HuBERT, w2v-BERT) or MFCC/log-mel features + k-means.

    from audiolm_lib.semantic import SemanticTokenizer, fit_tokenizer
    tokenizer = fit_tokenizer("my_audio/", "mfcc", num_clusters=500)        # no weights needed
    tokenizer = SemanticTokenizer.from_hubert("hubert_base_ls960.pt", layer=6, kmeans="km500.npy")
    tokens = tokenizer.tokenize(wave)                                       # Tensor[B, 1, T] -> LongTensor[B, F]

transformers is imported only when a HuBERT / w2v-BERT model is built.
"""
from audiolm_lib.semantic.features import FeatureConfig, FeatureExtractor, HubertFeatures, SpectralFeatures, W2VBertFeatures
from audiolm_lib.semantic.kmeans import KMeans, dedupe, fit_kmeans, undedupe
from audiolm_lib.semantic.tokenizer import SemanticTokenizer, SemanticTokenizerConfig, fit_tokenizer

__all__ = [
    "FeatureConfig", "FeatureExtractor", "HubertFeatures", "SpectralFeatures", "W2VBertFeatures",
    "KMeans", "dedupe", "fit_kmeans", "undedupe",
    "SemanticTokenizer", "SemanticTokenizerConfig", "fit_tokenizer",
]
