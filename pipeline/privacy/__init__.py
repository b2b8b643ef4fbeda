"""Personal data (个人信息): find it in conversation text and mask or hash it.

- :mod:`pipeline.privacy.redact`: what counts as personal data and how text is redacted;
- :mod:`pipeline.privacy.config`: :class:`RedactionConfig` and :func:`load_redaction_config`;
- :mod:`pipeline.privacy.words`: word-level tokens (ASR words with timestamps) and utterances;
- :mod:`pipeline.privacy.conversation`: whole conversations before they are stored, and
  ``configs/privacy.yaml`` (:class:`PrivacyConfig`, :func:`load_privacy_config`);
- :mod:`pipeline.privacy.command`: ``keynode redact`` (text lines on standard input);
- :mod:`pipeline.privacy.metrics`: recall and false-positive rate on a labelled set.
"""

from __future__ import annotations

from pipeline.privacy.config import RedactionConfig, RedactionConfigError, load_redaction_config
from pipeline.privacy.conversation import SALT_VARIABLE, PrivacyConfig, load_privacy_config, redact_conversation
from pipeline.privacy.kinds import KINDS, LANGUAGES, PLACEHOLDERS, PLACEHOLDERS_EN, REDACTION_MODES
from pipeline.privacy.redact import Span, find_pii, line_language, redact, redact_with
from pipeline.privacy.words import join_words, redact_utterance, redact_words

__all__ = ["KINDS", "LANGUAGES", "PLACEHOLDERS", "PLACEHOLDERS_EN", "REDACTION_MODES", "SALT_VARIABLE",
           "PrivacyConfig", "RedactionConfig", "RedactionConfigError", "Span", "find_pii", "join_words",
           "line_language", "load_privacy_config", "load_redaction_config", "redact", "redact_conversation",
           "redact_utterance", "redact_with", "redact_words"]
