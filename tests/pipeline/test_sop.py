"""Loading and validating the SOP (pipeline/sop.py with configs/sop.yaml)."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from pipeline.sop import SopError, load_sop

ROOT = Path(__file__).resolve().parents[2]
SOP_PATH = ROOT / "configs" / "sop.yaml"
BASE = yaml.safe_load(SOP_PATH.read_text(encoding="utf-8"))
NODE_IDS = ("opening", "customer_needs", "product_intro", "customer_approval", "price_objection", "next_step")


def _node(document: dict, node_id: str) -> dict:
    return next(node for node in document["nodes"] if node["id"] == node_id)


def _key_point(document: dict, node_id: str, point_id: str) -> dict:
    return next(point for point in _node(document, node_id)["key_points"] if point["id"] == point_id)


def _variant(tmp_path: Path, change) -> Path:
    document = copy.deepcopy(BASE)
    change(document)
    path = tmp_path / "sop.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ---- the real file ----------------------------------------------------------------------------

def test_the_shipped_sop_loads():
    sop = load_sop(SOP_PATH)
    assert sop.node_ids == NODE_IDS
    assert [node.order for node in sop.nodes] == [1, 2, 3, 4, 5, 6]
    assert re.fullmatch(r"2026\.12-1\+[0-9a-f]{8}", sop.version)
    assert sop.path == str(SOP_PATH)


def test_the_shipped_sop_values():
    sop = load_sop(SOP_PATH)
    opening, needs, intro = sop.node("opening"), sop.node("customer_needs"), sop.node("product_intro")
    assert (opening.speaker, opening.required, opening.weight, opening.within_first, opening.min_cues) == (
        "rep", True, 0.15, 8, 1)
    assert opening.label("zh") == "开场白" and opening.label("en") == "Opening"
    assert [point.point_id for point in opening.key_points] == [
        "greeting", "self_introduction", "company", "purpose", "permission"]
    assert needs.speaker == "any" and needs.key_points[0].speaker == "rep"  # "any" nodes check the rep
    assert intro.key_points[2].check == "need_overlap"
    assert sop.node("next_step").min_cues == 2
    assert sop.node("next_step").key_points[3].speaker == "customer"
    assert sop.node("price_objection").required is False
    assert sum(node.weight for node in sop.nodes) == pytest.approx(1.0)
    assert sop.scoring.dimension_weights == {
        "key_points": 0.4, "communication_skill": 0.25, "attitude": 0.2, "customer_feedback": 0.15}
    assert (sop.scoring.feedback_window_turns, sop.scoring.max_monologue) == (3, {"zh": 120, "en": 80})
    with pytest.raises(KeyError):
        sop.node("closing")


def test_the_shipped_cues_match_what_the_samples_say():
    sop = load_sop(SOP_PATH)
    objection = sop.node("price_objection")
    assert objection.cues.match("就是有点贵") == ("有点贵",)
    assert objection.cues.match("预算最多五万") == ("re:最多五万",)  # a pattern: the label is the matched text
    assert objection.cues.match("能不能再便宜点呢") == ("便宜点", "再便宜", "re:便宜点呢")
    assert objection.negative_cues.match("价格倒不是问题") == ("价格倒不是问题",)
    assert "hi" not in sop.node("opening").cues.match("this is emily")


def test_version_hash_follows_the_file_bytes(tmp_path):
    copy_path = tmp_path / "sop.yaml"
    copy_path.write_bytes(SOP_PATH.read_bytes())
    original = load_sop(SOP_PATH).version
    assert load_sop(copy_path).version == original
    copy_path.write_bytes(SOP_PATH.read_bytes() + b"\n# a comment changes the hash\n")
    changed = load_sop(copy_path).version
    assert changed != original
    assert changed.split("+")[0] == original.split("+")[0] == "2026.12-1"


def test_nodes_are_sorted_by_order_whatever_the_file_order(tmp_path):
    sop = load_sop(_variant(tmp_path, lambda document: document["nodes"].reverse()))
    assert sop.node_ids == NODE_IDS


# ---- validation errors: each names the file, the node and the key ---------------------------

def _error(path: Path) -> str:
    with pytest.raises(SopError) as caught:
        load_sop(path)
    return str(caught.value)


@pytest.mark.parametrize("change, expected", [
    (lambda d: _node(d, "customer_needs").update(cuse=_node(d, "customer_needs").pop("cues")),
     "node 'customer_needs' key 'cuse': unknown key (allowed: id, name, order, speaker, required, weight, "
     "within_first, min_cues, expects_answer, needs_relevance, cues, patterns, negative_cues, key_points, tips)"),
    (lambda d: _node(d, "product_intro").pop("weight"),
     "node 'product_intro' key 'weight': missing required key"),
    (lambda d: _node(d, "customer_approval").update(id="opening"),
     "node 'opening' key 'id': duplicate node id; every id must be unique"),
    (lambda d: _node(d, "customer_approval").update(order=2),
     "node 'customer_approval' key 'order': order 2 is also used by node 'customer_needs'"),
    (lambda d: _node(d, "customer_needs").update(patterns=["(什么|哪些"]),
     "node 'customer_needs' key 'patterns': invalid regular expression '(什么|哪些': "
     "missing ), unterminated subpattern at position 0"),
    (lambda d: _key_point(d, "opening", "company").update(patterns=["[a-z"]),
     "node 'opening' key 'key_points.company.patterns': invalid regular expression '[a-z': "
     "unterminated character set at position 0"),
    (lambda d: _node(d, "opening").update(speaker="agent"),
     "node 'opening' key 'speaker': expected one of rep, customer, any, got 'agent'"),
    (lambda d: _key_point(d, "next_step", "customer_confirmed").update(speaker="client"),
     "node 'next_step' key 'key_points.customer_confirmed.speaker': expected one of rep, customer, any"),
    (lambda d: _key_point(d, "product_intro", "tied_to_need").update(check="need_overlpa"),
     "node 'product_intro' key 'key_points.tied_to_need.check': unknown check 'need_overlpa' (known: need_overlap)"),
    (lambda d: _key_point(d, "opening", "greeting").update(cue=["hi"]),
     "node 'opening' key 'key_points[].cue': unknown key (allowed: id, name, cues, patterns, speaker, check)"),
    (lambda d: _key_point(d, "opening", "greeting").pop("cues"),
     "node 'opening' key 'key_points.greeting': a key point needs cues, patterns or a check"),
    (lambda d: _node(d, "opening")["key_points"].append(dict(_key_point(d, "opening", "greeting"))),
     "node 'opening' key 'key_points': duplicate key point id"),
    (lambda d: _node(d, "opening").update(required="yes"),
     "node 'opening' key 'required': expected true or false, got 'yes'"),
    (lambda d: _node(d, "opening").update(order=0), "node 'opening' key 'order': expected a number ≥ 1, got 0"),
    (lambda d: _node(d, "opening").update(within_first=2.5),
     "node 'opening' key 'within_first': expected a whole number, got 2.5"),
    (lambda d: _node(d, "opening").update(weight=-0.1),
     "node 'opening' key 'weight': expected a number ≥ 0, got -0.1"),
    (lambda d: _node(d, "price_objection")["cues"].update(fr=["trop cher"]),
     "node 'price_objection' key 'cues.fr': unknown key (allowed: zh, en)"),
    (lambda d: _node(d, "price_objection")["name"].pop("en"),
     "node 'price_objection' key 'name.en': missing required key"),
    (lambda d: _node(d, "price_objection")["tips"].pop("missed"),
     "node 'price_objection' key 'tips.missed': missing required key"),
    (lambda d: _node(d, "next_step").update(cues={}, patterns=[]),
     "node 'next_step' key 'cues': a node needs at least one cue or pattern"),
    (lambda d: _node(d, "price_objection").update(id="Price"),
     "node 'Price' key 'id': expected a lower-case identifier like 'price_objection'"),
], ids=["unknown_node_key_typo", "missing_required_key", "duplicate_id", "duplicate_order", "invalid_regex",
        "invalid_key_point_regex", "bad_speaker", "bad_key_point_speaker", "unknown_check", "unknown_key_point_key",
        "key_point_without_cues", "duplicate_key_point", "non_boolean", "order_below_1", "fractional_within_first",
        "negative_weight", "unknown_language", "missing_name_language", "missing_tip", "no_cues", "bad_id"])
def test_node_errors_name_file_node_and_key(tmp_path, change, expected):
    path = _variant(tmp_path, change)
    assert _error(path) == f"{path}: {expected}"


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.update(owner="sales ops"), "key 'owner': unknown key (allowed: version, nodes, scoring)"),
    (lambda d: d.pop("scoring"), "key 'scoring': missing required key"),
    (lambda d: d.update(version=" "), "key 'version': expected a non-empty version string"),
    (lambda d: d.update(nodes=[]), "key 'nodes': expected a non-empty list of nodes"),
    (lambda d: [node.update(weight=0) for node in d["nodes"]], "key 'nodes': at least one node needs a weight above 0"),
    (lambda d: d["scoring"]["dimension_weights"].update(attitude=0.3),
     "key 'scoring.dimension_weights': the weights must add up to 1 (they add up to 1.100)"),
    (lambda d: d["scoring"]["dimension_weights"].pop("attitude"),
     "key 'scoring.dimension_weights.attitude': missing required key"),
    (lambda d: d["scoring"].update(max_monologue={"zh": 120, "en": 0}),
     "key 'scoring.max_monologue.en': expected a number ≥ 1, got 0"),
    (lambda d: d["scoring"].update(polite_marker=d["scoring"].pop("polite_markers")),
     "key 'scoring.polite_marker': unknown key (allowed: dimension_weights, feedback_window_turns, max_monologue, "
     "open_question_cues, closed_question_cues, polite_markers, forbidden_phrases, tips, metrics)"),
    (lambda d: d["scoring"]["tips"].pop("well_done"), "key 'scoring.tips.well_done': missing required key"),
], ids=["unknown_top_level_key", "missing_top_level_key", "blank_version", "no_nodes", "all_weights_zero",
        "dimension_weights_sum", "missing_dimension", "max_monologue_zero", "unknown_scoring_key",
        "missing_scoring_tip"])
def test_top_level_and_scoring_errors_name_file_and_key(tmp_path, change, expected):
    path = _variant(tmp_path, change)
    assert _error(path) == f"{path}: {expected}"


def test_a_node_that_is_not_a_mapping_is_named_by_position(tmp_path):
    path = _variant(tmp_path, lambda d: d["nodes"].append("closing"))
    assert _error(path).startswith(f"{path}: node '#7' key ")
    assert _error(path).endswith("expected a mapping, got str")


def test_invalid_yaml_syntax_names_the_line(tmp_path):
    path = tmp_path / "sop.yaml"
    path.write_text('version: "1"\nnodes:\n  - id: opening\n    name: {zh: 开场白, en: Opening\n    order: 1\n',
                    encoding="utf-8")
    message = _error(path)
    assert message.startswith(f"{path}: invalid YAML at line 5, column 10: ")
    assert message.endswith("Fix the syntax (indentation, quotes, colons).")


def test_bad_indentation_names_the_line(tmp_path):
    text = SOP_PATH.read_text(encoding="utf-8").replace("    order: 2\n", "   order: 2\n", 1)
    path = tmp_path / "sop.yaml"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("   order: 2") + 1
    assert re.match(rf"{re.escape(str(path))}: invalid YAML at line {line}, column \d+: ", _error(path))


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "sop.yaml"
    path.write_bytes(SOP_PATH.read_text(encoding="utf-8").encode("gbk", errors="ignore"))
    assert _error(path).startswith(f"{path}: the SOP file is not UTF-8 (")


def test_a_missing_file(tmp_path):
    assert _error(tmp_path / "nope.yaml") == (f"{tmp_path / 'nope.yaml'}: cannot read the SOP file "
                                              "(No such file or directory). Pass an existing file with --sop "
                                              "or restore configs/sop.yaml.")
