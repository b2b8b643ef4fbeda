"""The objection library: similar objections grouped across conversations, each group with the
answers that worked best — what a trainer teaches from.

Input rows are the objections the auto notes recorded (:mod:`pipeline.scoring.notes`): the
customer's words, the rep's answer and the customer's reaction to it. Objections are grouped by
*theme* — a cheaper competitor, the budget, a discount request, the price as such, anything
else — found by keyword patterns in Chinese and English, checked in that order (the first that
matches wins: "比我预算高了一点，能不能再优惠点" is a budget objection). Themes rather than
clusters of similar wording, because neither character n-grams nor the e5 sentence vectors
grouped the demo's 28 objections usefully: both mostly separated Chinese from English
(docs/board.md, "Objection library"). Answers are ranked by what happened next — the customer
accepted the answer, then still open, then unresolved, then the objection came back, then no
reply — and then by the conversation's score for the objection node.

What the library needs of each objection is computed once, when its note is built
(:func:`library_fields`: the theme, and the quote and answer as a trainer sees them, masked)
and stored with the note (migration 008). The grouping and ranking are one SQL statement
(:func:`library_sql`) that the board runs on the store, over the viewer's conversations, so
only a row per theme leaves DuckDB; :func:`library` runs the same statement on an in-memory
DuckDB over a frame of objections.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.models import Conversation

#: What the customer did after the rep's answer, best first (``NoteItem.outcome`` values).
REACTION_RANK = {"accepted": 0, "open": 1, "unresolved": 2, "recurred": 3, "no_reply": 4}

#: Objection themes in the order they are tried; the last, ``other``, takes the rest.
THEMES: tuple[tuple[str, re.Pattern], ...] = (
    ("competitor", re.compile(r"别家|另一家|另外一家|另外一款|其他家|隔壁|旁边那个|同款|人家|朋友.{0,2}找的|竞品|友商|"
                              r"competitor|other vendor|another (vendor|company|provider|supplier)|elsewhere|"
                              r"they (only )?(charge|offer|quoted)", re.IGNORECASE)),
    ("budget", re.compile(r"预算|经费|超了|超出|钱不够|资金|budget|capped|can'?t afford|over what we", re.IGNORECASE)),
    ("discount", re.compile(r"优惠|便宜点|便宜一点|再便宜|打折|折扣|让点|再撇|少点|discount|better (price|deal)|"
                            r"knock .* off|come down", re.IGNORECASE)),
    ("price", re.compile(r"贵|价|高|费|钱|price|expensive|steep|cost|premium|rate|pricey", re.IGNORECASE)),
)
OTHER_THEME = "other"
THEME_IDS = (*(name for name, _ in THEMES), OTHER_THEME)

#: One row per theme: ``members`` are the theme's most frequent distinct wordings with their
#: counts, ``wordings`` how many distinct wordings it has in all.
LIBRARY_COLUMNS = ("theme", "example", "objections", "conversations", "accepted_share", "members", "best_answers",
                   "wordings")
#: The columns :func:`library_sql` reads from its source: one row per objection note.
#: ``ordinal`` orders a conversation's notes (ties in the ranking go to the earlier note).
SOURCE_COLUMNS = ("conversation_id", "ordinal", "rep", "outcome", "node_total", "theme", "quote", "answer",
                  "quote_masked", "answer_masked")
#: Wordings listed per theme, most frequent first.
WORDINGS_PER_THEME = 50


def objection_theme(quote: str) -> str:
    """The theme of one objection (:data:`THEME_IDS`)."""
    from pipeline.events.learned import model_text

    text = model_text(quote)
    return next((name for name, pattern in THEMES if pattern.search(text)), OTHER_THEME)


def customer_names(conversation: Conversation) -> tuple[str, ...]:
    """The names a trainer's view masks in a conversation's text: its metadata customer and its
    customer speakers' names, distinct and non-empty (what ``dashboards.data._customer_names``
    reads back from the store)."""
    names = (conversation.meta.customer,
             *(u.speaker_name for u in conversation.utterances if u.speaker_role == "customer"))
    return tuple(dict.fromkeys(name for name in names if name))


def masked(text: str | None, names: Sequence[str]) -> str | None:
    """``text`` as a trainer sees it (``dashboards.data._mask``): numbers, addresses and the
    conversation's customer ``names`` masked by :func:`pipeline.privacy.redact`."""
    from pipeline.privacy import redact

    return text if not isinstance(text, str) else redact(text, "mask", names)


def library_fields(quote: str, answer: str | None, names: Sequence[str]) -> tuple[str, str, str | None]:
    """What the objection library stores with an objection note: its theme, and its quote and
    answer masked as a trainer sees them (``names``: :func:`customer_names`)."""
    return objection_theme(quote), masked(quote, names), masked(answer, names)


def _reaction_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{outcome}' THEN {rank}" for outcome, rank in REACTION_RANK.items())
    return f"CASE {column} {cases} ELSE {len(REACTION_RANK)} END"


def library_sql(source: str, *, redacted: bool = False, answers_per_group: int = 3,
                wordings_per_theme: int = WORDINGS_PER_THEME) -> str:
    """SQL of the library over ``source`` (a SELECT of :data:`SOURCE_COLUMNS`, one row per
    objection; its ``?`` parameters are the statement's): one row per theme that occurs, with
    ``objections`` and ``conversations`` (counts), ``accepted_share`` (answers the customer
    accepted, of those answered; NULL when none was answered), ``members`` (the
    ``wordings_per_theme`` most frequent distinct quotes as ``{quote, n}``, most frequent first,
    ties by text), ``wordings`` (distinct quotes in all) and ``best_answers`` (up to
    ``answers_per_group`` distinct answers as ``{answer, outcome, rep, conversation_id,
    node_total}``, best first: by the customer's reaction (:data:`REACTION_RANK`), then the
    node total (none: -1) highest first, then the conversation; each at its best occurrence).
    ``redacted``: group and show the masked quote and answer (a trainer's), never the raw ones."""
    quote, answer = ("quote_masked", "answer_masked") if redacted else ("quote", "answer")
    return f"""
        WITH objections AS (
            SELECT conversation_id, ordinal, rep, outcome, node_total, theme,
                   coalesce({quote}, '') AS wording, nullif({answer}, '') AS reply
            FROM ({source}) AS source),
        totals AS (
            SELECT theme, count(*) AS objections, count(DISTINCT conversation_id) AS conversations,
                   count(*) FILTER (WHERE reply IS NOT NULL AND outcome = 'accepted')
                       / nullif(count(reply), 0) AS accepted_share
            FROM objections GROUP BY theme),
        wordings AS (
            SELECT theme, wording, count(*) AS n, count(*) OVER (PARTITION BY theme) AS wordings
            FROM objections GROUP BY theme, wording
            QUALIFY row_number() OVER (PARTITION BY theme ORDER BY count(*) DESC, wording)
                    <= {int(wordings_per_theme)}),
        members AS (
            SELECT theme, list({{'quote': wording, 'n': n}} ORDER BY n DESC, wording) AS members,
                   any_value(wordings) AS wordings
            FROM wordings GROUP BY theme),
        -- Each distinct answer once, at its best-ranked occurrence: the smallest rank, a struct
        -- compared field by field (reaction, node total highest first, conversation, note order;
        -- unique, so the fields after them never decide). An aggregate, not a window: the
        -- window's sort of every answered objection took most of the time at 100,000 conversations.
        ranked AS (
            SELECT theme, reply, min({{'reaction': {_reaction_sql('outcome')}, 'score': -coalesce(node_total, -1),
                                     'conversation_id': conversation_id, 'ordinal': ordinal, 'outcome': outcome,
                                     'rep': rep, 'node_total': node_total}}) AS occurrence
            FROM objections WHERE reply IS NOT NULL GROUP BY theme, reply),
        best AS (
            SELECT theme, list({{'answer': reply, 'outcome': occurrence.outcome, 'rep': occurrence.rep,
                                'conversation_id': occurrence.conversation_id, 'node_total': occurrence.node_total}}
                               ORDER BY occurrence) AS best_answers
            FROM (SELECT * FROM ranked
                  QUALIFY row_number() OVER (PARTITION BY theme ORDER BY occurrence) <= {int(answers_per_group)})
            GROUP BY theme)
        SELECT t.theme, t.objections, t.conversations, t.accepted_share, m.members, m.wordings,
               coalesce(b.best_answers, []) AS best_answers
        FROM totals t JOIN members m USING (theme) LEFT JOIN best b USING (theme)"""


def _medoid(quotes: list[str], counts: Sequence[int] | None = None) -> str:
    """The quote sharing the most character bigrams with the others, each other quote counted
    ``counts`` times (default once; ties: the shortest, then by text)."""
    def grams(text: str) -> set[str]:
        return {text[i:i + 2] for i in range(len(text) - 1)} or {text}

    weights = counts if counts is not None else [1] * len(quotes)
    sets = [grams(q) for q in quotes]
    return min(quotes, key=lambda q: (-sum(w * len(grams(q) & s) for s, w in zip(sets, weights)), len(q), q))


def library_frame(aggregates: pd.DataFrame) -> pd.DataFrame:
    """The library (:data:`LIBRARY_COLUMNS`) from the rows of :func:`library_sql`: biggest theme
    first (ties in :data:`THEME_IDS` order), ``members`` as ``(quote, count)`` pairs, ``example``
    the most typical of them (:func:`_medoid`, weighted by count), ``best_answers`` as dicts."""
    import pandas as pd  # not at the top: the notes import this module, and the pipeline needs no pandas

    table = []
    for row in aggregates.itertuples(index=False):
        members = [(member["quote"], int(member["n"])) for member in row.members]
        table.append({
            "theme": row.theme, "example": _medoid([q for q, _ in members], [n for _, n in members]),
            "objections": int(row.objections), "conversations": int(row.conversations),
            "accepted_share": float("nan") if pd.isna(row.accepted_share) else float(row.accepted_share),
            "members": members, "wordings": int(row.wordings),
            "best_answers": [{"answer": a["answer"], "outcome": a["outcome"], "rep": a["rep"],
                              "conversation_id": a["conversation_id"],
                              "node_total": None if a["node_total"] is None or math.isnan(a["node_total"])
                              else float(a["node_total"])}
                             for a in row.best_answers],
        })
    order = {name: i for i, name in enumerate(THEME_IDS)}
    table.sort(key=lambda row: (-row["objections"], order.get(row["theme"], len(order)), row["theme"]))
    return pd.DataFrame(table, columns=list(LIBRARY_COLUMNS))


def library(objections: pd.DataFrame, answers_per_group: int = 3, *, redacted: bool = False,
            wordings_per_theme: int = WORDINGS_PER_THEME) -> pd.DataFrame:
    """Group ``objections`` (columns conversation_id, rep, quote, answer, outcome, node_total;
    ``theme`` is computed from the quote when absent; ``quote_masked`` and ``answer_masked``
    are needed with ``redacted``) by theme and rank each theme's answers, with the board's SQL
    (:func:`library_sql`) on an in-memory DuckDB. One row per theme that occurs, biggest first:
    ``example`` (the most typical wording), ``objections`` and ``conversations`` (counts),
    ``accepted_share`` (answers the customer accepted, of those answered; NaN when none was
    answered), ``members`` (the most frequent wordings as ``(quote, count)``), ``wordings`` and
    ``best_answers`` (up to ``answers_per_group`` dicts: answer, outcome, rep, conversation_id,
    node_total; one per distinct answer)."""
    import pandas as pd

    if objections.empty:
        return pd.DataFrame(columns=list(LIBRARY_COLUMNS))
    import duckdb

    rows = objections.reset_index(drop=True)
    if "theme" not in rows:
        quotes = rows["quote"].fillna("")
        themes = {quote: objection_theme(quote) for quote in quotes.unique()}
        rows = rows.assign(theme=quotes.map(themes))
    if redacted and not {"quote_masked", "answer_masked"} <= set(rows.columns):
        raise ValueError("a redacted library needs the quote_masked and answer_masked columns")
    rows = rows.assign(ordinal=range(len(rows)), **{column: None for column in ("quote_masked", "answer_masked")
                                                     if column not in rows})
    types = {"ordinal": "BIGINT", "node_total": "DOUBLE"}
    source = "SELECT " + ", ".join(f"{column}::{types.get(column, 'VARCHAR')} AS {column}"
                                   for column in SOURCE_COLUMNS) + " FROM objection_rows"
    with duckdb.connect(":memory:") as con:
        con.register("objection_rows", rows[list(SOURCE_COLUMNS)])
        aggregates = con.execute(library_sql(source, redacted=redacted, answers_per_group=answers_per_group,
                                             wordings_per_theme=wordings_per_theme)).df()
    return library_frame(aggregates)
