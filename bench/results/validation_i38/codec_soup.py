"""The mean of two decoder-tuned codecs' weights (a model soup, Wortsman et al. 2022): the same encoder and codebooks,
so the same codes; the decoder half-way between the shipped one and the prematched one.

    python codec_soup.py SHIPPED_CODEC PREMATCHED_CODEC OUT [--weight 0.5]
"""
import argparse

import torch

from audiolm_lib.serialization import load_pretrained

parser = argparse.ArgumentParser()
parser.add_argument("first")
parser.add_argument("second")
parser.add_argument("out")
parser.add_argument("--weight", type=float, default=0.5, help="the second codec's share")
args = parser.parse_args()
first, second = load_pretrained(args.first), load_pretrained(args.second)
a, b = first.state_dict(), second.state_dict()
if a.keys() != b.keys():
    raise SystemExit("the two codecs do not have the same weights")
for name in a:
    if name.startswith(("encoder", "quantizer")) and not torch.equal(a[name], b[name]):
        raise SystemExit(f"{name} differs: the codecs' codes would differ, a soup of them would not decode either's")
first.load_state_dict({name: torch.lerp(a[name].float(), b[name].float(), args.weight).to(a[name].dtype)
                       if a[name].is_floating_point() else a[name] for name in a})
first.save_pretrained(args.out)
print("saved", args.out)
