"""The faster-whisper adapter: a recording in, a :class:`Conversation` out.

Nothing outside ``pipeline/transcribe`` imports faster_whisper. The model is loaded once per
process (and so once per worker) and reused; task arguments stay paths and records.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.ingest.errors import IngestError
from pipeline.ingest.metadata import ManifestRow
from pipeline.models import Conversation, ConversationMeta, TranscriptInfo, Utterance, Word, content_hash
from pipeline.sop import Sop
from pipeline.transcribe.audio import WHISPER_RATE, AudioInfo, check_complete, file_sha256, packets_s, probe, stream
from pipeline.transcribe.model import ModelLocation, resolve_model
from pipeline.transcribe.options import AsrOptions
from pipeline.transcribe.roles import attribute_roles
from pipeline.transcribe.voices import cluster_voices, turn_fingerprint
from pipeline.transcribe.segments import (
    AsrSegment,
    Turn,
    chinese_punctuation,
    drop_hallucinations,
    to_simplified,
    words_to_turns,
)

log = logging.getLogger(__name__)

# Whisper base writes Mandarin in Traditional characters and without punctuation unless the
# prompt shows it Simplified text with punctuation (CER 0.079 → 0.070 measured here).
ZH_PROMPT = "以下是普通话的句子。"
_TRANSCRIBE_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def load_model(path: str, compute_type: str, cpu_threads: int):
    """Load a CTranslate2 Whisper model once per process."""
    from faster_whisper import WhisperModel

    log.info("loading Whisper model %s (%s)", path, compute_type)
    return WhisperModel(path, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)


# Long recordings are decoded and transcribed one window at a time, so that memory does not
# grow with their length (docs/asr.md, "Speed and memory"): a window ends at the quietest
# moment of its last CUT_SEARCH_S seconds (a pause, so no word is cut in two), and the audio
# after the cut is carried into the next window. A recording up to WINDOW_S long is one window.
WINDOW_S = 600.0
CUT_SEARCH_S = 30.0


def quiet_cut(samples, search_s: float = CUT_SEARCH_S) -> int:
    """Where to end a window: the sample in the middle of the quietest 0.2 s of its last
    ``search_s`` seconds (the first such stretch when several are equally quiet)."""
    import numpy as np

    frame = WHISPER_RATE // 50  # 20 ms
    search = min(len(samples), int(search_s * WHISPER_RATE))
    count = search // frame
    if count < 10:
        return len(samples)
    start = len(samples) - count * frame
    energy = np.square(samples[start:].astype(np.float64)).reshape(count, frame).mean(axis=1)
    smooth = np.convolve(energy, np.ones(10) / 10, mode="valid")  # 0.2 s stretches
    return start + (int(np.argmin(smooth)) + 5) * frame


# How the batched engine cuts a window into clips of at most 30 s (docs/asr.md, "Speed and
# memory"). "auto": a channel of a two-channel call gets faster-whisper's own chunks (its VAD's
# speech segments spliced together, silences removed: they are the other side's turns, and one
# speaker's turns side by side give Whisper context); mono audio gets stretches of speech with
# their pauses kept, a new clip at a pause longer than MAX_CLIP_GAP_S (spliced across a long
# pause, Whisper dropped the speech after it: 1.6 CER points lost on the long-call bench).
# "spliced" and "pauses" use one of the two for every channel (for the benchmark's comparison).
BATCH_CLIPS = "auto"
MAX_CLIP_GAP_S = 1.0  # between VAD segments, each padded by 0.4 s: about 1.8 s of silence
_BATCHED_VAD = {"min_silence_duration_ms": 160}  # the batched engine's own VAD setting (faster-whisper 1.2)


def speech_clips(samples, max_s: float = 30.0, max_gap_s: float | None = None) -> list[dict]:
    """Clips (seconds) of at most ``max_s`` seconds: stretches of speech found by the batched
    engine's VAD, with the pauses between them kept, a new clip starting at a pause longer than
    ``max_gap_s``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    max_gap = (MAX_CLIP_GAP_S if max_gap_s is None else max_gap_s) * WHISPER_RATE
    speech = get_speech_timestamps(samples, VadOptions(max_speech_duration_s=max_s, **_BATCHED_VAD))
    clips: list[dict] = []
    for part in speech:
        if clips and part["end"] - clips[-1]["start"] <= max_s * WHISPER_RATE and part["start"] - clips[-1]["end"] <= max_gap:
            clips[-1]["end"] = part["end"]
        else:
            clips.append({"start": part["start"], "end": part["end"]})
    return [{"start": clip["start"] / WHISPER_RATE, "end": clip["end"] / WHISPER_RATE} for clip in clips]


def _asr_settings(language: str, options: AsrOptions) -> dict:
    return dict(language=language, beam_size=options.beam_size, temperature=options.temperature,
                vad_filter=options.vad_filter, word_timestamps=True,
                # Conditioning on the previous text is what turns one error into a repetition loop.
                condition_on_previous_text=False,
                initial_prompt=ZH_PROMPT if language == "zh" else None)


def _decode_window(model, samples, language: str, options: AsrOptions, batch_size: int, offset_s: float,
                   progress=None, stereo_channel: bool = False) -> tuple[list[AsrSegment], float]:
    """Whisper's segments of one window of one channel, timed from the recording's start, and
    the language probability. ``progress(seconds)`` is told how far into the window it got;
    ``stereo_channel``: the window is one side of a two-channel call (how batches are cut)."""
    settings = _asr_settings(language, options)
    with _TRANSCRIBE_LOCK:  # CTranslate2 already uses every core: run one decode at a time
        if batch_size:
            from faster_whisper import BatchedInferencePipeline

            spliced = BATCH_CLIPS == "spliced" or (BATCH_CLIPS == "auto" and stereo_channel)
            clips = None if spliced else speech_clips(samples)
            if clips == []:  # no speech
                return [], 1.0
            segments, info = BatchedInferencePipeline(model).transcribe(samples, batch_size=batch_size,
                                                                        clip_timestamps=clips, **settings)
        else:
            segments, info = model.transcribe(samples, **settings)
        raw = []
        for s in segments:  # a generator: decoding happens while we iterate
            words = tuple(Word(round(w.start + offset_s, 3), round(w.end + offset_s, 3), w.word, round(w.probability, 3))
                          for w in s.words or ())
            raw.append(AsrSegment(s.start + offset_s, s.end + offset_s, s.text, words, s.no_speech_prob,
                                  s.avg_logprob, s.compression_ratio))
            if progress:
                progress(s.end)
    return raw, info.language_probability


def _channel_result(raw: list[AsrSegment], language: str, language_probability: float) -> dict:
    """The JSON-able form of one channel's transcript that the cache stores: hallucinations
    dropped (and logged), Mandarin in Simplified characters with full-width punctuation."""
    kept, dropped = drop_hallucinations(raw)
    for segment, reason in dropped:
        log.info("dropped segment %.1f–%.1f s (%s): %r", segment.start_s, segment.end_s, reason, segment.text)
    words = [word for segment in kept for word in segment.words]
    if language == "zh":
        words = [Word(w.start_s, w.end_s, chinese_punctuation(to_simplified(w.text)), w.probability) for w in words]
    return {"language": language, "language_probability": round(language_probability, 3),
            "words": [asdict(word) for word in words],
            "dropped": [{"start_s": s.start_s, "end_s": s.end_s, "text": s.text, "reason": r} for s, r in dropped]}


def _progress_bar(total_min: float, label: str):
    """A bar counting audio minutes (per channel: a stereo call counts each channel's)."""
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing in CI logs.
    return tqdm(total=round(total_min, 2), unit="audio min", desc=label, disable=None, leave=False,
                bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} audio min [{elapsed}<{remaining}]")


def is_dual_mono(left, right, min_correlation: float = 0.98) -> bool:
    """True when both channels carry the same signal (a mono recording saved as stereo), so it
    is not a two-speaker call. Lossy codecs make the channels differ slightly: compare by
    correlation (measured: 0.9996 for such a file, -0.006 for a real two-speaker call)."""
    import numpy as np

    if left.shape != right.shape or not left.any() or not right.any():
        return False
    return float(np.corrcoef(left, right)[0, 1]) >= min_correlation


# Bumped when post-processing (filters, T→S, punctuation) changes what the cache holds.
CACHE_FORMAT = 3


def _cache_path(cache_dir: Path, audio_sha256: str, model: ModelLocation, options: AsrOptions, language: str | None,
                duration_s: float, channels: int) -> Path:
    key = content_hash(audio_sha256, model.name, options.decoding(duration_s, channels), language, CACHE_FORMAT)
    return cache_dir / f"{audio_sha256[:16]}-{key}.json"


@dataclass
class _Channel:
    """One channel's progress through the windows of a recording."""

    carry: object = None  # samples after the last cut, not transcribed yet
    offset: int = 0       # samples of this channel transcribed so far
    done_s: float = 0.0   # seconds reported to the progress bar
    raw: list = field(default_factory=list)
    language_probability: float | None = None


def _transcribe_windows(path: Path, info: AudioInfo, model: ModelLocation, options: AsrOptions,
                        language: str | None, window_s: float | None = None) -> tuple[list[dict], object]:
    """Per-channel transcripts of a recording decoded and transcribed window by window, and
    its samples when it is mono and one window long (None otherwise).

    A recording cut short fails before any transcription: a one-window recording is checked on
    its decoded samples, a longer one on what its packets hold (no decoding), and again on
    what decoded once it is done. The first window decides whether two channels are one signal
    saved twice, and the first channel's language (detected on its first window when the
    manifest gives none) is the call's.
    """
    import numpy as np

    stereo = info.channels == 2
    blocks = stream(path, split_stereo=stereo, block_s=window_s or WINDOW_S)
    block, last = next(blocks)
    one_window = last
    if one_window:
        check_complete(path, info, block.shape[-1] / WHISPER_RATE)
    elif info.stated_s and (present_s := packets_s(path)) is not None:
        check_complete(path, info, present_s)
    whisper = load_model(str(model.path), options.compute_type, options.cpu_threads)
    # Two identical channels (e.g. a mono speech saved as stereo) hold one mixed signal.
    states = [_Channel() for _ in range(2 if stereo and not is_dual_mono(block[0], block[1]) else 1)]
    batch_size = options.batch_size_for(info.duration_s, info.channels)
    decoded = 0
    seconds = max(info.duration_s, block.shape[-1] / WHISPER_RATE)
    label = path.name if len(states) == 1 else f"{path.name} ({len(states)} channels)"
    with _progress_bar(seconds / 60 * len(states), label) as bar:
        while True:
            decoded += block.shape[-1]
            for number, state in enumerate(states):
                samples = block[number] if stereo else block
                if state.carry is not None:
                    samples = np.concatenate([state.carry, samples])
                cut = len(samples) if last else quiet_cut(samples)
                state.carry = None if last else samples[cut:].copy()
                if language is None:
                    language, _probability, _all = whisper.detect_language(samples[:cut])

                def progress(done_s: float, state=state, start_s=state.offset / WHISPER_RATE):
                    state.done_s = min(start_s + done_s, seconds)
                    bar.update(round(sum(s.done_s for s in states) / 60 - bar.n, 2))

                raw, probability = _decode_window(whisper, samples[:cut], language, options, batch_size,
                                                  state.offset / WHISPER_RATE, progress, len(states) == 2)
                state.raw += raw
                state.offset += cut
                if state.language_probability is None:
                    state.language_probability = probability
                del samples
            if last:
                break
            block = None  # let it go before the next one is decoded
            block, last = next(blocks)
    if not one_window:
        check_complete(path, info, decoded / WHISPER_RATE)
    results = [_channel_result(state.raw, language, state.language_probability) for state in states]
    return results, (block if one_window and not stereo else None)


def transcribe_channels(path: Path, info: AudioInfo, model: ModelLocation, options: AsrOptions,
                        language: str | None, cache_dir: Path, audio_sha256: str | None = None) -> list[dict]:
    """Per-channel transcripts, from the cache when this audio was transcribed with the same
    model and options before (re-tagging never re-transcribes). A recording cut short fails
    before any transcription."""
    return _cached_channels(path, info, model, options, language, cache_dir, audio_sha256)[0]


def _cached_channels(path: Path, info: AudioInfo, model: ModelLocation, options: AsrOptions, language: str | None,
                     cache_dir: Path, audio_sha256: str | None = None) -> tuple[list[dict], object]:
    """:func:`transcribe_channels`, and the samples of a one-window mono recording that was
    transcribed now (None when it came from the cache or is longer or stereo)."""
    cache_file = _cache_path(cache_dir, audio_sha256 or file_sha256(path), model, options, language, info.duration_s,
                             info.channels)
    if cache_file.is_file():
        return json.loads(cache_file.read_text(encoding="utf-8")), None
    results, samples = _transcribe_windows(path, info, model, options, language)
    # Transcripts are unredacted (redaction comes later, with the conversation): as private as
    # the recordings, so readable by the owner only.
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = cache_file.with_suffix(f".{os.getpid()}.tmp")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(results, ensure_ascii=False))
    os.replace(temporary, cache_file)
    return results, samples


def _fingerprints(path: Path, turns: list[Turn], samples=None, window_s: float | None = None) -> list:
    """Voice fingerprints of a mono recording's turns, from its samples when they are at hand,
    otherwise decoding it again window by window (holding a window and the turn in progress)."""
    import numpy as np

    if samples is not None:
        return [turn_fingerprint(samples, t.start_s, t.end_s) for t in turns]
    fingerprints = [None] * len(turns)
    buffer, first_sample, index = np.zeros(0, dtype=np.float32), 0, 0
    for block, last in stream(path, split_stereo=False, block_s=window_s or WINDOW_S):
        buffer = np.concatenate([buffer, block])
        end = first_sample + len(buffer)
        while index < len(turns) and (last or int(turns[index].end_s * WHISPER_RATE) <= end):
            fingerprints[index] = turn_fingerprint(buffer, turns[index].start_s, turns[index].end_s, first_sample)
            index += 1
        keep = len(buffer) if index == len(turns) else \
            min(len(buffer), max(0, int(turns[index].start_s * WHISPER_RATE) - first_sample))
        buffer, first_sample = buffer[keep:].copy(), first_sample + keep
    return fingerprints


def _turns(channel: dict, options: AsrOptions, split_sentences: bool) -> list[Turn]:
    words = [Word(**word) for word in channel["words"]]
    return words_to_turns(words, options.pause_s, split_sentences=split_sentences)


def transcribe_recording(path: str | Path, row: ManifestRow | None, sop: Sop, options: AsrOptions = AsrOptions(),
                         cache_dir: Path | None = None) -> Conversation:
    """Transcribe one call recording into a conversation with roles and timestamps.

    Stereo: each channel separately, rep on the manifest's ``rep_channel`` (default left),
    merged into one timeline by start time. Mono: roles inferred with a confidence
    (:mod:`pipeline.transcribe.roles`).
    """
    path = Path(path)
    info = probe(path)
    if info.duration_s <= 0.05:
        raise IngestError(str(path), "decode", "the recording is empty (zero length)", "export the call again")
    if info.channels > 2:
        raise IngestError(str(path), "decode", f"{info.channels} channels: only mono and stereo calls are supported",
                          "mix the recording down to mono or stereo")
    model = resolve_model(options.model)
    language = row.language if row else None
    cache_dir = cache_dir or Path(os.environ.get("KEYNODE_TRANSCRIPT_CACHE", ".keynode/cache/transcripts"))
    audio_sha256 = file_sha256(path)
    channels, samples = _cached_channels(path, info, model, options, language, cache_dir, audio_sha256)
    rep_name = row.rep if row and row.rep else "rep"
    customer_name = row.customer if row and row.customer else "customer"

    timeline: list[tuple[str, float | None, Turn]] = []
    if len(channels) == 2:
        rep_channel = (row.rep_channel if row and row.rep_channel else "left")
        roles = ("rep", "customer") if rep_channel == "left" else ("customer", "rep")
        for role, channel in zip(roles, channels):
            timeline += [(role, None, turn) for turn in _turns(channel, options, split_sentences=False)]
        timeline.sort(key=lambda item: (item[2].start_s, item[2].end_s))
        role_method = "stereo_channels"
    else:
        turns = _turns(channels[0], options, split_sentences=True)
        gaps = [0.0] + [turns[i].start_s - turns[i - 1].end_s for i in range(1, len(turns))]
        # The samples transcribed just now, or decoded again (seconds, next to minutes of ASR).
        voices = cluster_voices(_fingerprints(path, turns, samples))
        guesses = attribute_roles([turn.text for turn in turns], gaps, sop,
                                  row.rep if row else None, row.customer if row else None, voices)
        timeline = [(guess.role, guess.confidence, turn) for guess, turn in zip(guesses, turns)]
        role_method = "mono_cues"
    if not timeline:
        raise IngestError(str(path), "transcribe", "no speech was recognised in the recording",
                          "check that the file holds the call (not silence or hold music)")

    utterances = tuple(
        Utterance(index=index, speaker_role=role, speaker_name=rep_name if role == "rep" else customer_name,
                  text=turn.text, start_s=round(turn.start_s, 2), end_s=round(turn.end_s, 2),
                  role_confidence=confidence, words=turn.words)
        for index, (role, confidence, turn) in enumerate(timeline))
    meta = ConversationMeta(
        channel=(row.channel if row and row.channel else "phone"),
        language=language or channels[0]["language"],
        industry=row.industry if row else None, rep=row.rep if row else None, team=row.team if row else None,
        customer=row.customer if row else None, deal_id=row.deal_id if row else None,
        stage=row.stage if row else None, outcome=row.outcome if row else None,
        started_at=row.started_at if row else None)
    transcript = TranscriptInfo(
        audio_sha256=audio_sha256, duration_s=round(info.duration_s, 2), channels=info.channels,
        channels_transcribed=len(channels), sample_rate=info.sample_rate, model=model.name, compute_type=options.compute_type,
        options=tuple(sorted(options.decoding(info.duration_s, info.channels).items())),
        language_probability=channels[0]["language_probability"], role_method=role_method)
    return Conversation(conversation_id=audio_sha256[:16], source_path=str(path), source_key=None,
                        source_format="audio", meta=meta, utterances=utterances, transcript=transcript)
