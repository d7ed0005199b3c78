"""The mean of two decoder-tuned codecs' weights (a model soup, `audiolm_lib.training.soup.average_models`): the same
encoder and codebooks, so the same codes; the decoder half-way between the shipped one and the prematched one.

    python codec_soup.py SHIPPED_CODEC PREMATCHED_CODEC OUT
"""
import argparse
from pathlib import Path

import torch

from audiolm_lib.serialization import load_pretrained
from audiolm_lib.training.soup import average_models

parser = argparse.ArgumentParser()
parser.add_argument("first", type=Path)
parser.add_argument("second", type=Path)
parser.add_argument("out", type=Path)
args = parser.parse_args()
a, b = load_pretrained(args.first).state_dict(), load_pretrained(args.second).state_dict()
if a.keys() != b.keys():
    raise SystemExit("the two codecs do not have the same weights")
for name in a:
    if name.startswith(("encoder", "quantizer")) and not torch.equal(a[name], b[name]):
        raise SystemExit(f"{name} differs: the codecs' codes would differ, a soup of them would not decode either's")
print("saved", average_models([args.second, args.first], args.out))
