"""The faster-whisper adapter: a recording in, a :class:`Conversation` out.

Nothing outside ``pipeline/transcribe`` imports faster_whisper. The model is loaded once per
process (and so once per worker) and reused; task arguments stay paths and records.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from pipeline.ingest.errors import IngestError
from pipeline.ingest.metadata import ManifestRow
from pipeline.models import Conversation, ConversationMeta, TranscriptInfo, Utterance, Word, content_hash
from pipeline.sop import Sop
from pipeline.transcribe.audio import WHISPER_RATE, AudioInfo, check_complete, decode, file_sha256, probe
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


def _words(segment) -> tuple[Word, ...]:
    return tuple(Word(round(w.start, 3), round(w.end, 3), w.word, round(w.probability, 3)) for w in segment.words or ())


def transcribe_channel(model, samples, language: str | None, options: AsrOptions, label: str = "") -> dict:
    """Transcribe one channel; returns the JSON-able form that the transcript cache stores.

    A progress bar counts audio minutes on a terminal (``label`` names the file/channel).
    """
    from tqdm import tqdm

    if language is None:
        language, _probability, _all = model.detect_language(samples)
    minutes = len(samples) / WHISPER_RATE / 60
    with _TRANSCRIBE_LOCK:  # CTranslate2 already uses every core: run one decode at a time
        segments, info = model.transcribe(
            samples, language=language, beam_size=options.beam_size, temperature=options.temperature,
            vad_filter=options.vad_filter, word_timestamps=True,
            # Conditioning on the previous text is what turns one error into a repetition loop.
            condition_on_previous_text=False,
            initial_prompt=ZH_PROMPT if language == "zh" else None)
        raw = []
        # disable=None: a bar on a terminal, nothing in CI logs.
        with tqdm(total=round(minutes, 2), unit="audio min", desc=label, disable=None, leave=False) as bar:
            for s in segments:  # a generator: decoding happens while we iterate
                raw.append(AsrSegment(s.start, s.end, s.text, _words(s), s.no_speech_prob, s.avg_logprob,
                                      s.compression_ratio))
                bar.update(round(min(s.end / 60, minutes) - bar.n, 2))
    kept, dropped = drop_hallucinations(raw)
    for segment, reason in dropped:
        log.info("dropped segment %.1f–%.1f s (%s): %r", segment.start_s, segment.end_s, reason, segment.text)
    words = [word for segment in kept for word in segment.words]
    if language == "zh":
        words = [Word(w.start_s, w.end_s, chinese_punctuation(to_simplified(w.text)), w.probability) for w in words]
    return {"language": language, "language_probability": round(info.language_probability, 3),
            "words": [asdict(word) for word in words],
            "dropped": [{"start_s": s.start_s, "end_s": s.end_s, "text": s.text, "reason": r} for s, r in dropped]}


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


def _cache_path(cache_dir: Path, audio_sha256: str, model: ModelLocation, options: AsrOptions, language: str | None) -> Path:
    key = content_hash(audio_sha256, model.name, options.decoding(), language, CACHE_FORMAT)
    return cache_dir / f"{audio_sha256[:16]}-{key}.json"


def transcribe_channels(path: Path, info: AudioInfo, model: ModelLocation, options: AsrOptions,
                        language: str | None, cache_dir: Path) -> list[dict]:
    """Per-channel transcripts, from the cache when this audio was transcribed with the same
    model and options before (re-tagging never re-transcribes). A recording cut short fails
    before any transcription."""
    cache_file = _cache_path(cache_dir, file_sha256(path), model, options, language)
    if cache_file.is_file():
        return json.loads(cache_file.read_text(encoding="utf-8"))
    samples = decode(path, split_stereo=info.channels == 2)
    arrays = list(samples) if info.channels == 2 else [samples]
    check_complete(path, info, len(arrays[0]) / WHISPER_RATE)
    whisper = load_model(str(model.path), options.compute_type, options.cpu_threads)
    if len(arrays) == 2 and is_dual_mono(*arrays):
        # Two identical channels (e.g. a mono speech saved as stereo) hold one mixed signal.
        arrays = arrays[:1]
    results = []
    for number, array in enumerate(arrays, start=1):
        # The first channel's language decides the second's: one call, one language.
        results.append(transcribe_channel(whisper, array, language or (results[0]["language"] if results else None),
                                          options, f"{path.name} [{number}/{len(arrays)}]"))
    # Transcripts are unredacted (redaction comes later, with the conversation): as private as
    # the recordings, so readable by the owner only.
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = cache_file.with_suffix(f".{os.getpid()}.tmp")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(results, ensure_ascii=False))
    os.replace(temporary, cache_file)
    return results


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
    channels = transcribe_channels(path, info, model, options, language, cache_dir)
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
        samples = decode(path, split_stereo=False)  # seconds of work, next to minutes of ASR
        voices = cluster_voices([turn_fingerprint(samples, t.start_s, t.end_s) for t in turns])
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
    audio_sha256 = file_sha256(path)
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
        options=tuple(sorted(options.decoding().items())),
        language_probability=channels[0]["language_probability"], role_method=role_method)
    return Conversation(conversation_id=audio_sha256[:16], source_path=str(path), source_key=None,
                        source_format="audio", meta=meta, utterances=utterances, transcript=transcript)
