import json, sys, collections
groups = collections.OrderedDict()
for f in sys.argv[1:]:
    tag = f.split('/')[-1].rsplit('_s', 1)[0]
    d = json.load(open(f))
    for x in d['runs'][0]['rows']:
        groups.setdefault((tag, x['set'], x['rung']), []).append(x)
print(f"{'model':28s} {'set':9s} {'rung':12s} spk    voiced dnsmos")
for (tag, s, rung), xs in groups.items():
    if rung not in ('acoustic', 'pipeline'): continue
    m = lambda k: sum(x[k] for x in xs) / len(xs)
    print(f"{tag:28s} {s:9s} {rung:12s} {m('speaker_similarity'):.3f}  {m('voiced_share'):.3f}  {m('dnsmos_ovrl'):.2f}  (n={len(xs)})")
