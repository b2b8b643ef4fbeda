"""Decoding options of the transcription stage (importable without the audio extra)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AsrOptions:
    """Decoding options; all of them are recorded on every transcript and key its cache."""

    model: str = "base"          # "base" = the packaged model, or a local CTranslate2 Whisper directory
    compute_type: str = "int8"
    beam_size: int = 5
    temperature: float = 0.0     # no temperature fallback: repeatable output
    vad_filter: bool = True      # faster-whisper's bundled Silero VAD (offline)
    pause_s: float = 0.8         # a pause longer than this starts a new utterance
    cpu_threads: int = 0         # 0: CTranslate2 picks (all cores)

    def decoding(self) -> dict:
        """The options that change the text (the cache key); ``cpu_threads`` does not."""
        record = asdict(self)
        record.pop("cpu_threads")
        return record
