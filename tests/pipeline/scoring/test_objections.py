"""The objection library: themes and the ranking of answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipeline.scoring.objections import library, objection_theme


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
    assert price["members"] == ["有点贵", "太贵了", "价格偏高", "价格有点高啊"]
    competitor = themes.iloc[1]
    assert competitor["example"] == "别家便宜两千" and competitor["best_answers"][0]["outcome"] == "open"


def test_an_unanswered_theme_has_no_accepted_share_and_no_answers():
    rows = pd.DataFrame([("c1", "王磊", "太贵了", None, "no_reply", None)],
                        columns=["conversation_id", "rep", "quote", "answer", "outcome", "node_total"])
    (theme,) = library(rows).itertuples()
    assert math.isnan(theme.accepted_share) and theme.best_answers == []


def test_no_objections_give_an_empty_library():
    assert library(pd.DataFrame(columns=["conversation_id", "rep", "quote", "answer", "outcome", "node_total"])).empty
