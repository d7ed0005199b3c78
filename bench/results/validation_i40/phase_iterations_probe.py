"""PGHI + k Griffin-Lim iterations against the shipped phase: log-mel distance, voicing, DNSMOS (issue 20, 24th pass).

Validation clips only: ``python3 phase_iterations_probe.py MANIFEST OUT.json [OFFSET] [CLIPS]`` (the manifest's
``valid`` split, clips OFFSET .. OFFSET + CLIPS, 5 s each), run from the repository root with PYTHONPATH=.
"""
import json, statistics, sys, torch
from audiolm_lib.audio import load_audio
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.codecs.spectral_ops import reconstruct_phase
from audiolm_lib.codecs.pghi import pghi_phase
from audiolm_lib.measures import mel_distance
from audiolm_lib.eval.voicing import voicing_report
from audiolm_lib.eval.perceptual import dnsmos
torch.set_num_threads(1)
man=sys.argv[1]; out=sys.argv[2]
offset=int(sys.argv[3]) if len(sys.argv)>3 else 0; count=int(sys.argv[4]) if len(sys.argv)>4 else 30
codec=AudioLM.from_pretrained("checkpoints/speech").codec.eval(); f=codec.front_end
rows=[json.loads(l) for l in open(man)]
rows=[r for r in rows if r["split"]=="valid"][offset:offset+count]
res=[]
for r in rows:
    x=load_audio(man.rsplit("/",1)[0]+"/"+r["audio"],16000).reshape(-1)[:80000]
    x=x[:len(x)//320*320][None,None]
    with torch.inference_mode():
        lm,_=codec._heads(codec._decode_features(codec.quantizer.decode(codec.encode(x))))
        mag=torch.exp(lm.clamp(max=6.9)); start=pghi_phase(mag.transpose(1,2),640,80)
        waves={"locked8":reconstruct_phase(mag,f,8)}
        for k in (0,1,2,4): waves[f"pghi{k}"]=reconstruct_phase(mag,f,k,initial_phase=start)
    row={}
    for n,w in waves.items():
        w=w[0,0,:x.shape[-1]]
        row[n]={"mel":float(mel_distance(x[0,0],w,16000)),"voiced":voicing_report(w.numpy(),16000)["voiced_share"],"dnsmos":dnsmos(w,16000)["ovrl"]}
    res.append(row)
summary={n:{m:statistics.mean(r[n][m] for r in res if r[n][m] is not None) for m in ("mel","voiced","dnsmos")} for n in res[0]}
print(json.dumps(summary,indent=0)); json.dump({"clips":res,"means":summary},open(out,"w"))
