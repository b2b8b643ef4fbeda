"""Personal data redacted from whole conversations before they are analysed and stored.

``configs/privacy.yaml`` (:func:`load_privacy_config`) says how: ``mode`` (off | mask | hash),
``lang`` (zh | en | auto), extra ``patterns`` and ``keep_original``; the hash salt comes from the
environment variable ``KEYNODE_REDACT_SALT`` only, never from the file. The flow calls
:func:`redact_conversation` on every conversation it reads or transcribes, before the
fingerprint and before analysis, so everything derived and stored (transcript, word tokens,
key-event evidence, notes, tips) is derived from the redacted text (docs/architecture.md,
"Personal data").
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.models import Conversation
from pipeline.privacy.config import RedactionConfig, RedactionConfigError, load_redaction_config
from pipeline.privacy.words import redact_utterance

SALT_VARIABLE = "KEYNODE_REDACT_SALT"
_FILE_KEYS = ("mode", "lang", "keep_original", "patterns")


@dataclass(frozen=True)
class PrivacyConfig:
    """How conversations are redacted before they are stored, and whether the original text of
    the utterances that changed is kept (for admins only)."""

    redaction: RedactionConfig = field(default_factory=lambda: RedactionConfig(mode="mask", lang="auto"))
    keep_original: bool = False

    def fingerprint(self) -> dict:
        """What stored results depend on (part of the conversation fingerprint): mode, language,
        patterns and keep_original. Never the salt."""
        return {"mode": self.redaction.mode, "lang": self.redaction.lang,
                "patterns": [list(pattern) for pattern in self.redaction.patterns],
                "keep_original": self.keep_original}


def redact_conversation(conversation: Conversation, config: RedactionConfig
                        ) -> tuple[Conversation, dict[int, str]]:
    """``conversation`` with the text and word tokens of every utterance redacted as ``config``
    says, and the original text of each utterance whose text changed, by utterance index.

    Pure. The ``conversation_id`` stays the one of the original content (so a re-run recognises
    an unchanged conversation); speaker names and metadata are left as they are. ``mode="off"``
    returns the conversation itself and no originals.
    """
    if config.mode == "off":
        return conversation, {}
    utterances, originals = [], {}
    for utterance in conversation.utterances:
        redacted = redact_utterance(utterance, config)
        if redacted.text != utterance.text:
            originals[utterance.index] = utterance.text
        utterances.append(utterance if redacted == utterance else redacted)
    if all(new is old for new, old in zip(utterances, conversation.utterances)):
        return conversation, originals
    return dataclasses.replace(conversation, utterances=tuple(utterances)), originals


def load_privacy_config(path: str | Path, required: bool = True,
                        environ: Mapping[str, str] | None = None) -> PrivacyConfig:
    """The privacy settings of a YAML file (``configs/privacy.yaml``), the salt from
    ``$KEYNODE_REDACT_SALT``.

    A missing file gives the defaults (mask, auto, keep_original false) when not ``required``.
    Raises :class:`~pipeline.privacy.config.RedactionConfigError` naming the file and the fix for
    an unreadable file, invalid YAML, an unknown key or value, a salt written in the file, and
    hash mode without the salt variable.
    """
    import yaml

    path = Path(path)
    environ = os.environ if environ is None else environ
    if not path.exists() and not required:
        return PrivacyConfig()
    try:
        document = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise RedactionConfigError(f"{path}: cannot read the privacy config ({exc.strerror}). Pass an existing "
                                   "file with --privacy or restore configs/privacy.yaml.") from None
    except UnicodeDecodeError as exc:
        raise RedactionConfigError(f"{path}: the privacy config is not UTF-8 ({exc.reason}). Save it as UTF-8.") \
            from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RedactionConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}. "
                                   "Fix the syntax (indentation, quotes, colons).") from None
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise RedactionConfigError(f"{path}: the privacy config must be a mapping with the keys "
                                   f"{', '.join(_FILE_KEYS)}, not {type(document).__name__}.")
    document = dict(document)
    if "salt" in document:
        raise RedactionConfigError(f"{path}: key 'salt': the hash salt is a secret and is never stored in the file. "
                                   f"Remove it and set the environment variable {SALT_VARIABLE} instead.")
    unknown = sorted(set(map(str, document)) - set(_FILE_KEYS))
    if unknown:
        raise RedactionConfigError(f"{path}: unknown key(s) {', '.join(unknown)}. "
                                   f"Use only {', '.join(_FILE_KEYS)} (docs/architecture.md, \"Personal data\").")
    keep_original = document.pop("keep_original", False)
    if keep_original is None:
        keep_original = False
    if not isinstance(keep_original, bool):
        raise RedactionConfigError(f"{path}: key 'keep_original' must be true or false, not {keep_original!r}.")
    document.setdefault("mode", "mask")
    document.setdefault("lang", "auto")
    salt = environ.get(SALT_VARIABLE, "")
    try:
        redaction = load_redaction_config({**document, "salt": salt})
    except RedactionConfigError as exc:
        raise RedactionConfigError(f"{path}: {exc}") from None
    if redaction.mode == "hash" and not salt:
        raise RedactionConfigError(
            f"{path}: mode is hash but the environment variable {SALT_VARIABLE} is not set. Set it to a long "
            f"random secret, the same for every run (e.g. export {SALT_VARIABLE}=$(python -c "
            "'import secrets; print(secrets.token_hex(32))')), or use mode: mask.")
    return PrivacyConfig(redaction=redaction, keep_original=keep_original)
