"""PGHI variants on the codec's decoded magnitudes (validation clips): log-mel distance, voicing, DNSMOS.

    PYTHONPATH=. python3 bench/results/validation_i41/pghi_variants.py MANIFEST OUT.json OFFSET CLIPS [SET]

The manifest's ``valid`` split, clips OFFSET .. OFFSET + CLIPS, 5 s each; SET: "first" (order, tolerance, gamma,
random phase under the tolerance, one iteration), "tol" (tolerances), "rule46" / "rule47" (the rules' versions) or
"gamma" (the window ratio at the shipped tolerance, and the decoded magnitudes with the clip's own phase).
"""
import json, statistics, sys, math, torch
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.codecs.spectral_ops import reconstruct_phase
from audiolm_lib.codecs.pghi import pghi_phase, HANN_GAMMA
from audiolm_lib.measures import mel_distance
from audiolm_lib.eval.voicing import voicing_report
from audiolm_lib.eval.perceptual import dnsmos
from codec_clips import decoded_magnitude, validation_clips
torch.set_num_threads(1)
man=sys.argv[1]; out=sys.argv[2]; offset=int(sys.argv[3]); count=int(sys.argv[4]); VARIANTS=sys.argv[5] if len(sys.argv)>5 else "first"
codec=AudioLM.from_pretrained("checkpoints/speech").codec.eval(); f=codec.front_end
def subtol_random(mag, phase, tol=1e-4):
    g=torch.Generator().manual_seed(0)
    m=mag.transpose(1,2)
    quiet=m < m.amax(dim=(1,2),keepdim=True)*tol
    rnd=torch.rand(phase.shape,generator=g)*2*math.pi
    return torch.where(quiet,rnd,phase)
res=[]
for r, x in validation_clips(man, offset, count, seconds=5.0):
    mag=decoded_magnitude(codec, x); mt=mag.transpose(1,2)
    with torch.inference_mode():
        if VARIANTS == "rule47":
            starts={"pghi":pghi_phase(mt,640,80),"gamma0.65":pghi_phase(mt,640,80,gamma=HANN_GAMMA*0.65)}
            waves={n:reconstruct_phase(mag,f,0,initial_phase=s) for n,s in starts.items()}
        elif VARIANTS == "gamma":
            starts={f"gamma{g:g}":pghi_phase(mt,640,80,gamma=HANN_GAMMA*g) for g in (0.5,0.65,0.8,1.0)}
            waves={n:reconstruct_phase(mag,f,0,initial_phase=s) for n,s in starts.items()}
            spec=f.stft(x); n=min(spec.shape[-1], mag.shape[-1])
            waves["true_phase"]=f.istft(torch.polar(mag[..., :n], spec[..., :n].angle()), n*80)
        elif VARIANTS == "rule46":
            starts={"pghi":pghi_phase(mt,640,80),"tol1e-06":pghi_phase(mt,640,80,tolerance=1e-6)}
            waves={n:reconstruct_phase(mag,f,0,initial_phase=s) for n,s in starts.items()}
            waves["codec_locked8"]=reconstruct_phase(mag,f,8)
        elif VARIANTS == "tol":
            starts={"pghi":pghi_phase(mt,640,80)}
            for t in (1e-5,1e-6,1e-7,0.0): starts[f"tol{t:g}"]=pghi_phase(mt,640,80,tolerance=t)
            starts["tol1e-6_gamma0.8"]=pghi_phase(mt,640,80,tolerance=1e-6,gamma=HANN_GAMMA*0.8)
            waves={n:reconstruct_phase(mag,f,0,initial_phase=s) for n,s in starts.items()}
            waves["codec_locked8"]=reconstruct_phase(mag,f,8)
        else:
            starts={"pghi":pghi_phase(mt,640,80),"exact":pghi_phase(mt,640,80,resolution_db=1e-3),
                "tol1e-5":pghi_phase(mt,640,80,tolerance=1e-5),"tol1e-3":pghi_phase(mt,640,80,tolerance=1e-3),
                "gamma0.8":pghi_phase(mt,640,80,gamma=HANN_GAMMA*0.8),"gamma1.25":pghi_phase(mt,640,80,gamma=HANN_GAMMA*1.25)}
            starts["subtol_random"]=subtol_random(mag,starts["pghi"])
            waves={n:reconstruct_phase(mag,f,0,initial_phase=s) for n,s in starts.items()}
            waves["pghi_gl1"]=reconstruct_phase(mag,f,1,initial_phase=starts["pghi"])
            waves["codec_locked8"]=reconstruct_phase(mag,f,8)
    row={"id":r["id"]}
    for n,w in waves.items():
        w=w[0,0,:x.shape[-1]]
        row[n]={"mel":float(mel_distance(x[0,0],w,16000)),"voiced":voicing_report(w.numpy(),16000)["voiced_share"],"dnsmos":dnsmos(w,16000)["ovrl"]}
    res.append(row); print(r["id"],flush=True)
names=[k for k in res[0] if k!="id"]
summary={n:{m:statistics.mean(r[n][m] for r in res if r[n][m] is not None) for m in ("mel","voiced","dnsmos")} for n in names}
print(json.dumps(summary,indent=0)); json.dump({"clips":res,"means":summary},open(out,"w"))
