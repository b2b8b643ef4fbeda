"""Decode exported text files whose encoding nobody wrote down.

Chinese exports come as UTF-8, UTF-8 with a BOM (Excel, Windows Notepad) or GB18030/GBK
(older Windows tools). We detect rather than guess: a BOM is trusted, strict UTF-8 is tried
next, and a Chinese legacy encoding is accepted only when the detector agrees. Anything else
is an error that names the file and how to fix it, never silently mangled text. NUL bytes
never occur in a text export outside UTF-16: a file holding them without a UTF-16 BOM is
binary, damaged, or UTF-16 without its BOM, and is refused as such.

The detector is asked to choose among the Chinese encodings only: left free, it calls short
GBK files cp949 or Big5 (a few GBK characters are also valid Big5 and Korean bytes), which
rejected or, worse, silently garbled them. GB18030 wins a tie, and its reading must look like
simplified Chinese (mostly GB2312 characters), so Japanese or binary bytes are still refused.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
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
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise IngestError(path, "read", f"the file starts with a UTF-8 byte order mark but byte "
                              f"{exc.start + len(codecs.BOM_UTF8)} is not valid UTF-8 (mixed encodings in one file?)",
                              "re-save the whole file in one encoding, preferably UTF-8") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise IngestError(path, "read", f"the file starts with a UTF-16 byte order mark but byte {exc.start} "
                              "is not valid UTF-16", "re-save the file as UTF-8") from exc
    if b"\x00" in data:
        raise _nul_error(data, path)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if mixed := _mixed_lines(data):
        # Checked before the detector, which may read the UTF-8 lines as (garbled) GB18030.
        raise IngestError(
            path, "read", f"the file mixes encodings: line {mixed[0]} is UTF-8 but line {mixed[1]} is not",
            "re-save the whole file in one encoding, preferably UTF-8 (re-export it, or fix the lines "
            "that show garbled characters in an editor)")
    # Only the encodings we would accept compete; on equal chaos GB18030 (mainland exports) wins.
    matches = list(from_bytes(data, cp_isolation=["gb18030", "big5"]))
    best = min(matches, key=lambda match: (match.chaos, match.encoding != "gb18030"), default=None)
    guess = best.encoding.lower().replace("-", "").replace("_", "") if best else ""
    normalized_family = {name.replace("_", "") for name in _GB_FAMILY}
    if guess in normalized_family and _looks_simplified(str(best)):
        encoding = "gb18030"
    elif guess in {name.replace("_", "") for name in _BIG5_FAMILY}:
        encoding = "big5"
    else:
        raise IngestError(
            path, "read",
            f"the file is not valid UTF-8 (byte {utf8_error.start}) and its encoding could not be "
            f"detected as a Chinese encoding (detector: "
            f"{f'{best.encoding}, which does not read as Chinese text' if best else 'no guess'})",
            "re-save the file as UTF-8 (in Excel: 'CSV UTF-8'; in Notepad: Save as → UTF-8)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(
            path, "read", f"the file looks like {encoding} but byte {exc.start} is invalid there "
            "(mixed encodings in one file?)", "re-save the whole file in one encoding, preferably UTF-8") from exc
    log.info("%s: decoded as %s (detected %s)", path, encoding, best.encoding if best else "?")
    return text, encoding


_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _nul_error(data: bytes, path: str) -> IngestError:
    """The error for a file with NUL bytes and no UTF-16 BOM: UTF-16 without its BOM (the high
    byte of every ASCII character is NUL, so NULs crowd one byte position of two), or binary /
    damaged data."""
    shares = sorted((data[0::2].count(0) / max(len(data) // 2, 1), data[1::2].count(0) / max(len(data) // 2, 1)))
    if len(data) % 2 == 0 and shares[1] > 0.3 and shares[0] < 0.1:
        return IngestError(path, "read", "the file looks like UTF-16 without a byte order mark",
                           "re-save the file as UTF-8 (in Excel: 'CSV UTF-8'; in Notepad: Save as → UTF-8)")
    at = data.index(b"\x00")
    line = data.count(b"\n", 0, at) + 1
    return IngestError(path, "read", f"the file holds NUL bytes (the first at byte {at}, line {line}): "
                       "it is binary or damaged, not a text export",
                       "export the conversation again as a text file (UTF-8)")


def _mixed_lines(data: bytes) -> tuple[int, int] | None:
    """``(utf8_line, other_line)`` when some lines hold Chinese text in UTF-8 and other lines are
    not UTF-8: a file written in two encodings (e.g. a GBK export with UTF-8 lines pasted in)."""
    utf8_line = other_line = None
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            other_line = other_line or number
        else:
            utf8_line = utf8_line or (number if _HANZI.search(text) else None)
        if utf8_line and other_line:
            return utf8_line, other_line
    return None


def _looks_simplified(text: str) -> bool:
    """True when most Chinese characters of a GB18030 reading are GB2312 (common simplified)
    characters; other bytes read as GB18030 (Shift-JIS, binary) give rare extension characters."""
    hanzi = _HANZI.findall(text)
    common = sum(1 for char in hanzi if _encodes(char, "gb2312"))
    return bool(hanzi) and common / len(hanzi) > 0.5


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def read_text(path: str | Path) -> tuple[str, str]:
    """Read a text file and decode it with :func:`decode_bytes`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        if path.is_symlink():
            raise IngestError(str(path), "read", f"it is a symbolic link to {os.readlink(path)}, which cannot "
                              f"be read ({exc.strerror})", "point the link at the export or remove it") from exc
        raise IngestError(str(path), "read", f"cannot read the file ({exc.strerror})",
                          "check that it exists and that Keynode may read it") from exc
    if not data.strip():
        raise IngestError(str(path), "read", "the file is empty", "export the conversation again")
    return decode_bytes(data, str(path))
