"""Decode exported text files whose encoding nobody wrote down.

Chinese exports come as UTF-8, UTF-8 with a BOM (Excel, Windows Notepad) or GB18030/GBK
(older Windows tools). We detect rather than guess: a BOM is trusted, strict UTF-8 is tried
next, and a Chinese legacy encoding is accepted only when the detector agrees. Anything else
is an error that names the file and how to fix it, never silently mangled text.
"""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

from charset_normalizer import from_bytes

from pipeline.ingest.errors import IngestError

log = logging.getLogger(__name__)

# Encodings the detector may report for Chinese legacy files; GB18030 decodes all of GB2312
# and GBK, so it is the one we decode with.
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "hz"}
_BIG5_FAMILY = {"big5", "big5hkscs", "cp950"}


def decode_bytes(data: bytes, path: str) -> tuple[str, str]:
    """Return ``(text, encoding)`` for the bytes of ``path``; raise :class:`IngestError` if unsure."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    best = from_bytes(data).best()
    guess = best.encoding.lower().replace("-", "").replace("_", "") if best else ""
    normalized_family = {name.replace("_", "") for name in _GB_FAMILY}
    if guess in normalized_family:
        encoding = "gb18030"
    elif guess in {name.replace("_", "") for name in _BIG5_FAMILY}:
        encoding = "big5"
    else:
        raise IngestError(
            path, "read",
            f"the file is not valid UTF-8 (byte {utf8_error.start}) and its encoding could not be "
            f"detected as a Chinese encoding (detector: {best.encoding if best else 'no guess'})",
            "re-save the file as UTF-8 (in Excel: 'CSV UTF-8'; in Notepad: Save as → UTF-8)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(
            path, "read", f"the file looks like {encoding} but byte {exc.start} is invalid there "
            "(mixed encodings in one file?)", "re-save the whole file in one encoding, preferably UTF-8") from exc
    log.info("%s: decoded as %s (detected %s)", path, encoding, best.encoding if best else "?")
    return text, encoding


def read_text(path: str | Path) -> tuple[str, str]:
    """Read a text file and decode it with :func:`decode_bytes`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(str(path), "read", f"cannot read the file ({exc.strerror})",
                          "check that it exists and that Keynode may read it") from exc
    if not data.strip():
        raise IngestError(str(path), "read", "the file is empty", "export the conversation again")
    return decode_bytes(data, str(path))
