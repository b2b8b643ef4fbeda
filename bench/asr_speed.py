"""ASR speed and memory benchmarks (issue #8): overhead, batched long calls, 2-hour memory.

Every figure is measured side by side in one run and reported as a ratio where it is a
speed: the machines are shared and noisy, so the two sides of a comparison alternate
(A B B A …) to cancel drift, and the load average is recorded with each result.

``overhead``  Keynode's transcription stage (``transcribe_recording``, transcript cache in a
              fresh temporary directory every time) vs faster-whisper called directly on the same
              file with the same model object, options and engine, one call per channel as
              Keynode does. The model is loaded once before timing and shared by both sides.
              Target: total ratio ≤ 1.10. Writes ``bench/results/asr_overhead.json``.
``batched``   A 20–30-minute mono Mandarin call assembled from the sample calls (written as
              FLAC in a temporary directory, never committed), transcribed by Keynode with the
              sequential engine and with faster-whisper's ``BatchedInferencePipeline`` at a few
              batch sizes; wall time ratio and CER against the concatenated reference turns.
              Also the eight sample calls one by one (short calls). Writes
              ``bench/results/asr_batched.json``.
``memory``    Peak RSS of a child process transcribing a 2-hour recording (looped sample calls,
              written as MP3 in a temporary directory) with Keynode's default options, read from
              ``wait4``'s rusage of that child, with an RSS timeline polled from /proc. Target:
              < 2.5 GB. Runs are kept by ``--label`` (a "before" and an "after" side by side).
              Writes ``bench/results/asr_memory.json``.
``summary``   Prints the tables of all three result files.

    .venv/bin/python bench/asr_speed.py overhead [--repeats 2]
    .venv/bin/python bench/asr_speed.py batched [--minutes 20] [--batch-sizes 4 8 16] [--repeats 2]
    .venv/bin/python bench/asr_speed.py memory [--duration-min 120] [--layout mono|stereo] [--label after]
    .venv/bin/python bench/asr_speed.py summary
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.ingest.metadata import load_manifest  # noqa: E402
from pipeline.transcribe.accuracy import cer, wer  # noqa: E402
from pipeline.transcribe.options import AsrOptions  # noqa: E402

CALLS = ROOT / "data" / "samples" / "calls"
RESULTS = ROOT / "bench" / "results"
RATE = 16_000
TARGET_OVERHEAD = 1.10
TARGET_PEAK_GB = 2.5
# "Without losing accuracy", fixed before measuring: the batched engine may be at most this many
# points (absolute, 0.5 = 0.005) worse in CER (Mandarin) / WER (English), in total over the set.
ACCURACY_TOLERANCE_POINTS = 0.5


# ---------------------------------------------------------------------------------------------
# Shared helpers


def machine() -> dict:
    """Where and when a figure was measured (the load shows what else was running)."""
    import ctranslate2
    import faster_whisper

    return {"date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "faster_whisper": faster_whisper.__version__,
            "ctranslate2": ctranslate2.__version__, "loadavg_start": [round(x, 2) for x in os.getloadavg()],
            "note": "shared machine: other work (model training, other benchmarks) ran at the same time"}


def sample_calls() -> list[dict]:
    """The sample calls: path, manifest row, reference text (turns in time order), layout."""
    manifest = load_manifest(CALLS / "manifest.csv")
    rows = {Path(path).name: row for (path, _key), row in manifest.rows.items()}
    calls = []
    for line in (CALLS / "references.jsonl").read_text(encoding="utf-8").splitlines():
        ref = json.loads(line)
        turns = sorted(ref["turns"], key=lambda t: t["start_s"])
        calls.append({"path": CALLS / ref["file"], "name": ref["file"], "row": rows[ref["file"]],
                      "language": ref["language"], "layout": ref["layout"], "turns": turns,
                      "reference": " ".join(t["text"] for t in turns)})
    return calls


def error_rate(language: str, reference: str, hypothesis: str) -> tuple[float, int]:
    """(error rate, reference length): CER over characters for Mandarin, WER over words for English."""
    from pipeline.transcribe.accuracy import normalize_for_scoring

    normalized = normalize_for_scoring(reference)
    if language == "zh":
        return cer(reference, hypothesis), len("".join(normalized.split()))
    return wer(reference, hypothesis), len(normalized.split())


def _sop():
    from pipeline.sop import load_sop

    return load_sop(ROOT / "configs" / "sop.yaml")


def _model(options: AsrOptions):
    """The one WhisperModel both sides of a comparison use (Keynode's per-process instance)."""
    from pipeline.transcribe.model import resolve_model
    from pipeline.transcribe.whisper import load_model

    return load_model(str(resolve_model(options.model).path), options.compute_type, options.cpu_threads)


def _write(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Assembled recordings (never committed: written to a temporary directory)


def _decoded(path: Path, stereo: bool):
    """A sample call as float32 at 16 kHz: shape (1, n) mixed to mono, or (2, n) per channel."""
    import numpy as np

    from pipeline.transcribe.audio import decode

    if stereo:
        return np.stack(decode(path, split_stereo=True))
    return decode(path, split_stereo=False)[None, :]


def assemble(calls: list[dict], target_s: float, pause_s: float = 2.0, stereo: bool = False, cut: bool = False):
    """Yield (offset_s, call, block) over the calls, cycled until ``target_s`` seconds are
    reached, each pass in a rotated order so that neighbours differ, with ``pause_s`` of silence
    after every call. Blocks are float32 of shape (channels, n): the calls mixed down to mono,
    or their two channels with ``stereo``. With ``cut`` the last call is cut short so that the
    whole lasts exactly ``target_s``; otherwise every call is whole (the last one ends past it)."""
    import numpy as np

    decoded = {call["name"]: _decoded(call["path"], stereo) for call in calls}
    channels = 2 if stereo else 1
    pause = np.zeros((channels, int(pause_s * RATE)), dtype=np.float32)
    target, position, passes = round(target_s * RATE), 0, 0  # in samples: no rounding drift
    while position < target:
        order = calls[passes % len(calls):] + calls[:passes % len(calls)]
        for call in order:
            if position >= target:
                return
            block = np.concatenate([decoded[call["name"]], pause], axis=1)
            if cut:
                block = block[:, :target - position]
            yield position / RATE, call, block
            position += block.shape[1]
        passes += 1


def write_audio(path: Path, blocks, channels: int, codec: str, bit_rate: int | None = None) -> float:
    """Encode float32 blocks (channels, n) into ``path`` (a stream: no whole recording in memory);
    returns the seconds written."""
    import av
    import numpy as np

    layout = "mono" if channels == 1 else "stereo"
    written = 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=RATE, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        sample_format = "s16p" if codec == "flac" else "fltp"
        for block in blocks:
            for start in range(0, block.shape[1], 10 * RATE):
                piece = np.ascontiguousarray(block[:, start:start + 10 * RATE])
                if sample_format == "s16p":
                    piece = (np.clip(piece, -1, 1) * 32767).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(piece, format=sample_format, layout=layout)
                frame.rate = RATE
                for packet in stream.encode(frame):
                    container.mux(packet)
                written += piece.shape[1]
        for packet in stream.encode(None):
            container.mux(packet)
    return written / RATE


# ---------------------------------------------------------------------------------------------
# overhead: Keynode's stage vs faster-whisper called directly


def raw_transcribe(model, path: Path, language: str | None, channels: int, options: AsrOptions,
                   batch_size: int) -> int:
    """faster-whisper alone, doing the work Keynode does: decode the file (per channel for a
    stereo file), then ``transcribe`` each channel with Keynode's decoding settings (those of
    ``whisper._asr_settings``: beam, temperature, VAD, word timestamps, no conditioning on
    previous text, the Mandarin prompt) and engine: sequential, or ``BatchedInferencePipeline``
    when ``batch_size``, with its own chunks for a stereo channel and, for mono audio, the clips
    Keynode gives it (Silero VAD speech with the batched engine's VAD options, pauses kept, a new
    clip at a pause over 1 s or at 30 s); and consume the segments. Returns the number of words."""
    from faster_whisper import BatchedInferencePipeline, decode_audio

    from pipeline.transcribe.whisper import ZH_PROMPT, speech_clips

    decoded = decode_audio(str(path), sampling_rate=RATE, split_stereo=channels == 2)
    arrays = list(decoded) if channels == 2 else [decoded]
    words = 0
    for samples in arrays:
        kwargs = dict(language=language, beam_size=options.beam_size, temperature=options.temperature,
                      vad_filter=options.vad_filter, word_timestamps=True, condition_on_previous_text=False,
                      initial_prompt=ZH_PROMPT if language == "zh" else None)
        if batch_size and channels == 2:
            segments, _info = BatchedInferencePipeline(model).transcribe(samples, batch_size=batch_size, **kwargs)
        elif batch_size:
            # The clips Keynode gives the batched engine for mono audio (faster-whisper's own VAD,
            # its options as Keynode sets them): part of the engine's configuration, not overhead.
            clips = speech_clips(samples)
            if not clips:
                continue
            segments, _info = BatchedInferencePipeline(model).transcribe(
                samples, batch_size=batch_size, clip_timestamps=clips, **kwargs)
        else:
            segments, _info = model.transcribe(samples, **kwargs)
        words += sum(len(segment.words or ()) for segment in segments)
    return words


def overhead(args) -> dict:
    from pipeline.transcribe.audio import probe
    from pipeline.transcribe.whisper import transcribe_recording

    options = AsrOptions()
    model = _model(options)  # loaded once, outside every timing, shared by both sides
    sop = _sop()
    calls = [c for c in sample_calls() if not args.only or args.only in c["name"]]
    info = machine()
    rows = []
    for call in calls:
        audio = probe(call["path"])
        channels, batch_size = audio.channels, options.batch_size_for(audio.duration_s, audio.channels)
        times = {"keynode": [], "raw": []}
        cpu = {"keynode": [], "raw": []}  # CPU seconds of this process (all its threads)
        words = {}  # same work: words Whisper produced on both sides (Keynode's after its filters)

        def keynode():
            with tempfile.TemporaryDirectory() as cache:  # a fresh, empty transcript cache
                started, used = time.perf_counter(), time.process_time()
                conversation = transcribe_recording(call["path"], call["row"], sop, options, cache_dir=Path(cache))
                times["keynode"].append(time.perf_counter() - started)
                cpu["keynode"].append(time.process_time() - used)
            words["keynode"] = sum(len(u.words) for u in conversation.utterances)

        def raw():
            started, used = time.perf_counter(), time.process_time()
            words["raw"] = raw_transcribe(model, call["path"], call["language"], channels, options, batch_size)
            times["raw"].append(time.perf_counter() - started)
            cpu["raw"].append(time.process_time() - used)

        for repeat in range(args.repeats):
            for side in ((keynode, raw) if repeat % 2 == 0 else (raw, keynode)):  # A B B A …
                side()
        keynode_s, raw_s = sum(times["keynode"]), sum(times["raw"])
        rows.append({"file": call["name"], "layout": call["layout"], "channels": channels,
                     "engine": f"batched bs={batch_size}" if batch_size else "sequential",
                     "keynode_s": [round(t, 2) for t in times["keynode"]], "raw_s": [round(t, 2) for t in times["raw"]],
                     "keynode_cpu_s": [round(t, 2) for t in cpu["keynode"]], "raw_cpu_s": [round(t, 2) for t in cpu["raw"]],
                     "words_raw": words["raw"], "words_keynode": words["keynode"],
                     "ratio": round(keynode_s / raw_s, 3), "cpu_ratio": round(sum(cpu["keynode"]) / sum(cpu["raw"]), 3)})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    total = sum(sum(r["keynode_s"]) for r in rows) / sum(sum(r["raw_s"]) for r in rows)
    total_cpu = sum(sum(r["keynode_cpu_s"]) for r in rows) / sum(sum(r["raw_cpu_s"]) for r in rows)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {"what": "Keynode transcribe_recording (cache off) / faster-whisper direct, same model object, "
                      "same options and engine, each channel of a stereo file; model load excluded from both",
              "command": "bench/asr_speed.py overhead " + " ".join(sys.argv[2:]), "machine": info,
              "options": options.decoding(), "repeats": args.repeats, "target_ratio": TARGET_OVERHEAD,
              "engine": rows[0]["engine"] if len({r["engine"] for r in rows}) == 1 else "per call",
              "total_ratio": round(total, 3), "total_cpu_ratio": round(total_cpu, 3), "calls": rows}
    _write(RESULTS / "asr_overhead.json", result)
    return result


def overhead_summary(result: dict) -> str:
    def seconds(r, key):
        return sum(r[key])

    rows = [[r["file"], r["layout"], r["engine"], f"{seconds(r, 'raw_s'):.1f}", f"{seconds(r, 'keynode_s'):.1f}",
             f"{r['ratio']:.3f}", f"{r['cpu_ratio']:.3f}", "yes" if r["words_raw"] == r["words_keynode"] else
             f"{r['words_keynode']}/{r['words_raw']}"] for r in result["calls"]]
    rows.append(["**total**", "", "", f"{sum(seconds(r, 'raw_s') for r in result['calls']):.1f}",
                 f"{sum(seconds(r, 'keynode_s') for r in result['calls']):.1f}", f"**{result['total_ratio']:.3f}**",
                 f"**{result['total_cpu_ratio']:.3f}**", ""])
    return (f"ASR overhead ({result['machine']['date']}, {result['machine']['cores']} cores, load "
            f"{result['machine']['loadavg_start']}; {result['repeats']} runs per side, alternated; "
            f"target ≤ {result['target_ratio']})\n\n"
            + _table(["call", "layout", "engine", "faster-whisper wall s", "Keynode wall s", "wall ratio", "CPU ratio",
                      "same words"], rows))


# ---------------------------------------------------------------------------------------------
# batched: BatchedInferencePipeline vs sequential on a long call and on the sample calls


def _score_by_span(utterances, spans: list[dict]) -> dict:
    """Assign every recognised word to the assembled call whose time span holds its middle (the
    nearest span for a word in a pause), then score each call against its reference turns."""
    import bisect

    starts = [span["offset_s"] for span in spans]
    texts: list[list[str]] = [[] for _ in spans]
    for utterance in utterances:
        for word in utterance.words or ():
            middle = (word.start_s + word.end_s) / 2
            index = max(0, bisect.bisect_right(starts, middle) - 1)
            texts[index].append(word.text)
    edits = length = 0.0
    for span, words in zip(spans, texts):
        rate, size = error_rate(span["language"], span["reference"], "".join(words))
        edits += rate * size
        length += size
    return {"error_rate": round(edits / max(1, length), 4), "reference_units": int(length)}


def _short_text(conversation, layout: str) -> str:
    utterances = conversation.utterances
    return " ".join(u.text for u in sorted(utterances, key=lambda u: u.start_s))


# How the batched engine's clips are cut (whisper.BATCH_CLIPS): Keynode's choice, and the two
# ways it chooses between, everywhere.
CLIPS = {"auto": "", "spliced": ", faster-whisper's spliced VAD chunks everywhere",
         "pauses": ", clips with pauses kept everywhere"}


def _modes(batch_sizes: list[int], variants: list[str]) -> dict[str, tuple[AsrOptions, str]]:
    """Engines compared: name → (options, how batched clips are cut)."""
    sequential = AsrOptions(batch_size=0)
    modes = {"sequential": (sequential, "auto")}
    for size in batch_sizes:
        for clips in ["auto", *variants]:
            # Mono too (batched_mono): the engine is what is compared here.
            modes[f"batched bs={size}{CLIPS[clips]}"] = (replace(sequential, batch_size=size, batched_min_s=0,
                                                                 batched_mono=True), clips)
    return modes


def _transcribe_with(path: Path, row, sop, mode: tuple[AsrOptions, str]):
    """Keynode's transcription in one engine, cache off: (conversation, wall seconds, CPU seconds)."""
    from pipeline.transcribe import whisper

    options, clips = mode
    whisper.BATCH_CLIPS = clips
    try:
        with tempfile.TemporaryDirectory() as cache:
            started, used = time.perf_counter(), time.process_time()
            conversation = whisper.transcribe_recording(path, row, sop, options, cache_dir=Path(cache))
            return conversation, time.perf_counter() - started, time.process_time() - used
    finally:
        whisper.BATCH_CLIPS = "auto"


def batched(args) -> dict:
    from pipeline.ingest.metadata import ManifestRow

    modes = _modes(args.batch_sizes, args.variants)
    _model(AsrOptions())
    sop = _sop()
    info = machine()
    calls = sample_calls()
    zh_calls = [c for c in calls if c["language"] == "zh"]
    result = {"what": "Keynode transcribe_recording with the sequential engine vs BatchedInferencePipeline "
                      "(clips of ≤ 30 s, batch_size at once; clips cut as Keynode does (mono: speech with its "
                      "pauses kept, a new clip at a pause > 1 s; a stereo channel: faster-whisper's spliced VAD "
                      "chunks), or one way everywhere); cache off; same model object; the modes alternate",
              "command": "bench/asr_speed.py batched " + " ".join(sys.argv[2:]), "machine": info,
              "tolerance_points": ACCURACY_TOLERANCE_POINTS, "repeats": args.repeats}

    with tempfile.TemporaryDirectory() as folder:
        long_path = Path(folder) / "long_call_zh.flac"
        spans = []

        def blocks():
            for offset, call, block in assemble(zh_calls, args.minutes * 60):
                spans.append({"offset_s": offset, "file": call["name"], "language": "zh",
                              "reference": call["reference"]})
                yield block

        seconds = write_audio(long_path, blocks(), 1, "flac")
        row = ManifestRow(file=long_path.name, language="zh")
        long_runs: dict[str, list] = {name: [] for name in modes}
        for repeat in range(args.repeats):
            for name in (list(modes) if repeat % 2 == 0 else list(reversed(modes))):  # A B C … C B A
                conversation, elapsed, used = _transcribe_with(long_path, row, sop, modes[name])
                long_runs[name].append({"seconds": round(elapsed, 1), "cpu_s": round(used, 1),
                                        **_score_by_span(conversation.utterances, spans),
                                        "utterances": len(conversation.utterances)})
                print(json.dumps({"long": name, **long_runs[name][-1]}, ensure_ascii=False), flush=True)
        base = sum(r["seconds"] for r in long_runs["sequential"])
        base_cpu = sum(r["cpu_s"] for r in long_runs["sequential"])
        result["long_call"] = {
            "audio_s": round(seconds, 1), "calls": [s["file"] for s in spans],
            "assembled": "the 6 Mandarin sample calls mixed to mono, cycled in rotated order with 2 s pauses, FLAC",
            "modes": {name: {"runs": runs, "seconds": round(sum(r["seconds"] for r in runs) / len(runs), 1),
                             "ratio_to_sequential": round(sum(r["seconds"] for r in runs) / base, 3),
                             "cpu_ratio_to_sequential": round(sum(r["cpu_s"] for r in runs) / base_cpu, 3),
                             "cer": runs[0]["error_rate"],
                             "rtf": round(sum(r["seconds"] for r in runs) / len(runs) / seconds, 3)}
                      for name, runs in long_runs.items()}}

    # The sample calls one by one (1–2 minutes each): is batching worth it on short calls too?
    short_modes = _modes([args.short_batch_size], args.variants)
    short: dict[str, dict] = {name: {"seconds": 0.0, "cpu_s": 0.0, "zh": [0.0, 0], "en": [0.0, 0], "calls": []}
                              for name in short_modes}
    for repeat in range(args.repeats):
        for call in calls:
            for name in (list(short_modes) if repeat % 2 == 0 else list(reversed(short_modes))):
                conversation, elapsed, used = _transcribe_with(call["path"], call["row"], sop, short_modes[name])
                short[name]["seconds"] += elapsed
                short[name]["cpu_s"] += used
                if repeat == 0:  # the text is the same every time (temperature 0)
                    rate, size = error_rate(call["language"], call["reference"], _short_text(conversation, call["layout"]))
                    short[name][call["language"]][0] += rate * size
                    short[name][call["language"]][1] += size
                    short[name]["calls"].append({"file": call["name"], "error_rate": round(rate, 4),
                                                 "seconds": round(elapsed, 1)})
                    print(json.dumps({"short": name, **short[name]["calls"][-1]}, ensure_ascii=False), flush=True)
    base, base_cpu = short["sequential"]["seconds"], short["sequential"]["cpu_s"]
    result["sample_calls"] = {name: {"seconds": round(s["seconds"] / args.repeats, 1),
                                     "ratio_to_sequential": round(s["seconds"] / base, 3),
                                     "cpu_ratio_to_sequential": round(s["cpu_s"] / base_cpu, 3),
                                     "cer_zh": round(s["zh"][0] / s["zh"][1], 4),
                                     "wer_en": round(s["en"][0] / s["en"][1], 4),
                                     "calls": s["calls"]} for name, s in short.items()}
    # The rule fixed before measuring: faster, and no more than the tolerance worse anywhere.
    tolerance = ACCURACY_TOLERANCE_POINTS / 100
    seq_long, seq_short = result["long_call"]["modes"]["sequential"], result["sample_calls"]["sequential"]
    result["verdict"] = {name: {
        "faster_long": m["ratio_to_sequential"] < 1 and m["cpu_ratio_to_sequential"] < 1,
        "faster_short": None if name not in result["sample_calls"] else
        result["sample_calls"][name]["ratio_to_sequential"] < 1 and result["sample_calls"][name]["cpu_ratio_to_sequential"] < 1,
        "accurate_long": m["cer"] <= seq_long["cer"] + tolerance,
        "accurate_short": None if name not in result["sample_calls"] else
        result["sample_calls"][name]["cer_zh"] <= seq_short["cer_zh"] + tolerance and
        result["sample_calls"][name]["wer_en"] <= seq_short["wer_en"] + tolerance}
        for name, m in result["long_call"]["modes"].items() if name != "sequential"}
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    _write(RESULTS / "asr_batched.json", result)
    return result


def batched_summary(result: dict) -> str:
    long = result["long_call"]
    seq = long["modes"]["sequential"]
    rows = [[name, f"{m['seconds']:.0f}", f"{m['rtf']:.3f}", f"{m['ratio_to_sequential']:.3f}",
             f"{m['cpu_ratio_to_sequential']:.3f}", f"{m['cer']:.4f}", f"{(m['cer'] - seq['cer']) * 100:+.2f}"]
            for name, m in long["modes"].items()]
    text = (f"Long call ({long['audio_s'] / 60:.1f} min mono Mandarin; {result['machine']['date']}, "
            f"{result['machine']['cores']} cores, load {result['machine']['loadavg_start']}; "
            f"{result['repeats']} runs per mode, alternated)\n\n"
            + _table(["engine", "wall s (mean)", "RTF", "wall ratio", "CPU ratio", "CER", "Δ CER points"], rows))
    short = result["sample_calls"]
    seq = short["sequential"]
    rows = [[name, f"{s['seconds']:.0f}", f"{s['ratio_to_sequential']:.3f}", f"{s['cpu_ratio_to_sequential']:.3f}",
             f"{s['cer_zh']:.4f}", f"{(s['cer_zh'] - seq['cer_zh']) * 100:+.2f}", f"{s['wer_en']:.4f}",
             f"{(s['wer_en'] - seq['wer_en']) * 100:+.2f}"] for name, s in short.items()]
    text += "\n\nThe 8 sample calls one by one (75–126 s each)\n\n" + _table(
        ["engine", "wall s (mean)", "wall ratio", "CPU ratio", "CER zh", "Δ points", "WER en", "Δ points"], rows)
    verdict = [[name, *("—" if v[key] is None else "yes" if v[key] else "no"
                        for key in ("faster_long", "accurate_long", "faster_short", "accurate_short"))]
               for name, v in result.get("verdict", {}).items()]
    return text + f"\n\nVerdict (accurate = at most {result['tolerance_points']} points worse)\n\n" + _table(
        ["engine", "faster, long", "accurate, long", "faster, short", "accurate, short"], verdict)


# ---------------------------------------------------------------------------------------------
# memory: peak RSS of a child transcribing a 2-hour recording


def _status(pid: int | str, field: str) -> int | None:
    """A /proc/<pid>/status size field (VmRSS, VmHWM) in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def memory_child(args) -> int:
    """In the measured process: load the model, then transcribe the recording like the pipeline."""
    import logging

    from pipeline.ingest.metadata import ManifestRow
    from pipeline.transcribe.whisper import transcribe_recording

    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)8.0f ms %(name)s: %(message)s",
                        stream=sys.stderr)
    options = AsrOptions(**json.loads(args.options))
    _model(options)
    after_load = _status("self", "VmHWM")
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        conversation = transcribe_recording(args.file, ManifestRow(file=Path(args.file).name, language=args.language),
                                            _sop(), options, cache_dir=Path(cache))
        elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": round(elapsed, 1), "hwm_after_model_load": after_load,
                      "utterances": len(conversation.utterances),
                      "channels_transcribed": conversation.transcript.channels_transcribed,
                      "duration_s": conversation.transcript.duration_s}))
    return 0


def memory(args) -> dict:
    calls = [c for c in sample_calls() if c["language"] == "zh" and (args.layout == "mono" or c["layout"] == "stereo")]
    info = machine()
    options = {} if args.options is None else json.loads(args.options)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"two_hours_{args.layout}.mp3"
        channels = 2 if args.layout == "stereo" else 1
        started = time.perf_counter()
        seconds = write_audio(path, (block for _o, _c, block in assemble(calls, args.duration_min * 60, stereo=channels == 2, cut=True)),
                              channels, "libmp3lame", bit_rate=32_000 * channels)
        print(f"assembled {seconds / 60:.1f} min {args.layout} ({path.stat().st_size / 1e6:.1f} MB MP3) in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        log = Path(folder) / "child.log"  # the child's log (stage timings), kept in the result
        command = [sys.executable, str(Path(__file__).resolve()), "_memory-child", str(path), "--language", "zh",
                   "--options", json.dumps(options)]
        timeline, peak_polled, peak_at = [], 0, 0.0
        with open(log, "w", encoding="utf-8") as stderr, tempfile.TemporaryFile("w+") as stdout:
            started = time.perf_counter()
            child = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=ROOT)
            last_sample = -1e9
            while child.poll() is None:
                rss = _status(child.pid, "VmRSS") or 0
                now = time.perf_counter() - started
                if rss > peak_polled:
                    peak_polled, peak_at = rss, now
                if now - last_sample >= 15:
                    timeline.append([round(now), round(rss / 1e6)])
                    last_sample = now
                time.sleep(0.5)
            # The child is already reaped by poll(); its own rusage comes with the wait:
            # use RUSAGE_CHILDREN of this process, where it is the only child ever waited for.
            import resource

            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
            stdout.seek(0)
            output = stdout.read()
        if child.returncode != 0:
            raise SystemExit(f"the measured transcription failed (exit {child.returncode}):\n{log.read_text()}")
        report = json.loads(output.strip().splitlines()[-1])
        log_lines = log.read_text(encoding="utf-8").splitlines()
    run = {"label": args.label, "note": args.note, "layout": args.layout, "audio_min": round(seconds / 60, 1),
           "options": options,
           "peak_rss_gb": round(peak / 1e9, 3), "peak_polled_gb": round(peak_polled / 1e9, 3),
           "peak_polled_at_s": round(peak_at), "rss_after_model_load_gb": round(report["hwm_after_model_load"] / 1e9, 3),
           "transcription_s": report["seconds"], "rtf": round(report["seconds"] / seconds, 3),
           "utterances": report["utterances"], "channels_transcribed": report["channels_transcribed"],
           "within_target": peak / 1e9 < TARGET_PEAK_GB, "timeline_s_mb": timeline,
           "machine": {**info, "loadavg_end": [round(x, 2) for x in os.getloadavg()]},
           "command": "bench/asr_speed.py memory " + " ".join(sys.argv[2:]), "log": log_lines}
    print(json.dumps({k: v for k, v in run.items() if k not in ("timeline_s_mb", "machine", "log")}, ensure_ascii=False))
    result = _load("asr_memory.json") or {
        "what": "peak RSS (wait4 rusage of the child; GB = 10^9 bytes) of one process that loads the model and "
                "transcribes a 2-hour recording with transcribe_recording, cache off", "target_gb": TARGET_PEAK_GB,
        "runs": []}
    result["runs"] = [r for r in result["runs"] if (r["label"], r["layout"]) != (args.label, args.layout)] + [run]
    _write(RESULTS / "asr_memory.json", result)
    return result


def memory_summary(result: dict) -> str:
    rows = [[r["label"], r.get("note", ""), r["layout"], r["audio_min"], json.dumps(r["options"]) if r["options"] else "defaults",
             f"{r['peak_rss_gb']:.2f}", f"{r['rss_after_model_load_gb']:.2f}", f"{r['transcription_s'] / 60:.1f}",
             f"{r['rtf']:.3f}", "yes" if r["within_target"] else "**no**"] for r in result["runs"]]
    return f"Peak RSS, 2-hour recordings (target < {result['target_gb']} GB)\n\n" + _table(
        ["run", "code", "layout", "audio min", "options", "peak RSS GB", "after model load GB", "transcription min",
         "RTF", "< target"], rows)


def summary(_args=None) -> None:
    for name, render in (("asr_overhead.json", overhead_summary), ("asr_batched.json", batched_summary),
                         ("asr_memory.json", memory_summary)):
        result = _load(name)
        print(render(result) if result else f"({name}: not measured yet)")
        print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("overhead", help="Keynode vs faster-whisper direct on the sample calls")
    one.add_argument("--repeats", type=int, default=2, help="runs per side and call (default: %(default)s)")
    one.add_argument("--only", help="only calls whose file name contains this")
    two = commands.add_parser("batched", help="BatchedInferencePipeline vs sequential")
    two.add_argument("--minutes", type=float, default=20, help="length of the long call (default: %(default)s)")
    two.add_argument("--batch-sizes", type=int, nargs="+", default=[8])
    two.add_argument("--short-batch-size", type=int, default=8, help="batch size on the short calls")
    two.add_argument("--variants", nargs="*", choices=("spliced", "pauses"), default=["spliced", "pauses"],
                     help="also cut the batched engine's clips this way for every channel")
    two.add_argument("--repeats", type=int, default=2)
    three = commands.add_parser("memory", help="peak RSS of a 2-hour transcription")
    three.add_argument("--duration-min", type=float, default=120)
    three.add_argument("--layout", choices=("mono", "stereo"), default="mono")
    three.add_argument("--label", default="current")
    three.add_argument("--note", default="", help="what the measured code does (kept with the run)")
    three.add_argument("--options", help="AsrOptions fields as JSON (default: Keynode's defaults)")
    child = commands.add_parser("_memory-child")
    child.add_argument("file")
    child.add_argument("--language", default="zh")
    child.add_argument("--options", default="{}")
    commands.add_parser("summary", help="print the tables of bench/results/asr_*.json")
    args = parser.parse_args()
    if args.command == "_memory-child":
        return memory_child(args)
    {"overhead": overhead, "batched": batched, "memory": memory, "summary": summary}[args.command](args)
    if args.command != "summary":
        summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
