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
"""

from __future__ import annotations

import re

import pandas as pd

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

LIBRARY_COLUMNS = ("theme", "example", "objections", "conversations", "accepted_share", "members", "best_answers")


def objection_theme(quote: str) -> str:
    """The theme of one objection (:data:`THEME_IDS`)."""
    from pipeline.events.learned import model_text

    text = model_text(quote)
    return next((name for name, pattern in THEMES if pattern.search(text)), OTHER_THEME)


def _medoid(quotes: list[str]) -> str:
    """The quote sharing the most character bigrams with the others (ties: the shortest)."""
    def grams(text: str) -> set[str]:
        return {text[i:i + 2] for i in range(len(text) - 1)} or {text}

    sets = [grams(q) for q in quotes]
    return min(quotes, key=lambda q: (-sum(len(grams(q) & s) for s in sets), len(q), q))


def library(objections: pd.DataFrame, answers_per_group: int = 3) -> pd.DataFrame:
    """Group ``objections`` (columns conversation_id, rep, quote, answer, outcome, node_total) by
    theme and rank each theme's answers. One row per theme that occurs, biggest first:
    ``example`` (the most typical wording), ``objections`` and ``conversations`` (counts),
    ``accepted_share`` (answers the customer accepted, of those answered; NaN when none was
    answered), ``members`` (every quote) and ``best_answers`` (up to ``answers_per_group`` dicts:
    answer, outcome, rep, conversation_id, node_total; one per distinct answer)."""
    if objections.empty:
        return pd.DataFrame(columns=list(LIBRARY_COLUMNS))
    rows = objections.reset_index(drop=True)
    rows = rows.assign(theme=rows["quote"].fillna("").map(objection_theme))
    table = []
    for theme, members in rows.groupby("theme", sort=False):
        answered = members[members["answer"].notna() & members["answer"].ne("")]
        ranked = answered.assign(reaction=answered["outcome"].map(REACTION_RANK).fillna(len(REACTION_RANK)),
                                 score=answered["node_total"].fillna(-1)).sort_values(
            ["reaction", "score", "conversation_id"], ascending=[True, False, True])
        best = ranked.drop_duplicates("answer").head(answers_per_group)
        table.append({
            "theme": theme, "example": _medoid(members["quote"].tolist()), "objections": len(members),
            "conversations": members["conversation_id"].nunique(),
            "accepted_share": float(answered["outcome"].eq("accepted").mean()) if len(answered) else float("nan"),
            "members": members["quote"].tolist(),
            "best_answers": [{"answer": r.answer, "outcome": r.outcome, "rep": r.rep,
                              "conversation_id": r.conversation_id,
                              "node_total": None if pd.isna(r.node_total) else float(r.node_total)}
                             for r in best.itertuples()],
        })
    order = {name: i for i, name in enumerate(THEME_IDS)}
    table.sort(key=lambda row: (-row["objections"], order[row["theme"]]))
    return pd.DataFrame(table, columns=list(LIBRARY_COLUMNS))
