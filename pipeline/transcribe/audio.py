"""Reading recordings: what a file holds (channels, rate, length), and its samples.

PyAV (FFmpeg) decodes wav, mp3, m4a/aac, flac, ogg/opus and amr alike, and resamples to the
16 kHz mono or per-channel float32 that Whisper expects, so 8 kHz telephone audio needs
nothing special. A file that FFmpeg cannot open is an :class:`IngestError` naming the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.ingest.errors import IngestError

WHISPER_RATE = 16_000


@dataclass(frozen=True)
class AudioInfo:
    """What the container says about its first audio stream."""

    channels: int
    sample_rate: int
    duration_s: float
    codec: str


def probe(path: str | Path) -> AudioInfo:
    """Channels, sample rate, duration and codec of a recording, without decoding it."""
    import av  # the audio extra

    if not Path(path).is_file():
        raise IngestError(str(path), "decode", "the file does not exist", "check the path")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise IngestError(str(path), "decode", "the file has no audio stream",
                                  "export the call recording again")
            stream = container.streams.audio[0]
            duration = (float(container.duration) / av.time_base if container.duration
                        else float(stream.duration * stream.time_base) if stream.duration else 0.0)
            return AudioInfo(channels=stream.codec_context.channels, sample_rate=stream.codec_context.sample_rate,
                             duration_s=duration, codec=stream.codec_context.name)
    except IngestError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise IngestError(str(path), "decode", f"the audio cannot be decoded ({exc})",
                          "check that the file is a complete wav/mp3/m4a/flac/ogg/amr recording") from exc


def decode(path: str | Path, split_stereo: bool):
    """Float32 samples at 16 kHz: one array, or ``(left, right)`` with ``split_stereo``.

    Only call ``split_stereo`` on a file whose :func:`probe` says 2 channels: on a mono file
    faster-whisper silently returns the same channel twice.
    """
    from faster_whisper import decode_audio

    try:
        return decode_audio(str(path), sampling_rate=WHISPER_RATE, split_stereo=split_stereo)
    except Exception as exc:  # PyAV raises many types for broken streams
        raise IngestError(str(path), "decode", f"the audio cannot be decoded ({exc})",
                          "check that the file is a complete recording") from exc


def file_sha256(path: str | Path) -> str:
    """SHA-256 of the file's bytes: the audio's identity for ids and the transcript cache."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
