"""Print each --set run's rows (rung, speaker, voiced, dnsmos) of validation ladder JSONs."""
import json, sys
for f in sys.argv[1:]:
    d = json.load(open(f))
    for run in d['runs']:
        print(f, run.get('setting'))
        for r in run['rows']:
            if r['rung'] in ('real', 'resynthesis', 'acoustic', 'pipeline'):
                print(f"  {r['set']:10s} {r['rung']:11s} sim {r.get('speaker_similarity') or 0:.3f} voiced {r.get('voiced_share') or 0:.2f} dnsmos {r.get('dnsmos_ovrl') or 0:.2f}")
