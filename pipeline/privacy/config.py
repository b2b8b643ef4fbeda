"""How to redact: the mode, the placeholder language, extra patterns and the hash salt.

A configuration usually comes from a YAML or JSON mapping::

    mode: mask            # off | mask | hash
    lang: auto            # zh | en | auto (per line, by its share of Chinese)
    salt: ""              # hash mode: a secret, so tokens cannot be reversed by brute force
    patterns:             # extra kinds of personal data, found by regular expression
      - kind: contract_no
        regex: 'HT-\\d{8}'   # in YAML, single quotes keep the backslash as it is
        mask: "[合同号]"      # optional; default "[contract_no]"

:func:`load_redaction_config` checks such a mapping and says what is wrong and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from pipeline.privacy.kinds import KINDS, LANGUAGES, REDACTION_MODES

_KIND_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_CONFIG_KEYS = ("mode", "lang", "patterns", "salt")
_PATTERN_KEYS = ("kind", "regex", "mask")


class RedactionConfigError(ValueError):
    """A redaction configuration that cannot be used; the message names the key and the fix."""


@lru_cache(maxsize=256)
def compile_pattern(kind: str, regex: str) -> re.Pattern[str]:
    """``regex`` compiled, or :class:`RedactionConfigError` naming ``kind`` and the fix."""
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise RedactionConfigError(
            f"redaction pattern {kind!r}: invalid regular expression {regex!r} ({exc}); fix the regex "
            "(Python syntax; in YAML put it in single quotes so that backslashes stay as written)") from None
    if pattern.fullmatch(""):
        raise RedactionConfigError(
            f"redaction pattern {kind!r}: the regular expression {regex!r} matches empty text, so it would "
            "mask nothing useful; make it require at least one character (e.g. + instead of *)")
    return pattern


@dataclass(frozen=True)
class RedactionConfig:
    """What :func:`pipeline.privacy.redact_with` does.

    ``mode``: ``off`` (text unchanged), ``mask`` (placeholders) or ``hash`` (salted tokens).
    ``lang``: the placeholder language, ``zh``, ``en`` or ``auto`` (decided per line).
    ``patterns``: extra kinds as ``(kind, regex, placeholder)``; the placeholder is used in every
    language (``None`` or ``""``: ``[kind]``). ``salt``: prepended to values before hashing.
    Invalid values raise :class:`RedactionConfigError` (a ``ValueError``) when the config is built.
    """

    mode: str = "mask"
    lang: str = "zh"
    patterns: tuple[tuple[str, str, str | None], ...] = ()
    salt: str = field(default="", repr=False)  # a secret: never in a log line or an error message

    def __post_init__(self) -> None:
        if self.mode not in REDACTION_MODES:
            raise RedactionConfigError(
                f"unknown redaction mode {self.mode!r}; expected one of: {', '.join(REDACTION_MODES)}")
        if self.lang not in LANGUAGES:
            raise RedactionConfigError(
                f"unknown redaction language {self.lang!r}; expected one of: {', '.join(LANGUAGES)}")
        if not isinstance(self.salt, str):
            raise RedactionConfigError(f"redaction salt must be text, not {type(self.salt).__name__}")
        patterns = []
        seen: set[str] = set()
        for position, entry in enumerate(self.patterns):
            if isinstance(entry, str) or len(entry) not in (2, 3):
                raise RedactionConfigError(
                    f"redaction pattern #{position + 1}: expected (kind, regex, placeholder), got {entry!r}")
            kind, regex, placeholder = (*entry, None) if len(entry) == 2 else entry
            if not isinstance(kind, str) or not _KIND_NAME.fullmatch(kind):
                raise RedactionConfigError(
                    f"redaction pattern #{position + 1}: kind {kind!r} must be a lower-case name of letters, "
                    "digits and _ starting with a letter (e.g. contract_no)")
            if kind in KINDS:
                raise RedactionConfigError(
                    f"redaction pattern {kind!r}: {kind} is a built-in kind; give the pattern another name")
            if kind in seen:
                raise RedactionConfigError(f"redaction pattern {kind!r} is listed twice; merge the two regexes "
                                           "with | or rename one")
            seen.add(kind)
            if not isinstance(regex, str) or not regex:
                raise RedactionConfigError(f"redaction pattern {kind!r}: regex must be non-empty text")
            if placeholder is not None and not isinstance(placeholder, str):
                raise RedactionConfigError(f"redaction pattern {kind!r}: mask must be text, e.g. \"[{kind}]\"")
            compile_pattern(kind, regex)
            patterns.append((kind, regex, placeholder or f"[{kind}]"))
        object.__setattr__(self, "patterns", tuple(patterns))


def load_redaction_config(mapping: Mapping | None) -> RedactionConfig:
    """A :class:`RedactionConfig` from a parsed YAML/JSON mapping (see the module docstring).

    Missing keys take the defaults (``mask``, ``zh``, no patterns, no salt); unknown keys, wrong
    types, unknown modes or languages and invalid regexes raise :class:`RedactionConfigError`
    with a message naming the key or pattern and the fix.
    """
    if mapping is None:
        return RedactionConfig()
    if not isinstance(mapping, Mapping):
        raise RedactionConfigError(f"redaction config must be a mapping with keys {', '.join(_CONFIG_KEYS)}, "
                                   f"not {type(mapping).__name__}")
    unknown = sorted(set(map(str, mapping)) - set(_CONFIG_KEYS))
    if unknown:
        raise RedactionConfigError(f"redaction config: unknown key(s) {', '.join(unknown)}; "
                                   f"expected: {', '.join(_CONFIG_KEYS)}")
    raw_patterns = mapping.get("patterns") or []
    if not isinstance(raw_patterns, list | tuple):
        raise RedactionConfigError("redaction config: patterns must be a list of {kind, regex, mask} entries")
    patterns = []
    for position, raw in enumerate(raw_patterns):
        where = f"redaction config: patterns[{position}]"
        if not isinstance(raw, Mapping):
            raise RedactionConfigError(f"{where} must be a mapping with keys kind, regex and (optional) mask")
        unknown = sorted(set(map(str, raw)) - set(_PATTERN_KEYS))
        if unknown:
            raise RedactionConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; expected: kind, regex, mask")
        for key in ("kind", "regex"):
            if not isinstance(raw.get(key), str) or not raw.get(key):
                raise RedactionConfigError(f"{where}: {key!r} is missing or not text")
        patterns.append((raw["kind"], raw["regex"], raw.get("mask")))
    values = {key: mapping[key] for key in ("mode", "lang", "salt") if mapping.get(key) is not None}
    if values.get("mode") is False:  # YAML 1.1 reads an unquoted `mode: off` as false
        values["mode"] = "off"
    for key, value in values.items():
        if not isinstance(value, str):
            raise RedactionConfigError(f"redaction config: {key} must be text, not {type(value).__name__}")
    return RedactionConfig(patterns=tuple(patterns), **values)
