"""Recall and false-positive rate of the personal-data finder on a labelled set.

A labelled set is JSONL, one utterance a line::

    {"text": "我手机号是13918276453", "lang": "zh", "pii": [{"kind": "mobile", "text": "13918276453"}]}
    {"text": "标准版一年九千八", "lang": "zh", "pii": []}

``pii[].text`` is an exact substring of ``text`` (its first occurrence is meant); an optional
``names`` list holds the known names the caller would pass (as the board does for customers).

- *Recall*: a PII item counts as found when every character of it lies inside a found span,
  whatever label the span got; recall = found items / all items, overall and per kind.
- *False-positive rate*: PII-free lines (``pii`` empty) with anything found / all PII-free lines.
- *Label agreement* (informative): found items whose span carries the same label family
  (every telephone kind is one family; ``long_number`` agrees with ``bank_card`` and ``id_card``
  only when the digits fail their checks, so it is reported apart).

Run ``python -m pipeline.privacy.metrics tests/data/pii/*.jsonl`` for the table.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.privacy.config import RedactionConfig
from pipeline.privacy.redact import find_pii

_PHONES = frozenset({"mobile", "landline", "us_phone", "intl_phone", "phone"})


def _family(kind: str) -> str:
    return "phone" if kind in _PHONES else kind


@dataclass
class Evaluation:
    """Counts behind the figures; ``misses`` and ``false_positives`` say which lines."""

    items: Counter = field(default_factory=Counter)  # per labelled kind
    found: Counter = field(default_factory=Counter)
    same_label: Counter = field(default_factory=Counter)
    clean_lines: int = 0
    flagged_lines: int = 0
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, item, line)
    false_positives: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / max(1, sum(self.items.values()))

    @property
    def false_positive_rate(self) -> float:
        return self.flagged_lines / max(1, self.clean_lines)

    def recall_of(self, kind: str) -> float:
        return self.found[kind] / max(1, self.items[kind])

    def table(self) -> str:
        lines = [f"{'kind':<12} {'items':>5} {'found':>5} {'recall':>7} {'same label':>10}"]
        for kind in sorted(self.items, key=lambda k: (-self.items[k], k)):
            lines.append(f"{kind:<12} {self.items[kind]:>5} {self.found[kind]:>5} {self.recall_of(kind):>7.1%} "
                         f"{self.same_label[kind] / max(1, self.found[kind]):>10.1%}")
        lines.append(f"{'all':<12} {sum(self.items.values()):>5} {sum(self.found.values()):>5} {self.recall:>7.1%} "
                     f"{sum(self.same_label.values()) / max(1, sum(self.found.values())):>10.1%}")
        lines.append(f"false positives: {self.flagged_lines} of {self.clean_lines} PII-free lines "
                     f"({self.false_positive_rate:.1%})")
        return "\n".join(lines)


def load(paths: Iterable[str | Path]) -> list[dict]:
    """The records of the JSONL files, checked: each item is a substring of its line."""
    records = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            for item in record["pii"]:
                if item["text"] not in record["text"]:
                    raise ValueError(f"{path}:{number}: {item['text']!r} is not in the line")
            records.append(record)
    return records


def evaluate(records: Sequence[dict], config: RedactionConfig | None = None) -> Evaluation:
    result = Evaluation()
    for record in records:
        text = record["text"]
        spans = find_pii(text, record.get("names", ()), config=config)
        if not record["pii"]:
            result.clean_lines += 1
            if spans:
                result.flagged_lines += 1
                result.false_positives.append((text, [(span.kind, span.text) for span in spans]))
            continue
        for item in record["pii"]:
            kind = item["kind"]
            start = text.index(item["text"])
            end = start + len(item["text"])
            result.items[kind] += 1
            covering = [span for span in spans if span.start < end and span.end > start]
            covered = set().union(*(range(span.start, span.end) for span in covering)) if covering else set()
            if all(position in covered for position in range(start, end)):
                result.found[kind] += 1
                if any(_family(span.kind) == _family(kind) for span in covering):
                    result.same_label[kind] += 1
            else:
                result.misses.append((kind, item["text"], text))
    return result


def main(argv: list[str] | None = None) -> int:
    paths = (argv if argv is not None else sys.argv[1:]) or sorted(Path("tests/data/pii").glob("*.jsonl"))
    result = evaluate(load(paths))
    print(result.table())
    for kind, item, line in result.misses:
        print(f"missed {kind}: {item!r} in {line!r}")
    for line, spans in result.false_positives:
        print(f"false positive: {spans} in {line!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
