"""Evaluation: codec metrics, ASR WER/CER, speaker similarity, token perplexity."""
