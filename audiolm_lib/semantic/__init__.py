"""Semantic tokenizers: self-supervised (HuBERT, w2v-BERT) or MFCC/log-mel features + k-means."""
