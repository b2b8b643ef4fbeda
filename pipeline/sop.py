"""Load and validate ``configs/sop.yaml`` into frozen objects.

Validation is strict: an unknown key, a missing key, a bad value or an invalid regular
expression raises :class:`SopError` naming the file, the node and the key, because a typo in
an SOP must never silently switch a rule off. docs/sop.md documents every key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.text import CueSet

DIMENSIONS: tuple[str, ...] = ("key_points", "communication_skill", "attitude", "customer_feedback")
SPEAKERS: tuple[str, ...] = ("rep", "customer", "any")
CHECKS: tuple[str, ...] = ("need_overlap",)
LANGS: tuple[str, ...] = ("zh", "en")


class SopError(ValueError):
    """The SOP file cannot be used; the message names file, node and key, and the fix."""


@dataclass(frozen=True)
class KeyPoint:
    """One item of a node's checklist (要点)."""

    point_id: str
    name: dict[str, str]
    cues: CueSet
    speaker: str
    check: str | None = None


@dataclass(frozen=True)
class SopNode:
    """One key event of the SOP, as configured."""

    node_id: str
    name: dict[str, str]
    order: int
    speaker: str
    required: bool
    weight: float
    within_first: int | None
    min_cues: int
    expects_answer: bool
    cues: CueSet
    negative_cues: CueSet
    key_points: tuple[KeyPoint, ...]
    tips: dict[str, dict[str, str]]
    #: Communication skill also counts how much of the rep's talk in the node connects to
    #: what the customer said they need (``needs_relevance: true`` in sop.yaml).
    needs_relevance: bool = False

    def label(self, language: str) -> str:
        return self.name.get(language) or self.name["en"]


@dataclass(frozen=True)
class ScoringConfig:
    """Dimension weights, thresholds and lexicons the scorer reads."""

    dimension_weights: dict[str, float]
    feedback_window_turns: int
    max_monologue: dict[str, int]
    open_question_cues: CueSet
    closed_question_cues: CueSet
    polite_markers: CueSet
    forbidden_phrases: CueSet
    tips: dict[str, dict[str, str]]
    #: Conversation-metric settings (``scoring.metrics``, optional): pipeline.scoring.interaction.MetricsConfig.
    metrics: Any = None


@dataclass(frozen=True)
class Sop:
    """A validated SOP: nodes in expected order plus the scoring configuration.

    ``version`` is the file's own version string plus a hash of its bytes, and is stored with
    every result so that scores under different SOP edits are never mixed up silently.
    """

    version: str
    nodes: tuple[SopNode, ...]
    scoring: ScoringConfig
    path: str

    def node(self, node_id: str) -> SopNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def node_ids(self) -> tuple[str, ...]:
        return tuple(node.node_id for node in self.nodes)


def load_sop(path: str | Path) -> Sop:
    """Read, validate and compile an SOP file. Raises :class:`SopError` on any problem."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise SopError(f"{path}: cannot read the SOP file ({exc.strerror}). "
                       "Pass an existing file with --sop or restore configs/sop.yaml.") from exc
    try:
        document = yaml.safe_load(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SopError(f"{path}: the SOP file is not UTF-8 ({exc.reason}). Save it as UTF-8.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SopError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}. "
                       "Fix the syntax (indentation, quotes, colons).") from exc
    return _parse(document, path, raw_bytes)


class _Where:
    """Builds error messages that name file, node and key."""

    def __init__(self, path: Path, node: str | None = None):
        self.path = path
        self.node = node

    def error(self, key: str, problem: str) -> SopError:
        node = f" node '{self.node}'" if self.node else ""
        return SopError(f"{self.path}:{node} key '{key}': {problem}")


def _mapping(value: Any, where: _Where, key: str, allowed: tuple[str, ...],
             required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(key, f"expected a mapping, got {type(value).__name__}")
    for name in value:
        if name not in allowed:
            raise where.error(f"{key}.{name}" if key else str(name),
                              f"unknown key (allowed: {', '.join(allowed)})")
    for name in required:
        if name not in value:
            raise where.error(f"{key}.{name}" if key else name, "missing required key")
    return value


def _strings(value: Any, where: _Where, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, (str, int, float)) for item in value):
        raise where.error(key, "expected a list of phrases")
    return tuple(str(item) for item in value)


def _patterns(value: Any, where: _Where, key: str) -> tuple[str, ...]:
    patterns = _strings(value, where, key)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise where.error(key, f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


def _by_language(value: Any, where: _Where, key: str) -> tuple[str, ...]:
    """A ``{zh: [...], en: [...]}`` cue list, flattened."""
    mapping = _mapping(value, where, key, LANGS)
    return tuple(cue for lang in LANGS for cue in _strings(mapping.get(lang), where, f"{key}.{lang}"))


def _texts(value: Any, where: _Where, key: str) -> dict[str, str]:
    mapping = _mapping(value, where, key, LANGS, LANGS)
    for lang in LANGS:
        if not isinstance(mapping[lang], str) or not mapping[lang].strip():
            raise where.error(f"{key}.{lang}", "expected a non-empty text")
    return {lang: mapping[lang] for lang in LANGS}


def _number(value: Any, where: _Where, key: str, kind: type, minimum: float = 0) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise where.error(key, f"expected a number ≥ {minimum}, got {value!r}")
    if kind is int and int(value) != value:
        raise where.error(key, f"expected a whole number, got {value!r}")
    return kind(value)


def _parse(document: Any, path: Path, raw_bytes: bytes) -> Sop:
    top = _Where(path)
    document = _mapping(document, top, "", ("version", "nodes", "scoring"), ("version", "nodes", "scoring"))
    if not isinstance(document["version"], (str, int, float)) or not str(document["version"]).strip():
        raise top.error("version", "expected a non-empty version string")
    if not isinstance(document["nodes"], list) or not document["nodes"]:
        raise top.error("nodes", "expected a non-empty list of nodes")

    nodes = [_parse_node(raw, index, path) for index, raw in enumerate(document["nodes"])]
    seen_ids: set[str] = set()
    seen_orders: dict[int, str] = {}
    for node in nodes:
        if node.node_id in seen_ids:
            raise _Where(path, node.node_id).error("id", "duplicate node id; every id must be unique")
        seen_ids.add(node.node_id)
        if node.order in seen_orders:
            raise _Where(path, node.node_id).error(
                "order", f"order {node.order} is also used by node '{seen_orders[node.order]}'")
        seen_orders[node.order] = node.node_id
    if sum(node.weight for node in nodes) <= 0:
        raise top.error("nodes", "at least one node needs a weight above 0")

    digest = hashlib.sha256(raw_bytes).hexdigest()[:8]
    return Sop(
        version=f"{document['version']}+{digest}",
        nodes=tuple(sorted(nodes, key=lambda node: node.order)),
        scoring=_parse_scoring(document["scoring"], path),
        path=str(path),
    )


_NODE_KEYS = ("id", "name", "order", "speaker", "required", "weight", "within_first", "min_cues",
              "expects_answer", "needs_relevance", "cues", "patterns", "negative_cues", "key_points", "tips")
_NODE_REQUIRED = ("id", "name", "order", "speaker", "required", "weight", "cues", "key_points", "tips")


def _parse_node(raw: Any, index: int, path: Path) -> SopNode:
    node_name = raw.get("id") if isinstance(raw, dict) else None
    where = _Where(path, str(node_name) if node_name else f"#{index + 1}")
    raw = _mapping(raw, where, "", _NODE_KEYS, _NODE_REQUIRED)
    node_id = raw["id"]
    if not isinstance(node_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", node_id):
        raise where.error("id", "expected a lower-case identifier like 'price_objection'")
    if raw["speaker"] not in SPEAKERS:
        raise where.error("speaker", f"expected one of {', '.join(SPEAKERS)}, got {raw['speaker']!r}")
    for flag in ("required", "expects_answer", "needs_relevance"):
        if flag in raw and not isinstance(raw[flag], bool):
            raise where.error(flag, f"expected true or false, got {raw[flag]!r}")
    within_first = raw.get("within_first")
    cues = CueSet(_by_language(raw["cues"], where, "cues"), _patterns(raw.get("patterns"), where, "patterns"))
    if not cues:
        raise where.error("cues", "a node needs at least one cue or pattern")
    if not isinstance(raw["key_points"], list) or not raw["key_points"]:
        raise where.error("key_points", "expected a non-empty list of key points")
    tips = _mapping(raw["tips"], where, "tips", ("missed", "key_points"), ("missed", "key_points"))
    key_points = tuple(_parse_key_point(item, where) for item in raw["key_points"])
    point_ids = [point.point_id for point in key_points]
    if len(set(point_ids)) != len(point_ids):
        raise where.error("key_points", "duplicate key point id")
    return SopNode(
        node_id=node_id,
        name=_texts(raw["name"], where, "name"),
        order=_number(raw["order"], where, "order", int, 1),
        speaker=raw["speaker"],
        required=raw["required"],
        weight=_number(raw["weight"], where, "weight", float, 0),
        within_first=None if within_first is None else _number(within_first, where, "within_first", int, 1),
        min_cues=_number(raw.get("min_cues", 1), where, "min_cues", int, 1),
        expects_answer=raw.get("expects_answer", False),
        needs_relevance=raw.get("needs_relevance", False),
        cues=cues,
        negative_cues=CueSet(_by_language(raw.get("negative_cues", {}), where, "negative_cues")),
        key_points=key_points,
        tips={name: _texts(text, where, f"tips.{name}") for name, text in tips.items()},
    )


def _parse_key_point(raw: Any, where: _Where) -> KeyPoint:
    raw = _mapping(raw, where, "key_points[]", ("id", "name", "cues", "patterns", "speaker", "check"),
                   ("id", "name"))
    key = f"key_points.{raw['id']}"
    # Scoring measures the rep's execution, so a checklist item is the rep's unless it says
    # otherwise, also for customer nodes (the rep's answer to a price objection).
    speaker = raw.get("speaker", "rep")
    if speaker not in SPEAKERS:
        raise where.error(f"{key}.speaker", f"expected one of {', '.join(SPEAKERS)}")
    check = raw.get("check")
    if check is not None and check not in CHECKS:
        raise where.error(f"{key}.check", f"unknown check {check!r} (known: {', '.join(CHECKS)})")
    cues = CueSet(_by_language(raw.get("cues", {}), where, f"{key}.cues"),
                  _patterns(raw.get("patterns"), where, f"{key}.patterns"))
    if not cues and check is None:
        raise where.error(key, "a key point needs cues, patterns or a check")
    return KeyPoint(point_id=str(raw["id"]), name=_texts(raw["name"], where, f"{key}.name"),
                    cues=cues, speaker=speaker, check=check)


_SCORING_LEXICONS = ("open_question_cues", "closed_question_cues", "polite_markers",
                     "forbidden_phrases")
_SCORING_TIPS = ("communication_skill", "attitude", "attitude_polite", "customer_feedback", "well_done")


def _parse_scoring(raw: Any, path: Path) -> ScoringConfig:
    where = _Where(path, None)
    keys = ("dimension_weights", "feedback_window_turns", "max_monologue", *_SCORING_LEXICONS, "tips")
    raw = _mapping(raw, where, "scoring", (*keys, "metrics"), keys)
    weights = _mapping(raw["dimension_weights"], where, "scoring.dimension_weights", DIMENSIONS, DIMENSIONS)
    weights = {name: _number(weights[name], where, f"scoring.dimension_weights.{name}", float)
               for name in DIMENSIONS}
    if abs(sum(weights.values()) - 1.0) > 0.001:
        raise where.error("scoring.dimension_weights",
                          f"the weights must add up to 1 (they add up to {sum(weights.values()):.3f})")
    monologue = _mapping(raw["max_monologue"], where, "scoring.max_monologue", LANGS, LANGS)
    tips = _mapping(raw["tips"], where, "scoring.tips", _SCORING_TIPS, _SCORING_TIPS)
    return ScoringConfig(
        dimension_weights=weights,
        feedback_window_turns=_number(raw["feedback_window_turns"], where,
                                      "scoring.feedback_window_turns", int, 1),
        max_monologue={lang: _number(monologue[lang], where, f"scoring.max_monologue.{lang}", int, 1)
                       for lang in LANGS},
        tips={name: _texts(tips[name], where, f"scoring.tips.{name}") for name in _SCORING_TIPS},
        **{name: CueSet(_by_language(raw[name], where, f"scoring.{name}")) for name in _SCORING_LEXICONS},
        metrics=_metrics_config(raw.get("metrics"), where),
    )


def _metrics_config(raw: Any, where: _Where) -> Any:
    from pipeline.scoring.interaction import MetricsConfig

    try:
        return MetricsConfig.from_mapping(raw)
    except ValueError as exc:
        raise where.error("scoring.metrics", str(exc)) from exc
