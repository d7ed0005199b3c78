"""Means over seeds of each setting (validation ladder JSON) against the shipped model's (this folder's
shipped_s?.json): python3 compare.py [--dir FOLDER] [--base NAME] NAME... (NAME_s?.json read from FOLDER, default this
folder; ``--base``: against FOLDER's NAME_s?.json instead, e.g. a later pass's shipped decoding)."""
import glob
import json
import sys
from pathlib import Path

RUNS = str(Path(__file__).resolve().parents[1]) + "/"
def means(files):
    out = {}
    for f in files:
        d = json.load(open(f))
        for row in d['runs'][0]['rows']:
            if row['rung'] not in ('acoustic', 'pipeline'): continue
            out.setdefault((row['set'], row['rung']), []).append(row)
    return {k: {m: sum(r[m] for r in v) / len(v) for m in ('speaker_similarity', 'voiced_share', 'dnsmos_ovrl')} for k, v in out.items()}
names, folder, base_files = sys.argv[1:], RUNS, RUNS + 'shipped_s?.json'
if names[:1] == ['--dir']:
    folder, names = names[1].rstrip('/') + '/', names[2:]
if names[:1] == ['--base']:
    base_files, names = folder + f'{names[1]}_s?.json', names[2:]
base = means(glob.glob(base_files))
for name in names:
    m = means(glob.glob(folder + f'{name}_s?.json'))
    for k in sorted(m):
        b, x = base[k], m[k]
        print(f"{name:8s} {k[0]:9s} {k[1]:9s} sim {x['speaker_similarity']:.3f} ({x['speaker_similarity']-b['speaker_similarity']:+.3f}) voiced {x['voiced_share']:.2f} ({x['voiced_share']-b['voiced_share']:+.3f}, {x['voiced_share']/b['voiced_share']:.2f}x) dnsmos {x['dnsmos_ovrl']:.2f} ({x['dnsmos_ovrl']/b['dnsmos_ovrl']:.3f}x)")
