"""Reading recordings: what a file holds (channels, rate, length), and its samples.

PyAV (FFmpeg) decodes wav, mp3, m4a/aac, flac, ogg/opus and amr alike, and resamples to the
16 kHz mono or per-channel float32 that Whisper expects, so 8 kHz telephone audio needs
nothing special. FFmpeg reads a file by its content, not its extension (an MP3 named .wav is
read as MP3). A file that FFmpeg cannot open is an :class:`IngestError` naming the file, and so
is a recording cut short: less audio decodes than its header states (:func:`check_complete`).
"""

from __future__ import annotations

import codecs
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
    stated_s: float | None = None  # the length the file's header states, when it states one


# MP3 frames that state the stream's length (LAME and most encoders write one).
_MP3_LENGTH_TAGS = (b"Xing", b"Info", b"VBRI")
_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"


def probe(path: str | Path) -> AudioInfo:
    """Channels, sample rate, duration and codec of a recording, without decoding it."""
    import av  # the audio extra

    path = Path(path)
    if not path.is_file():
        raise IngestError(str(path), "decode", "the file does not exist", "check the path")
    if path.stat().st_size == 0:
        raise IngestError(str(path), "decode", "the file is empty (0 bytes)", "copy or export the recording again")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise IngestError(str(path), "decode", "the file has no audio stream",
                                  "export the call recording again")
            stream = container.streams.audio[0]
            if stream.codec_context is None:  # a codec FFmpeg does not know (e.g. a WAV's unknown format tag)
                raise IngestError(str(path), "decode", f"the audio codec ({_unknown_codec(path)}) is not one "
                                  "FFmpeg can decode", "convert the recording to wav or mp3 with the software that made it, "
                                  "or export it again in a common format")
            duration = (float(container.duration) / av.time_base if container.duration
                        else float(stream.duration * stream.time_base) if stream.duration else 0.0)
            return AudioInfo(channels=stream.codec_context.channels, sample_rate=stream.codec_context.sample_rate,
                             duration_s=duration, codec=stream.codec_context.name,
                             stated_s=_stated_s(path, container.format.name, duration))
    except IngestError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        if _holds_text(path):
            raise IngestError(str(path), "decode", "the file holds text, not audio",
                              "if it is a chat export, give it its format's extension (.txt, .csv, .json, .jsonl); "
                              "otherwise copy the recording again") from exc
        raise IngestError(str(path), "decode", f"the audio cannot be decoded (FFmpeg: "
                          f"{getattr(exc, 'strerror', None) or exc})",
                          "check that the file is a complete wav/mp3/m4a/flac/ogg/amr recording") from exc


def _unknown_codec(path: Path) -> str:
    """How to name a codec FFmpeg does not know: a WAV's format tag, when it is a WAV."""
    format_tag, _, _ = _wav_header(path)
    return f"WAV format tag 0x{format_tag:04X}" if format_tag is not None else "not named in the file"


def _stated_s(path: Path, container_format: str, duration: float) -> float | None:
    """The length the file's header states: a WAV's data size, an MP3's Xing/Info/VBRI frame, an
    MP4's movie header. None for other files: FFmpeg estimates the length of AMR, ADTS AAC and
    MP3 without such a frame from the bit rate, which is no promise of what is in the file."""
    if container_format == "wav":
        return _wav_stated_s(path)
    if container_format == _MP4 or (container_format == "mp3" and _mp3_states_length(path)):
        return duration
    return None


def _head(path: Path, size: int = 4096) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def _holds_text(path: Path) -> bool:
    """True when the file starts with UTF-8 text (no control characters but white space)."""
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(_head(path, 1024))  # a cut last character is fine
    except (UnicodeDecodeError, OSError):
        return False
    return bool(text.strip()) and all(char.isprintable() or char.isspace() for char in text)


def _wav_header(path: Path) -> tuple[int | None, int, int | None]:
    """A WAV's format tag (1 = PCM, 0x0055 = MP3, …), byte rate and data size from its header;
    ``(None, 0, None)`` for a file that is not a RIFF/WAVE file."""
    head = _head(path)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None, 0, None
    offset, format_tag, byte_rate = 12, None, 0
    while offset + 8 <= len(head):
        chunk, size = head[offset:offset + 4], int.from_bytes(head[offset + 4:offset + 8], "little")
        if chunk == b"fmt ":
            format_tag = int.from_bytes(head[offset + 8:offset + 10], "little")
            byte_rate = int.from_bytes(head[offset + 16:offset + 20], "little")
        elif chunk == b"data":
            return format_tag, byte_rate, size
        offset += 8 + size + size % 2
    return format_tag, byte_rate, None


def _wav_stated_s(path: Path) -> float | None:
    """Seconds of audio a WAV header states (data size / byte rate, any codec); None without a
    readable header, or for the sizes streaming writers leave when they do not know the length
    (0, 0xFFFFFFFF). FFmpeg itself trusts the file size, so it never sees a WAV cut short."""
    _, byte_rate, size = _wav_header(path)
    return size / byte_rate if size is not None and byte_rate and 0 < size < 0xFFFFFF00 else None


def _mp3_states_length(path: Path) -> bool:
    """True when the first MP3 frame (after an ID3v2 tag) is a Xing/Info/VBRI frame stating the
    length; without one FFmpeg only estimates the length from the bit rate."""
    with open(path, "rb") as handle:
        tag = handle.read(10)
        if tag[:3] == b"ID3" and len(tag) == 10:  # skip the tag: its size is four 7-bit bytes (+ a footer)
            handle.seek(10 + sum(byte << (7 * (3 - n)) for n, byte in enumerate(tag[6:10]))
                        + (10 if tag[5] & 0x10 else 0))
        else:
            handle.seek(0)
        frame = handle.read(200)
    return any(name in frame for name in _MP3_LENGTH_TAGS)


def check_complete(path: str | Path, info: AudioInfo, decoded_s: float) -> None:
    """Raise when clearly less audio decodes than the file's header states (by more than 2% or
    1 s): a recording cut short by an interrupted copy or upload, whose transcript would silently
    miss the rest of the call."""
    if info.stated_s and decoded_s < info.stated_s - max(1.0, 0.02 * info.stated_s):
        raise IngestError(str(path), "decode", f"the recording is truncated: its header states "
                          f"{_length(info.stated_s)} of audio but only {_length(decoded_s)} are in the file",
                          "copy the complete recording again; to process just the part that is there, re-encode "
                          "it first (e.g. `ffmpeg -i <file> fixed.wav`)")


def _length(seconds: float) -> str:
    """``4.3 s`` or ``3:00:00``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


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


def packets_s(path: str | Path) -> float | None:
    """Seconds of audio the file's packets hold, read without decoding them (a few seconds for
    hours of audio): how much of a long recording is there, before decoding it. None when the
    packets do not say."""
    import av

    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            total = sum(packet.duration for packet in container.demux(stream) if packet.duration)
            return float(total * stream.time_base) if total and stream.time_base else None
    except Exception as exc:  # PyAV raises many types for broken streams
        raise IngestError(str(path), "decode", f"the audio cannot be decoded ({exc})",
                          "check that the file is a complete recording") from exc


def stream(path: str | Path, split_stereo: bool, block_s: float):
    """The samples of :func:`decode` in consecutive blocks of ``block_s`` seconds (the last one
    shorter), each with whether it is the last: ``(block, last)``, where a block is a float32
    array of shape ``(n,)``, or ``(2, n)`` with ``split_stereo``.

    A long recording is never held whole: at most two blocks (the one returned, and the next,
    decoded to know whether this one is the last) and FFmpeg's small buffers. The samples are
    exactly those :func:`decode` returns: the same FFmpeg resampler to 16-bit at 16 kHz, fed
    the same groups of frames, then scaled to float the same way.
    """
    import gc

    import av
    import numpy as np

    size = max(1, int(block_s * WHISPER_RATE)) * (2 if split_stereo else 1)  # interleaved int16 per block
    pending: list = []  # resampled int16 not yet in a block

    def whole_blocks(final: bool):
        """Cut the pending samples into blocks; keep the rest pending (nothing, when ``final``)."""
        joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
        cut = len(joined) if final else len(joined) - len(joined) % size
        pending[:] = [joined[cut:].copy()] if cut < len(joined) else []
        return [joined[start:start + size] for start in range(0, cut, size)]

    def as_float(interleaved):
        audio = interleaved.astype(np.float32) / 32768.0
        return audio.reshape(-1, 2).T if split_stereo else audio

    def resample(group):
        pending.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(group))

    blocks: list = []  # decoded blocks not yet returned: one is held back until the next exists
    resampler = av.AudioResampler(format="s16", layout="stereo" if split_stereo else "mono", rate=WHISPER_RATE)
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            # As faster_whisper.decode_audio: skip invalid frames, resample groups of 500,000 samples.
            fifo = av.AudioFifo()
            for frame in _valid_frames(container.decode(audio=0)):
                frame.pts = None
                fifo.write(frame)
                if fifo.samples >= 500_000:
                    resample(fifo.read())
                    if sum(len(array) for array in pending) >= size:
                        blocks += whole_blocks(final=False)
                        while len(blocks) > 1:
                            yield as_float(blocks.pop(0)), False
            if fifo.samples:
                resample(fifo.read())
            resample(None)  # flush
    except IngestError:
        raise
    except Exception as exc:  # PyAV raises many types for broken streams
        raise IngestError(str(path), "decode", f"the audio cannot be decoded ({exc})",
                          "check that the file is a complete recording") from exc
    finally:
        del resampler
        gc.collect()  # FFmpeg's resampler objects are only freed by a collection (faster-whisper #390)
    if pending:
        blocks += whole_blocks(final=True)
    if not blocks:  # no audio at all: one empty block, as decode() returns an empty array
        blocks = [np.zeros(0, dtype=np.int16)]
    while blocks:
        yield as_float(blocks.pop(0)), not blocks


def _valid_frames(frames):
    """Frames of a stream, skipping those FFmpeg finds invalid (as faster-whisper does)."""
    import av

    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def file_sha256(path: str | Path) -> str:
    """SHA-256 of the file's bytes: the audio's identity for ids and the transcript cache."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
