"""Who speaks each turn of a **mono** recording, with a confidence.

Stereo call recordings put rep and customer on separate channels, so their roles are known.
A mono recording has one stream of turns, and we infer roles from two kinds of evidence:

- **what is said**, scored per turn (log-odds, positive = rep): the rep names themself or
  addresses the customer by name; SOP cues of rep-side nodes (opening, product intro) and of
  customer-side nodes (approval, price objection); a discovery question;
- **turn structure**: the speaker is more likely to change across a longer silence
  (:func:`switch_probability`).

- **voice**: turns are clustered by a spectral fingerprint (:mod:`voices`); the cluster
  whose words lean towards the rep is the rep's voice;

A two-state hidden Markov model combines them; the forward-backward posterior of the chosen
role is its confidence. Low confidence is stored and shown on the board, never hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.scoring.metrics import is_question
from pipeline.sop import Sop
from pipeline.text import normalize
from pipeline.transcribe.voices import VoiceClusters

# Evidence weights (log-odds for "rep"). Naming oneself is near-conclusive; a single SOP cue
# is a hint.
SELF_INTRODUCTION = 4.0
ADDRESSES_CUSTOMER = 2.0
REP_NODE_CUE = 1.0
CUSTOMER_NODE_CUE = -1.5
DISCOVERY_QUESTION = 0.8
MAX_EVIDENCE = 6.0
# Most a clearly separated voice can add for a turn.
VOICE_WEIGHT = 3.0
# Probability that the speaker changed between two turns, from the silence between them: a
# logistic curve, 0.5 at 0.35 s, bounded so that words can still overrule the timing. Turn
# gaps in calls run 0.2–0.8 s; a speaker's pauses between sentences are mostly shorter.
SWITCH_MIDPOINT_S = 0.35
SWITCH_SLOPE_S = 0.1
SWITCH_MIN, SWITCH_MAX = 0.2, 0.85


def switch_probability(gap_s: float) -> float:
    """Probability that the speaker changed across a silence of ``gap_s`` seconds."""
    logistic = 1 / (1 + math.exp(-(gap_s - SWITCH_MIDPOINT_S) / SWITCH_SLOPE_S))
    return min(SWITCH_MAX, max(SWITCH_MIN, logistic))


@dataclass(frozen=True)
class RoleGuess:
    """The inferred role of one turn and the posterior probability of that role."""

    role: str
    confidence: float
    evidence: float


def turn_evidence(text: str, sop: Sop, rep_name: str | None, customer_name: str | None, index: int) -> float:
    """Log-odds that this turn is the rep's, from what it says."""
    norm = normalize(text)
    score = 0.0
    if rep_name and any(f"{lead}{normalize(rep_name)}" in norm for lead in ("我是", "我叫", "this is ", "my name is ", "i'm ")):
        score += SELF_INTRODUCTION
    elif rep_name and normalize(rep_name) in norm and index < 4:
        score += SELF_INTRODUCTION / 2
    if customer_name and normalize(customer_name) in norm:
        score += ADDRESSES_CUSTOMER
    for node in sop.nodes:
        if node.within_first is not None and index >= node.within_first:
            continue
        if node.negative_cues.match(norm) or not node.cues.match(norm):
            continue
        if node.speaker == "rep":
            score += REP_NODE_CUE
        elif node.speaker == "customer":
            score += CUSTOMER_NODE_CUE
        elif node.node_id == "customer_needs" and is_question(text):
            score += DISCOVERY_QUESTION
    return max(-MAX_EVIDENCE, min(MAX_EVIDENCE, score))


def voice_evidence(text_evidence: list[float], voices: VoiceClusters) -> list[float]:
    """Log-odds for "rep" from the voice clusters: the cluster whose turns' words lean towards
    the rep is the rep's voice. Weighted by how distinct the voices are and how clearly the
    words decide which voice is whose, so two similar voices or a wordless call add little."""
    lean = sum(e if label == 0 else -e for e, label in zip(text_evidence, voices.labels))
    rep_cluster = 0 if lean >= 0 else 1
    strength = VOICE_WEIGHT * min(1.0, voices.separation / 2) * math.tanh(abs(lean) / 4)
    return [strength * min(1.0, 3 * margin) * (1 if label == rep_cluster else -1)
            for label, margin in zip(voices.labels, voices.margins)]


def attribute_roles(texts: list[str], gaps_s: list[float], sop: Sop, rep_name: str | None = None,
                    customer_name: str | None = None, voices: VoiceClusters | None = None) -> list[RoleGuess]:
    """Roles of consecutive mono turns; ``gaps_s[i]`` is the silence before turn ``i`` (the
    first is ignored); ``voices`` are the turns' voice clusters, when they could be measured."""
    if not texts:
        return []
    evidence = [turn_evidence(text, sop, rep_name, customer_name, i) for i, text in enumerate(texts)]
    if voices is not None:
        evidence = [e + v for e, v in zip(evidence, voice_evidence(evidence, voices))]
    # Emission likelihoods for (rep, customer) from the log-odds.
    emit = [(1 / (1 + math.exp(-e)), 1 / (1 + math.exp(e))) for e in evidence]

    def transition(i: int) -> tuple[tuple[float, float], tuple[float, float]]:
        switch = switch_probability(gaps_s[i])
        return (1 - switch, switch), (switch, 1 - switch)

    forward = [(0.5 * emit[0][0], 0.5 * emit[0][1])]
    for i in range(1, len(texts)):
        stay_switch = transition(i)
        previous = forward[-1]
        rep = (previous[0] * stay_switch[0][0] + previous[1] * stay_switch[1][0]) * emit[i][0]
        customer = (previous[0] * stay_switch[0][1] + previous[1] * stay_switch[1][1]) * emit[i][1]
        total = rep + customer
        forward.append((rep / total, customer / total))
    backward = [(1.0, 1.0)] * len(texts)
    for i in range(len(texts) - 2, -1, -1):
        stay_switch = transition(i + 1)
        nxt = backward[i + 1]
        rep = stay_switch[0][0] * emit[i + 1][0] * nxt[0] + stay_switch[0][1] * emit[i + 1][1] * nxt[1]
        customer = stay_switch[1][0] * emit[i + 1][0] * nxt[0] + stay_switch[1][1] * emit[i + 1][1] * nxt[1]
        total = rep + customer
        backward[i] = (rep / total, customer / total)
    guesses = []
    for i in range(len(texts)):
        rep = forward[i][0] * backward[i][0]
        customer = forward[i][1] * backward[i][1]
        p_rep = rep / (rep + customer)
        role = "rep" if p_rep >= 0.5 else "customer"
        guesses.append(RoleGuess(role, round(max(p_rep, 1 - p_rep), 3), round(evidence[i], 2)))
    return guesses
