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
    # Engine: > 0 = faster-whisper's BatchedInferencePipeline, which decodes this many clips of
    # at most 30 s of speech at once (faster than one 30-s window after another, and no less
    # accurate on the sample calls and a 21-minute call: docs/asr.md, "Speed and memory");
    # 0 = the sequential engine. Batching needs the VAD: without it, sequential.
    batch_size: int = 8
    batched_min_s: float = 0.0   # recordings shorter than this use the sequential engine

    def batch_size_for(self, duration_s: float) -> int:
        """The batch size used for a recording of ``duration_s`` seconds; 0 = sequential."""
        if not self.vad_filter or duration_s < self.batched_min_s:
            return 0
        return max(0, self.batch_size)

    def decoding(self, duration_s: float | None = None) -> dict:
        """The options that change the text (the cache key); ``cpu_threads`` does not.

        With ``duration_s``, the engine actually used for a recording that long: a sequential
        transcript is keyed and recorded without engine fields (as before batching existed),
        a batched one with its ``batch_size``.
        """
        record = asdict(self)
        record.pop("cpu_threads")
        if duration_s is not None:
            record.pop("batched_min_s")
            record.pop("batch_size")
            if batch_size := self.batch_size_for(duration_s):
                record["batch_size"] = batch_size
        return record
