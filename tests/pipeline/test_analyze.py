"""The text stages chained (tag → tree → node scores → conversation score) and the fingerprint."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.analyze import PIPELINE_VERSION, analyze, fingerprint
from pipeline.events import RuleTagger, build_event_tree
from pipeline.ingest import find_manifest, load_manifest, load_rep_directory, read_source
from pipeline.scoring import score_conversation, score_nodes
from pipeline.scoring.interaction import conversation_metrics
from pipeline.scoring.notes import conversation_notes
from pipeline.scoring.sentiment import customer_polarity
from pipeline.sop import load_sop


def test_analysis_chains_the_stages(sales_chat, sop):
    analysis = analyze(sales_chat, sop, RuleTagger())
    events = RuleTagger().tag(sales_chat, sop)
    tree = build_event_tree(sales_chat, events, sop)
    polarity = customer_polarity(sales_chat)
    node_scores = score_nodes(sales_chat, events, tree, sop, polarity)
    assert analysis.conversation is sales_chat
    assert analysis.events == events
    assert analysis.tree == tree
    assert analysis.node_scores == node_scores
    assert analysis.conversation_score == score_conversation(events, node_scores, sop)
    assert (analysis.sop_version, analysis.tagger_name) == (sop.version, "rules.v1")
    assert [(e.utterance_index, e.node_id) for e in analysis.events] == [
        (0, "opening"), (2, "customer_needs"), (3, "customer_needs"), (4, "product_intro"),
        (5, "customer_approval"), (7, "price_objection"), (10, "next_step")]
    assert analysis.metrics == conversation_metrics(sales_chat, sop.scoring.metrics)
    assert analysis.notes == conversation_notes(sales_chat, events, tree, sop, polarity)
    assert [item.kind for item in analysis.notes.items] == ["need", "approval", "objection", "next_step"]


def test_analysis_is_pure(sales_chat, sop):
    assert analyze(sales_chat, sop, RuleTagger()) == analyze(sales_chat, sop, RuleTagger())


class _RenamedTagger(RuleTagger):
    name = "rules.v2"


def test_fingerprint_ignores_the_file_name_only(sales_chat, sop, sop_path, tmp_path):
    tagger = RuleTagger()
    stamp = fingerprint(sales_chat, sop, tagger)
    assert len(stamp) == 16 and PIPELINE_VERSION == "3"
    assert fingerprint(dataclasses.replace(sales_chat, source_path="renamed/export.json"), sop, tagger) == stamp

    edited_text = dataclasses.replace(sales_chat, utterances=(
        dataclasses.replace(sales_chat.utterances[0], text="您好"), *sales_chat.utterances[1:]))
    edited_meta = dataclasses.replace(sales_chat, meta=dataclasses.replace(sales_chat.meta, outcome="won"))
    edited_sop = tmp_path / "sop.yaml"
    edited_sop.write_bytes(sop_path.read_bytes() + b"\n# a comment changes the file hash\n")
    changed = {
        "text": fingerprint(edited_text, sop, tagger),
        "metadata": fingerprint(edited_meta, sop, tagger),
        "sop": fingerprint(sales_chat, load_sop(edited_sop), tagger),
        "tagger": fingerprint(sales_chat, sop, _RenamedTagger()),
    }
    assert stamp not in changed.values()
    assert len(set(changed.values())) == 4


@pytest.fixture(scope="module")
def samples(samples_dir, reps_path):
    """The text sample conversations by file name (one per file for the files used here)."""
    manifest = load_manifest(find_manifest(samples_dir))
    reps = load_rep_directory(reps_path)
    names = ("wechat_saas_d1001_1_discovery.txt", "wechat_insurance_gbk.txt", "wechat_education_coding.txt")
    return {name: read_source(samples_dir / name, manifest, reps).conversations[0] for name in names}


def _events_at(analysis, text: str) -> list[str]:
    (utterance,) = [u for u in analysis.conversation.utterances if text in u.text]
    return [e.node_id for e in analysis.events if e.utterance_index == utterance.index]


def test_sample_price_question_is_no_objection(samples, sop):
    analysis = analyze(samples["wechat_saas_d1001_1_discovery.txt"], sop, RuleTagger())
    assert _events_at(analysis, "那你们这个大概多少钱？") == []
    assert "price_objection" not in {e.node_id for e in analysis.events}
    assert analysis.conversation_score.missing_required == ()


def test_sample_negated_price_is_no_objection(samples, sop):
    analysis = analyze(samples["wechat_insurance_gbk.txt"], sop, RuleTagger())
    assert "price_objection" not in _events_at(analysis, "价格倒不是问题")
    assert "price_objection" not in {e.node_id for e in analysis.events}
    assert analysis.node_scores[sop.node_ids.index("price_objection")].status == "not_applicable"


def test_sample_approval_and_objection_in_one_message(samples, sop):
    analysis = analyze(samples["wechat_education_coding.txt"], sop, RuleTagger())
    assert _events_at(analysis, "就是太贵了") == ["customer_approval", "price_objection"]
    (objection,) = [n for n in analysis.tree if n.node_id == "price_objection"]
    # The customer's two messages are one turn; the rep's two-message answer is nested under it.
    assert [(n.kind, n.speaker_role, n.first_utterance) for n in analysis.tree if n.parent == objection.key] == [
        ("occurrence", "rep", 13), ("reply", "rep", 14)]
