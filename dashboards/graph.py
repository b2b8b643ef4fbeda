"""The key-event tree as Graphviz DOT, rendered in the browser by ``st.graphviz_chart``."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

# One colour per default node; unknown nodes fall back to grey.
NODE_COLOURS = {
    "opening": "#8ecae6", "customer_needs": "#ffb703", "product_intro": "#90be6d",
    "customer_approval": "#43aa8b", "price_objection": "#f94144", "next_step": "#577590",
}


def _quote(*lines: str) -> str:
    """A DOT string literal; each argument becomes one line of the label."""
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") for line in lines)
    return '"' + "\\n".join(escaped) + '"'


def tree_dot(tree: pd.DataFrame, utterance_texts: dict[int, str], label: Callable[[str | None], str],
             missing: list[str] = ()) -> str:
    """DOT for a stored event tree: top-level nodes chained in time order, answers nested
    under what they answer, and missed required nodes drawn as dashed gaps at the end."""
    lines = ["digraph keynode {", "rankdir=TB;", "nodesep=0.15;", "ranksep=0.25;",
             'node [shape=box, style="rounded,filled", fontsize=11];']
    top_level: list[str] = []
    for row in tree.itertuples(index=False):
        name = f"n{row.tree_key}"
        excerpt = utterance_texts.get(row.first_utterance, "")[:14]
        span = (f"#{row.first_utterance}" if row.first_utterance == row.last_utterance
                else f"#{row.first_utterance}-{row.last_utterance}")
        title = label(row.node_id) if row.kind == "occurrence" else label(None)
        colour = NODE_COLOURS.get(row.node_id, "#dddddd") if row.kind == "occurrence" else "#f1f1f1"
        lines.append(f"{name} [label={_quote(f'{title} {span}', excerpt)}, fillcolor={_quote(colour)}];")
        if pd.isna(row.parent_key):
            top_level.append(name)
        else:
            lines.append(f"n{int(row.parent_key)} -> {name} [style=dashed];")
    for earlier, later in zip(top_level, top_level[1:]):
        lines.append(f"{earlier} -> {later} [penwidth=2];")
    for index, node_id in enumerate(missing):
        gap = f"missing{index}"
        lines.append(f"{gap} [label={_quote(label(node_id) + ' ✗')}, style=dashed, fillcolor=white, color=red];")
        if top_level:
            lines.append(f"{top_level[-1]} -> {gap} [style=dotted, color=red];")
    lines.append("}")
    return "\n".join(lines)
