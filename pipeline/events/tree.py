"""The key-event tree of a conversation (关键事件树).

The conversation is cut into *turns*: maximal runs of consecutive utterances by one side (a
rep sending three WeChat messages in a row is one turn). In a turn, each SOP node tagged there
becomes one *occurrence* (its first to last tagged utterance in the turn).

Follow-ups are nested under what they answer: when a turn holds an occurrence of a node with
``expects_answer: true``, the other side's next turn is its answer and goes under it: its own
occurrences (the rep's reply to a price objection may be a product intro) and, for utterances
with no event, *reply* nodes, so the manager sees how the objection was answered even when the
answer carries no event. An answer can be answered in turn, down to ``MAX_DEPTH``; then the
tree returns to the top level, where turns with events start new top-level occurrences.
"""

from __future__ import annotations

from collections import defaultdict

from pipeline.models import Conversation, KeyEvent, TreeNode
from pipeline.sop import Sop

#: Depth of the deepest nested answer (0 = top level): trigger → answer → answer to the answer.
MAX_DEPTH = 2


def _turns(conversation: Conversation) -> list[tuple[str, list[int]]]:
    """Runs of consecutive utterances by the same side; ``other`` (system) lines are skipped."""
    turns: list[tuple[str, list[int]]] = []
    for utterance in conversation.utterances:
        if utterance.speaker_role == "other":
            continue
        if turns and turns[-1][0] == utterance.speaker_role:
            turns[-1][1].append(utterance.index)
        else:
            turns.append((utterance.speaker_role, [utterance.index]))
    return turns


def build_event_tree(conversation: Conversation, events: tuple[KeyEvent, ...], sop: Sop) -> tuple[TreeNode, ...]:
    """Nodes of the tree in time order; each node's ``parent`` is the key of what it answers."""
    order = {node_id: position for position, node_id in enumerate(sop.node_ids)}
    nodes_at: dict[int, list[str]] = defaultdict(list)
    for event in events:
        if event.node_id not in nodes_at[event.utterance_index]:
            nodes_at[event.utterance_index].append(event.node_id)
    expects_answer = {node.node_id for node in sop.nodes if node.expects_answer}
    turns = _turns(conversation)
    tree: list[TreeNode] = []

    def place(turn_index: int, parent: int | None, depth: int) -> int:
        """Add one turn's nodes to the tree; return the index of the next unplaced turn."""
        role, indexes = turns[turn_index]
        spans: dict[str, list[int]] = {}
        for index in indexes:
            for node_id in sorted(nodes_at.get(index, []), key=order.__getitem__):
                spans.setdefault(node_id, []).append(index)
        entries: list[tuple[int, str | None, int, int]] = [
            (span[0], node_id, span[0], span[-1]) for node_id, span in spans.items()]
        if depth > 0:
            entries += [(index, None, index, index) for index in indexes if not nodes_at.get(index)]
        trigger: TreeNode | None = None
        for _start, node_id, first, last in sorted(entries, key=lambda e: (e[0], e[1] is None, order.get(e[1], 0))):
            node = TreeNode(key=len(tree), parent=parent, kind="occurrence" if node_id else "reply",
                            node_id=node_id, speaker_role=role, first_utterance=first,
                            last_utterance=last, depth=depth)
            tree.append(node)
            if node_id in expects_answer and (trigger is None or last >= trigger.last_utterance):
                trigger = node
        next_turn = turn_index + 1
        if trigger is None or depth >= MAX_DEPTH or next_turn >= len(turns):
            return next_turn
        return place(next_turn, trigger.key, depth + 1)

    turn_index = 0
    while turn_index < len(turns):
        if any(nodes_at.get(index) for index in turns[turn_index][1]):
            turn_index = place(turn_index, None, 0)
        else:
            turn_index += 1
    return tuple(tree)


# The last tree's parent → children index. Scoring asks for the descendants of every
# occurrence of one tree in turn; rebuilding the index each time made a 10,000-utterance call
# quadratic (22 s of 28 in `analyze`). One entry, checked by identity, so threads analysing
# different conversations at once only rebuild more often, never read another tree's index.
_last_index: tuple[tuple[TreeNode, ...], dict[int | None, list[TreeNode]]] | None = None


def _children(tree: tuple[TreeNode, ...]) -> dict[int | None, list[TreeNode]]:
    global _last_index
    cached = _last_index
    if cached is not None and cached[0] is tree:
        return cached[1]
    children: dict[int | None, list[TreeNode]] = defaultdict(list)
    for node in tree:
        children[node.parent].append(node)
    _last_index = (tree, children)
    return children


def descendants(tree: tuple[TreeNode, ...], key: int) -> list[TreeNode]:
    """Every node nested (at any depth) under the node with ``key``, breadth first."""
    children = _children(tree)
    found: list[TreeNode] = list(children.get(key, ()))
    for node in found:  # grows while it is walked: each level after the one before
        found.extend(children.get(node.key, ()))
    return found
