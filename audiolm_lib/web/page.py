"""The page ``audiolm serve`` shows: one self-contained HTML file (no external scripts, fonts or styles).

The browser decodes an uploaded or recorded prompt (Web Audio: any format it can play) and sends it as a
16 kHz mono WAV; it plays the streamed continuation as it arrives (Web Audio buffers scheduled back to back),
then puts the whole continuation in the audio player (to replay or download) and shows the spectrogram.
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>AudioLM: continue audio</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  fieldset { border: 1px solid #ccc; border-radius: 6px; margin-bottom: 1rem; }
  label { display: inline-block; margin: 0.3rem 1rem 0.3rem 0; }
  input[type=number] { width: 5rem; }
  #path { width: 22rem; }
  button { padding: 0.4rem 1rem; margin-right: 0.5rem; }
  #status { min-height: 1.4rem; font-weight: 600; }
  #status.error { color: #b00020; }
  audio { width: 100%; margin: 0.4rem 0; }
  img { max-width: 100%; margin-top: 1rem; }
</style>
</head>
<body>
<h1>Continue audio with AudioLM</h1>
<fieldset>
  <legend>Prompt</legend>
  <label>Upload <input type="file" id="file" accept="audio/*"></label>
  <button type="button" id="record">Record</button>
  <audio id="prompt" controls></audio>
  <div id="prompt-info"></div>
</fieldset>
<fieldset>
  <legend>Model and sampling</legend>
  <label>Model <select id="model"></select></label>
  <label>or folder <input id="path" placeholder="path of any AudioLM folder"></label><br>
  <label>Seconds <input id="seconds" type="number" min="0.5" step="0.5" value="10"></label>
  <label>Temperature <input id="temperature" type="number" min="0" step="0.05" value="1"></label>
  <label>Seed <input id="seed" type="number" min="0" step="1" value="0"></label>
  <label title="Each generated frame moved toward the mean of its nearest frames of the prompt (kNN-VC): more of the
prompt's voice, a worse sound on some real recordings">Keep the prompt's voice <select id="voice_match">
<option value="">model's</option><option value="1">on</option><option value="0">off</option></select></label><br>
  <label title="0 to 1: each frame of the decoded audio takes the spectral envelope of its nearest prompt frames (more
of the prompt's timbre, a worse sound on some real recordings); empty: the model's">Envelope matching
<input id="envelope_match" type="number" min="0" max="1" step="0.25" placeholder="model's"></label>
  <label title="0 to 1: each voiced frame's harmonics reinforced, as speech codecs' pitch postfilters do; empty: the
model's">Pitch postfilter <input id="postfilter" type="number" min="0" max="1" step="0.25" placeholder="model's"></label>
</fieldset>
<button type="button" id="generate">Generate</button>
<p id="status"></p>
<audio id="output" controls></audio>
<img id="spectrogram" alt="" hidden>
<script>
"use strict";
const RATE = 16000;
const $ = (id) => document.getElementById(id);
let promptWav = null, limits = {}, recorder = null, context = null;

function status(text, error = false) { $("status").textContent = text; $("status").className = error ? "error" : ""; }

function encodeWav(samples, rate) {
  const view = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (at, s) => { for (let i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * samples.length, true); text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * samples.length, true);
  for (let i = 0; i < samples.length; i++) {
    view.setInt16(44 + 2 * i, Math.max(-1, Math.min(1, samples[i])) * 32767, true);
  }
  return new Blob([view], { type: "audio/wav" });
}

async function usePrompt(blob) {
  if (limits.max_upload_mb && blob.size > limits.max_upload_mb * 4e6) {
    return status(`That file is ${(blob.size / 1e6).toFixed(1)} MB; pick a shorter prompt.`, true);
  }
  let audio;
  try {
    const probe = new OfflineAudioContext(1, 1, RATE);
    audio = await probe.decodeAudioData(await blob.arrayBuffer());
  } catch (error) {
    return status("This browser cannot decode that file; try WAV, FLAC, OGG or MP3.", true);
  }
  if (limits.max_prompt_seconds && audio.duration > limits.max_prompt_seconds) {
    return status(`The prompt is ${audio.duration.toFixed(1)} s; the limit is ${limits.max_prompt_seconds} s.`, true);
  }
  const offline = new OfflineAudioContext(1, Math.max(1, Math.ceil(audio.duration * RATE)), RATE);
  const source = offline.createBufferSource();
  source.buffer = audio; source.connect(offline.destination); source.start();
  const mono = (await offline.startRendering()).getChannelData(0);
  promptWav = encodeWav(mono, RATE);
  $("prompt").src = URL.createObjectURL(promptWav);
  $("prompt-info").textContent = `${audio.duration.toFixed(2)} s prompt ready`;
  status("");
}

$("file").addEventListener("change", () => { if ($("file").files.length) usePrompt($("file").files[0]); });

$("record").addEventListener("click", async () => {
  if (recorder && recorder.state === "recording") { recorder.stop(); return; }
  let media;
  try { media = await navigator.mediaDevices.getUserMedia({ audio: true }); }
  catch (error) { return status("No microphone access: " + error.message, true); }
  const parts = [];
  recorder = new MediaRecorder(media);
  recorder.ondataavailable = (event) => parts.push(event.data);
  recorder.onstop = () => {
    media.getTracks().forEach((track) => track.stop());
    $("record").textContent = "Record";
    usePrompt(new Blob(parts, { type: recorder.mimeType }));
  };
  recorder.start();
  $("record").textContent = "Stop recording";
  status("Recording... press Stop recording when done.");
});

function player() {  // schedules PCM chunks back to back on a Web Audio clock
  if (!context) context = new AudioContext();
  context.resume();
  let at = context.currentTime + 0.1;
  return (samples, rate) => {
    const buffer = context.createBuffer(1, samples.length, rate);
    buffer.copyToChannel(samples, 0);
    const node = context.createBufferSource();
    node.buffer = buffer; node.connect(context.destination);
    at = Math.max(at, context.currentTime + 0.05);
    node.start(at); at += buffer.duration;
  };
}

$("generate").addEventListener("click", async () => {
  if (!promptWav) return status("Upload or record a prompt first.", true);
  const query = new URLSearchParams({ model: $("path").value.trim() || $("model").value,
    seconds: $("seconds").value, temperature: $("temperature").value, seed: $("seed").value,
    voice_match: $("voice_match").value,
    envelope_match: $("envelope_match").value, postfilter: $("postfilter").value });
  $("generate").disabled = true; $("spectrogram").hidden = true;
  status("Generating...");
  const started = performance.now();
  try {
    const response = await fetch("/generate?" + query, { method: "POST", body: promptWav });
    if (!response.ok) { status(await response.text(), true); return; }
    const play = player(), reader = response.body.getReader(), all = [];
    let header = new Uint8Array(0), pending = new Uint8Array(0), total = 0, first = null, rate = RATE;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let bytes = value;
      if (header.length < 44) {
        const need = 44 - header.length;
        header = new Uint8Array([...header, ...bytes.subarray(0, need)]);
        bytes = bytes.subarray(need);
        if (header.length === 44) rate = new DataView(header.buffer).getUint32(24, true);
      }
      const joined = new Uint8Array(pending.length + bytes.length);
      joined.set(pending); joined.set(bytes, pending.length);
      const usable = joined.length - (joined.length % 2);
      pending = joined.slice(usable);
      if (!usable) continue;
      const ints = new Int16Array(joined.slice(0, usable).buffer);
      const samples = Float32Array.from(ints, (v) => v / 32768);
      if (first === null) first = (performance.now() - started) / 1000;
      play(samples, rate); all.push(samples); total += samples.length;
      status(`Streaming: ${(total / rate).toFixed(1)} s of audio (first after ${first.toFixed(2)} s)`);
    }
    const whole = new Float32Array(total);
    let at = 0;
    for (const part of all) { whole.set(part, at); at += part.length; }
    $("output").src = URL.createObjectURL(encodeWav(whole, rate));
    const seconds = (performance.now() - started) / 1000;
    status(`Done: ${(total / rate).toFixed(1)} s of audio in ${seconds.toFixed(1)} s ` +
           `(first audio after ${first === null ? "-" : first.toFixed(2)} s)`);
    const id = response.headers.get("X-Stream-Id");
    if (id) { $("spectrogram").src = `/spectrogram/${id}.png`; $("spectrogram").alt = "spectrogram of prompt | continuation"; $("spectrogram").hidden = false; }
  } catch (error) {
    status("The stream broke off: " + error.message, true);
  } finally {
    $("generate").disabled = false;
  }
});

fetch("/models").then((r) => r.json()).then((info) => {
  limits = info.limits;
  for (const [name, folder] of Object.entries(info.choices)) {
    const option = document.createElement("option");
    option.value = name; option.textContent = `${name} (${folder})`;
    $("model").appendChild(option);
  }
  $("seconds").max = limits.max_seconds; $("temperature").max = limits.max_temperature;
});
</script>
</body>
</html>
"""
