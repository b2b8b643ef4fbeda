"""Transcription of call recordings (docs/asr.md).

The stage's entry point is :func:`pipeline.transcribe.whisper.transcribe_recording`
(recording + manifest row + SOP → :class:`~pipeline.models.Conversation` with timed,
role-labelled utterances and a ``TranscriptInfo``). Nothing outside this package imports an
ASR library, and importing the package itself loads none: the faster-whisper adapter is
imported only where a recording is transcribed, so chat-only installs need no audio extra.
"""

from pipeline.transcribe.options import AsrOptions

__all__ = ["AsrOptions"]
