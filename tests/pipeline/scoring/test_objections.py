"""The objection library: themes and the ranking of answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipeline.scoring.objections import library, library_fields, objection_theme

COLUMNS = ["conversation_id", "rep", "quote", "answer", "outcome", "node_total"]


@pytest.mark.parametrize(("quote", "theme"), [
    ("别家报价比你们低不少", "competitor"),
    ("1200有点贵啊，人家才八百", "competitor"),            # a competitor beats the bare price words
    ("二十二万啊，比我预算高了一点，能不能再优惠点", "budget"),  # budget before discount (checked in order)
    ("經費不夠", "budget"),                                # Traditional script is folded first
    ("能不能再便宜一点", "discount"),
    ("有点贵", "price"),
    ("The course is just too expensive", "price"),
    ("We looked at a competitor and they charge less", "competitor"),
    ("我再考虑考虑", "other"),
])
def test_each_objection_gets_the_first_theme_that_matches(quote, theme):
    assert objection_theme(quote) == theme


def test_themes_come_biggest_first_with_their_best_distinct_answers():
    rows = pd.DataFrame([
        # conversation, rep, quote, answer, outcome, node total
        ("c1", "王磊", "有点贵", "我们包含三年维保", "recurred", 80.0),
        ("c2", "张敏", "太贵了", "按天算一天不到三块", "accepted", 60.0),
        ("c3", "陈晨", "价格偏高", "按天算一天不到三块", "accepted", 90.0),   # same answer: listed once, best score
        ("c4", "刘洋", "价格有点高啊", None, "no_reply", None),
        ("c5", "王磊", "别家便宜两千", "我们含安装", "open", 70.0),
    ], columns=["conversation_id", "rep", "quote", "answer", "outcome", "node_total"])
    themes = library(rows)
    assert list(themes["theme"]) == ["price", "competitor"]
    price = themes.iloc[0]
    assert (price["objections"], price["conversations"]) == (4, 4)
    assert price["accepted_share"] == pytest.approx(2 / 3)  # of the three answered
    assert [(a["answer"], a["conversation_id"]) for a in price["best_answers"]] == [
        ("按天算一天不到三块", "c3"), ("我们包含三年维保", "c1")]
    assert price["members"] == [("价格偏高", 1), ("价格有点高啊", 1), ("太贵了", 1), ("有点贵", 1)]  # ties by text
    competitor = themes.iloc[1]
    assert competitor["example"] == "别家便宜两千" and competitor["best_answers"][0]["outcome"] == "open"


def test_an_unanswered_theme_has_no_accepted_share_and_no_answers():
    rows = pd.DataFrame([("c1", "王磊", "太贵了", None, "no_reply", None)],
                        columns=["conversation_id", "rep", "quote", "answer", "outcome", "node_total"])
    (theme,) = library(rows).itertuples()
    assert math.isnan(theme.accepted_share) and theme.best_answers == []


def test_no_objections_give_an_empty_library():
    assert library(pd.DataFrame(columns=["conversation_id", "rep", "quote", "answer", "outcome", "node_total"])).empty


def test_members_are_the_most_frequent_wordings_with_their_counts():
    rows = pd.DataFrame([
        ("c1", "王磊", "太贵了", "一天不到三块", "open", 50.0),
        ("c1", "王磊", "太贵了", "我们包含维保", "open", 50.0),      # same rank as the one before: note order
        ("c2", "张敏", "太贵了", None, "no_reply", None),
        ("c3", "陈晨", "有点贵", "先从基础版开始", "recurred", 95.0),
        ("c4", "刘洋", "有点贵", "一天不到三块", "accepted", None),  # the answer's best occurrence: accepted
        ("c5", "王磊", "贵", "可以分期", "accepted", 40.0),
        ("c6", "张敏", "价格偏高", "一天不到三块", "open", 99.0),
    ], columns=COLUMNS)
    (theme,) = library(rows, answers_per_group=3, wordings_per_theme=3).itertuples()
    assert (theme.objections, theme.conversations, theme.wordings) == (7, 6, 4)
    # Three of the four wordings, most frequent first, ties by text (价 U+4EF7 before 贵 U+8D35).
    assert theme.members == [("太贵了", 3), ("有点贵", 2), ("价格偏高", 1)]
    assert theme.example == "太贵了"  # shares the most bigrams, each wording counted as often as it was said
    assert theme.accepted_share == pytest.approx(2 / 6)
    assert [(a["answer"], a["conversation_id"], a["outcome"], a["node_total"]) for a in theme.best_answers] == [
        ("可以分期", "c5", "accepted", 40.0), ("一天不到三块", "c4", "accepted", None),
        ("我们包含维保", "c1", "open", 50.0)]
    (one,) = library(rows, answers_per_group=1, wordings_per_theme=1).itertuples()
    assert one.members == [("太贵了", 3)] and [a["answer"] for a in one.best_answers] == ["可以分期"]


def test_a_trainers_library_merges_wordings_that_differ_only_by_a_masked_number():
    names = ("李女士",)
    rows = pd.DataFrame([
        ("c1", "王磊", "太贵了，你打我手机13812345678", "李女士，我稍后打13812345678给您", "accepted", 80.0),
        ("c2", "张敏", "太贵了，你打我手机13987654321", "李女士，我稍后打13987654321给您", "open", 60.0),
        ("c3", "陈晨", "太贵了", "按天算一天不到三块", "open", 70.0),
    ], columns=COLUMNS)
    fields = [library_fields(quote, answer, names) for quote, answer in zip(rows["quote"], rows["answer"])]
    rows = rows.assign(theme=[f[0] for f in fields], quote_masked=[f[1] for f in fields],
                       answer_masked=[f[2] for f in fields])
    assert fields[0] == ("price", "太贵了，你打我手机[手机号]", "[姓名]，我稍后打[手机号]给您")
    (theme,) = library(rows, redacted=True).itertuples()
    assert theme.members == [("太贵了，你打我手机[手机号]", 2), ("太贵了", 1)]
    assert [(a["answer"], a["conversation_id"]) for a in theme.best_answers] == [
        ("[姓名]，我稍后打[手机号]给您", "c1"), ("按天算一天不到三块", "c3")]  # one answer, at its best occurrence
    assert "138" not in str(theme) and "139" not in str(theme) and "李女士" not in str(theme)
    (admin,) = library(rows).itertuples()  # unmasked: three wordings, three answers
    assert admin.wordings == 3 and len(admin.best_answers) == 3
    with pytest.raises(ValueError, match="quote_masked"):
        library(rows[COLUMNS], redacted=True)
