"""Personal data (个人信息): find it in conversation text and mask or hash it (pipeline/privacy/redact.py)."""

from __future__ import annotations

from pipeline.privacy.redact import REDACTION_MODES, Span, find_pii, redact

__all__ = ["REDACTION_MODES", "Span", "find_pii", "redact"]
