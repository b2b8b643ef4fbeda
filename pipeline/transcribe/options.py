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
    # Mono recordings use the sequential engine unless this is set: their speaker roles are
    # inferred from the turns' words and pauses, and with batched decoding the mono sample
    # calls' roles were right for 80% of utterances instead of 93% (make eval-asr, 2026-12-02).
    # Stereo calls take their roles from the channels.
    batched_mono: bool = False

    def batch_size_for(self, duration_s: float, channels: int) -> int:
        """The batch size used for a recording of ``duration_s`` seconds with ``channels``
        channels; 0 = sequential."""
        if not self.vad_filter or duration_s < self.batched_min_s or (channels < 2 and not self.batched_mono):
            return 0
        return max(0, self.batch_size)

    def decoding(self, duration_s: float | None = None, channels: int | None = None) -> dict:
        """The options that change the text (the cache key); ``cpu_threads`` does not.

        With ``duration_s`` and ``channels``, the engine actually used for such a recording: a
        sequential transcript is keyed and recorded without engine fields (as before batching
        existed), a batched one with its ``batch_size``.
        """
        record = asdict(self)
        record.pop("cpu_threads")
        if duration_s is not None and channels is not None:
            for engine_field in ("batched_min_s", "batch_size", "batched_mono"):
                record.pop(engine_field)
            if batch_size := self.batch_size_for(duration_s, channels):
                record["batch_size"] = batch_size
        return record
