"""Build a synthetic Keynode warehouse: N conversations (default 100,000, about 5M utterances)
with the product's schema, and publish its snapshot the way the pipeline does. Used by
bench/search_scale.py to measure the board's search and overview queries at scale
(docs/scaling.md, "Search and overview at 100,000 conversations"). The data is generated, never
committed: the default folder holds a ``.gitignore`` of its own.

    .venv/bin/python scripts/make_warehouse.py                          # data/warehouse/keynode.duckdb
    .venv/bin/python scripts/make_warehouse.py --conversations 10000 --db /tmp/wh10k/keynode.duckdb

What it holds (deterministic: the same N gives the same rows):

- ~100 reps in 10 teams (the demo's 王磊, 张敏, Emily Carter in 华东一组 and 陈晨, 刘洋,
  David Lin in 华南二组 among them, so the demo accounts of configs/users.yaml see data),
  70% of the conversations Chinese, 20 industries, deals of 1–3 conversations, dates over a year;
- utterances assembled from a pool of sales-call templates (:data:`TEMPLATES`) by phase of the
  call (opening, needs, product, price, closing) and speaker, with customers, products,
  amounts and competitors filled in; template weights give search words a realistic
  selectivity (价格 and 预算 common, 太贵 less so, 退款 and 发票 rare, "competitor" in the
  English calls);
- key events on the utterances of tagged templates (about 30% of utterances), the event tree,
  node scores (present / missed / not applicable), conversation scores, metrics, auto notes
  (needs, objections with the rep's answer and the customer's reaction, approvals, next steps;
  objections with their theme and masked texts, as the writer stores them for the objection
  library) and node score history, one run with its inputs and a few failures.

Everything is generated with set-based DuckDB SQL (no row-by-row Python), in the order the
writer would have stored it (conversation after conversation, roughly by date), and the
snapshot is then published by the writer's own ``Store.publish_snapshot``. The one exception:
the objections' themes and masked texts are computed by the pipeline's own Python
(``pipeline.scoring.objections``), once per distinct quote and per distinct (text, customer
names), and joined back.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from pipeline.store.migrate import migrate  # noqa: E402
from pipeline.text import normalize  # noqa: E402

DEFAULT_DB = ROOT / "data" / "warehouse" / "keynode.duckdb"
RUN_ID = "warehouse"
SOP_VERSION = "2026.12-1+warehouse"
TAGGER = "rules"
NODES = ("opening", "customer_needs", "product_intro", "customer_approval", "price_objection", "next_step")
REQUIRED = ("opening", "customer_needs", "product_intro", "next_step")  # as configs/sop.yaml
PHASES = ("opening", "needs", "product", "price", "closing")

#: A phrase in no template: tests plant it to check that search finds exactly the planted rows.
PLANTED = "紫罗兰计划"

# -- people, products, places --------------------------------------------------------------
TEAMS = ("华东一组", "华东二组", "华南一组", "华南二组", "华北一组", "华北二组", "西南一组", "华中一组",
         "大客户组", "海外组")
_ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_ZH_GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "霞",
             "平", "刚", "桂英", "晨", "婷", "浩", "宇", "欣", "佳", "鹏", "昊", "琳", "子涵")
_EN_FIRST = ("Emily", "David", "Sarah", "Michael", "Jessica", "James", "Ashley", "Robert", "Amanda", "Daniel",
             "Olivia", "Kevin", "Laura", "Brian", "Megan", "Jason", "Rachel", "Ryan", "Nicole", "Eric",
             "Hannah", "Tom", "Grace", "Paul", "Chloe", "Mark", "Sophie", "Adam", "Lucy", "Peter")
_EN_LAST = ("Carter", "Lin", "Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Moore", "Taylor",
            "Anderson", "Thomas", "Jackson", "White", "Harris", "Martin", "Thompson", "Garcia", "Clark", "Lewis",
            "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson")
_ZH_CUSTOMER_TITLES = ("先生", "女士", "总", "经理", "姐", "老师")
_EN_CUSTOMER_TITLES = ("Mr.", "Ms.", "Dr.")
#: (industry, company, Chinese product, English product)
INDUSTRIES = (
    ("saas", "云启科技", "客户管理系统", "CRM suite"),
    ("insurance", "安和保险经纪", "家庭保障方案", "family cover plan"),
    ("education", "启明教育", "在线课程", "online course"),
    ("automotive", "星驰汽车", "新款SUV", "new SUV"),
    ("real_estate", "安居地产", "三居室", "three-bedroom unit"),
    ("b2b_services", "恒信财税", "代理记账服务", "bookkeeping service"),
    ("medical_devices", "康泰医疗", "监护仪", "patient monitor"),
    ("home_improvement", "美家装饰", "全屋定制", "custom fit-out"),
    ("logistics", "速达物流", "仓储配送方案", "warehousing plan"),
    ("manufacturing", "精工机械", "数控机床", "CNC machine"),
    ("retail", "优选零售", "门店收银系统", "point-of-sale system"),
    ("finance", "融通金融", "企业贷款", "business loan"),
    ("telecom", "畅联通信", "企业宽带", "business broadband"),
    ("energy", "绿源能源", "光伏电站", "solar installation"),
    ("hospitality", "悦途酒店", "会议套餐", "conference package"),
    ("healthcare", "仁和健康", "体检套餐", "health check package"),
    ("legal", "正言律所", "法律顾问服务", "legal retainer"),
    ("marketing", "声量传媒", "短视频代运营", "short-video campaign"),
    ("hr_services", "才聚人力", "招聘外包", "recruiting service"),
    ("security", "盾安科技", "监控系统", "CCTV system"),
)
COMPETITORS_ZH = ("华信", "拓维", "百联", "金蝶云", "远航", "蓝图", "易达", "众合")
COMPETITORS_EN = ("Acme", "Globex", "Initech", "Northwind", "Umbrella", "Stark Systems", "Vandelay", "Hooli")
CITIES_ZH = ("上海", "杭州", "苏州", "南京", "广州", "深圳", "北京", "成都", "武汉", "西安")
DAYS_ZH = ("一", "二", "三", "四", "五", "六")
DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

# -- the utterance pool -----------------------------------------------------------------------
#: Slots per unit of template weight (so a weight of 0.1 is one slot: a rare phrase), and how
#: much more often untagged templates are drawn (tunes key events to ~30% of utterances).
SLOTS_PER_WEIGHT = 10
UNTAGGED_BOOST = 1.8
# (language, role, phase, weight, nodes, text). Placeholders: {cust} customer, {rep} rep,
# {company}, {prod} product, {amt} an amount, {small} a small amount, {comp} a competitor,
# {num} a number, {day} a weekday, {city}. Nodes are the key events a tagger finds on it.
T = tuple[str, str, str, float, tuple[str, ...], str]
TEMPLATES: tuple[T, ...] = (
    # Chinese, rep
    ("zh", "rep", "opening", 6, ("opening",), "{cust}您好，我是{company}的{rep}，您现在方便说两句吗？"),
    ("zh", "rep", "opening", 4, ("opening",), "您好，这边是{company}，您之前在网上咨询过{prod}，想跟您确认一下需求。"),
    ("zh", "rep", "opening", 3, ("opening",), "喂，{cust}您好，打扰您两分钟，我是{company}的{rep}。"),
    ("zh", "rep", "opening", 2, (), "好的好的，那我简单说一下。"),
    ("zh", "rep", "opening", 2, (), "您好您好，听得清楚吗？"),
    ("zh", "rep", "needs", 4, ("customer_needs",), "您现在是怎么做的？主要遇到什么问题？"),
    ("zh", "rep", "needs", 3, ("customer_needs",), "方便问一下，您这边大概的预算是多少？"),
    ("zh", "rep", "needs", 2, ("customer_needs",), "这个事情最后是您来拍板，还是需要跟老板商量？"),
    ("zh", "rep", "needs", 2, ("customer_needs",), "您希望什么时候之前能用起来？"),
    ("zh", "rep", "needs", 2, ("customer_needs",), "您团队现在有多少人？大概{num}个人吗？"),
    ("zh", "rep", "needs", 6, (), "明白，我记一下。"),
    ("zh", "rep", "needs", 5, (), "嗯嗯，理解理解。"),
    ("zh", "rep", "needs", 3, (), "那您之前有了解过类似的产品吗？"),
    ("zh", "rep", "product", 4, ("product_intro",), "我们的{prod}能帮您把效率提高三成左右，很多同行都在用。"),
    ("zh", "rep", "product", 3, ("product_intro",), "像您这种情况，{prod}有专门的方案，上线只要两周。"),
    ("zh", "rep", "product", 3, ("product_intro",), "上个月{city}有一家公司也是这个问题，用了我们的{prod}之后成本降了不少。"),
    ("zh", "rep", "product", 2, ("product_intro",), "和{comp}比，我们的售后是本地团队，响应快很多。"),
    ("zh", "rep", "product", 5, (), "我给您发一份资料，您可以先看看。"),
    ("zh", "rep", "product", 5, (), "对，这个是可以的。"),
    ("zh", "rep", "product", 3, (), "这个问题问得好，我详细跟您说一下。"),
    ("zh", "rep", "price", 3, ("price_objection",), "价格方面您放心，我们这个月有活动，可以给您打九折。"),
    ("zh", "rep", "price", 3, ("price_objection",), "理解您的顾虑，其实算下来每天不到{small}块钱。"),
    ("zh", "rep", "price", 2, ("price_objection",), "如果预算紧张，我们也有基础版，价格低一些。"),
    ("zh", "rep", "price", 2, ("price_objection",), "这个价格已经包含了实施和培训，没有其他费用。"),
    ("zh", "rep", "price", 4, (), "报价是{amt}，一年的服务都包含在里面。"),
    ("zh", "rep", "price", 4, (), "好的，我跟领导申请一下看看。"),
    ("zh", "rep", "price", 3, (), "付款可以分两期，签约付一半，上线后付一半。"),
    ("zh", "rep", "closing", 4, ("next_step",), "那我周{day}下午再给您打电话，您看可以吗？"),
    ("zh", "rep", "closing", 4, ("next_step",), "我先加您微信，把方案和报价发给您。"),
    ("zh", "rep", "closing", 3, ("next_step",), "下周{day}我带技术同事上门给您演示一下，怎么样？"),
    ("zh", "rep", "closing", 2, ("next_step",), "合同我今天发您邮箱，您看完有问题随时找我。"),
    ("zh", "rep", "closing", 5, (), "好的，感谢您的时间。"),
    ("zh", "rep", "closing", 3, (), "那先这样，有问题随时联系我，再见。"),
    # Chinese, customer
    ("zh", "customer", "opening", 5, (), "你好，什么事？"),
    ("zh", "customer", "opening", 5, (), "方便，你说吧。"),
    ("zh", "customer", "opening", 3, (), "我在开会，长话短说。"),
    ("zh", "customer", "opening", 3, (), "哦，是你们啊，说吧。"),
    ("zh", "customer", "needs", 3, ("customer_needs",), "我们现在主要靠人工，{num}个人都忙不过来。"),
    ("zh", "customer", "needs", 3, ("customer_needs",), "预算大概在{amt}左右，不能再多了。"),
    ("zh", "customer", "needs", 2, ("customer_needs",), "年底之前要上线，老板催得紧。"),
    ("zh", "customer", "needs", 3, ("customer_needs",), "现在用的系统太老了，经常出问题。"),
    ("zh", "customer", "needs", 1, ("customer_needs",), "这个得我们老板定，我只负责先了解一下。"),
    ("zh", "customer", "needs", 6, (), "嗯，差不多是这样。"),
    ("zh", "customer", "needs", 4, (), "这个我得问一下财务。"),
    ("zh", "customer", "needs", 5, (), "你接着说。"),
    ("zh", "customer", "needs", 4, (), "对的。"),
    ("zh", "customer", "product", 3, ("customer_approval",), "听起来不错，这个功能我们挺需要的。"),
    ("zh", "customer", "product", 3, ("customer_approval",), "这个挺好，比我们现在用的方便。"),
    ("zh", "customer", "product", 3, (), "那和{comp}比有什么区别？"),
    ("zh", "customer", "product", 2, (), "我们之前也看过{comp}的产品。"),
    ("zh", "customer", "product", 6, (), "嗯，你说的这个我大概明白了。"),
    ("zh", "customer", "product", 4, (), "有没有案例可以看看？"),
    ("zh", "customer", "product", 4, (), "嗯。"),
    ("zh", "customer", "price", 3, ("price_objection",), "{amt}太贵了，超出我们的预算了。"),
    ("zh", "customer", "price", 3, ("price_objection",), "价格能不能再优惠一点？"),
    ("zh", "customer", "price", 2, ("price_objection",), "{comp}的报价比你们便宜不少。"),
    ("zh", "customer", "price", 2, ("price_objection", "customer_needs"), "这个价格我得跟老板商量一下，预算是他批的。"),
    ("zh", "customer", "price", 2, ("price_objection",), "一年{amt}？有点贵啊。"),
    ("zh", "customer", "price", 5, (), "那多少钱？"),
    ("zh", "customer", "price", 4, (), "怎么收费的？"),
    ("zh", "customer", "price", 3, (), "付款方式是怎样的？"),
    ("zh", "customer", "price", 4, (), "行，你先说说价格。"),
    ("zh", "customer", "price", 0.1, (), "如果用得不满意，可以退款吗？"),
    ("zh", "customer", "closing", 3, ("customer_approval",), "行，你先发过来我看看。"),
    ("zh", "customer", "closing", 2, ("customer_approval",), "好的，那就这么定了。"),
    ("zh", "customer", "closing", 3, ("next_step",), "可以，周{day}下午我在。"),
    ("zh", "customer", "closing", 5, (), "我再考虑考虑吧。"),
    ("zh", "customer", "closing", 4, (), "先这样吧，有需要我联系你。"),
    ("zh", "customer", "closing", 4, (), "好的，再见。"),
    ("zh", "customer", "closing", 0.05, (), "对了，你们能开增值税专用发票吗？"),
    # English, rep
    ("en", "rep", "opening", 6, ("opening",), "Hi {cust}, this is {rep} from {company}. Do you have a few minutes?"),
    ("en", "rep", "opening", 4, ("opening",),
     "Good morning, I'm calling about the {prod} you asked about on our website."),
    ("en", "rep", "opening", 4, (), "Great, thanks for taking the call."),
    ("en", "rep", "needs", 4, ("customer_needs",), "How are you handling this today, and what's not working?"),
    ("en", "rep", "needs", 3, ("customer_needs",), "Do you have a budget in mind for this?"),
    ("en", "rep", "needs", 2, ("customer_needs",), "Who else is involved in the decision?"),
    ("en", "rep", "needs", 2, ("customer_needs",), "When would you need this up and running?"),
    ("en", "rep", "needs", 6, (), "Got it, that makes sense."),
    ("en", "rep", "needs", 4, (), "Okay, I'm writing that down."),
    ("en", "rep", "product", 4, ("product_intro",),
     "Our {prod} usually saves teams like yours about a third of the manual work."),
    ("en", "rep", "product", 3, ("product_intro",),
     "A client in Chicago had the same problem and cut their costs within a month."),
    ("en", "rep", "product", 2, ("product_intro",),
     "Unlike {comp}, our support team is local and answers within the hour."),
    ("en", "rep", "product", 5, (), "I'll send you a short case study after the call."),
    ("en", "rep", "product", 4, (), "Yes, that's included."),
    ("en", "rep", "price", 3, ("price_objection",),
     "I understand the price concern; it works out to less than {small} dollars a day."),
    ("en", "rep", "price", 2, ("price_objection",), "If the budget is tight, we have a starter plan at a lower price."),
    ("en", "rep", "price", 2, ("price_objection",), "We can match what the competitor offers if you sign this month."),
    ("en", "rep", "price", 4, (), "The quote is {amt} for the first year, setup included."),
    ("en", "rep", "price", 3, (), "Let me check with my manager what we can do."),
    ("en", "rep", "closing", 4, ("next_step",), "Can I call you on {day} afternoon to go through the proposal?"),
    ("en", "rep", "closing", 3, ("next_step",), "I'll email you the proposal today and book a demo for next {day}."),
    ("en", "rep", "closing", 5, (), "Thanks so much for your time."),
    # English, customer
    ("en", "customer", "opening", 5, (), "Sure, go ahead."),
    ("en", "customer", "opening", 3, (), "I only have a few minutes."),
    ("en", "customer", "needs", 3, ("customer_needs",), "We're doing it all by hand and {num} people can't keep up."),
    ("en", "customer", "needs", 3, ("customer_needs",), "Our budget is around {amt}, not more."),
    ("en", "customer", "needs", 2, ("customer_needs",), "We need something in place before the end of the quarter."),
    ("en", "customer", "needs", 6, (), "Yeah, that's about right."),
    ("en", "customer", "needs", 4, (), "I'd have to ask our finance team."),
    ("en", "customer", "product", 3, ("customer_approval",), "That sounds useful, we really need that."),
    ("en", "customer", "product", 2, (), "How is this different from {comp}?"),
    ("en", "customer", "product", 2, (), "We're also talking to a competitor, {comp}."),
    ("en", "customer", "product", 5, (), "Okay, I follow."),
    ("en", "customer", "price", 3, ("price_objection",), "{amt} is too expensive for us."),
    ("en", "customer", "price", 2, ("price_objection",), "Your competitor {comp} quoted us a lot less."),
    ("en", "customer", "price", 2, ("price_objection",), "Can you do any better on the price?"),
    ("en", "customer", "price", 5, (), "So how much is it?"),
    ("en", "customer", "price", 0.1, (), "Is there a refund if it doesn't work out?"),
    ("en", "customer", "closing", 3, ("customer_approval",), "Sounds good, send it over."),
    ("en", "customer", "closing", 3, ("next_step",), "{day} afternoon works for me."),
    ("en", "customer", "closing", 5, (), "Let me think about it."),
    ("en", "customer", "closing", 4, (), "Okay, bye."),
)

_METRICS = (("talk_ratio", "ratio"), ("longest_rep_monologue", "s"), ("longest_customer_story", "s"),
            ("interactivity", "per_min"), ("rep_response_latency_s", "s"), ("rep_interruptions", "count"),
            ("wait_after_question_s", "s"), ("question_count", "count"), ("question_rate", "per_10_min"),
            ("speaking_pace", "chars_per_min"), ("filler_rate", "per_100_chars"))
_TIPS = {"opening": "开场先问候、自我介绍、说明来意，并确认对方是否方便。",
         "customer_needs": "需求挖掘要问清现状、痛点、预算、时间要求和决策人，多用开放式问题。",
         "product_intro": "介绍产品时说出具体收益，并和客户刚说的需求挂钩，最好举一个同行案例。",
         "customer_approval": "客户表示认可时，顺势强化价值并推进到下一步。",
         "price_objection": "先认同客户的顾虑，再讲价值，给出可选方案，最后确认客户是否接受。",
         "next_step": "结束前约定具体的下一步：什么时间、做什么、谁负责，并让客户确认。"}


def _people() -> list[tuple[str, str, str, int]]:
    """(rep, team, language, weight) for ~100 reps: 70 Chinese, 30 English, in 10 teams; the
    demo's six reps first, in their demo teams."""
    reps = [("王磊", "华东一组", "zh"), ("张敏", "华东一组", "zh"), ("Emily Carter", "华东一组", "en"),
            ("陈晨", "华南二组", "zh"), ("刘洋", "华南二组", "zh"), ("David Lin", "华南二组", "en")]
    names = {rep for rep, _, _ in reps}
    n = 0
    while sum(lang == "zh" for _, _, lang in reps) < 70:
        name = _ZH_SURNAMES[(n * 7) % len(_ZH_SURNAMES)] + _ZH_GIVEN[(n * 11) % len(_ZH_GIVEN)]
        n += 1
        if name not in names:
            names.add(name)
            reps.append((name, TEAMS[len(reps) % len(TEAMS)], "zh"))
    n = 0
    while len(reps) < 100:
        name = f"{_EN_FIRST[n % len(_EN_FIRST)]} {_EN_LAST[(n * 7 + 3) % len(_EN_LAST)]}"
        n += 1
        if name not in names:
            names.add(name)
            reps.append((name, TEAMS[(len(reps) * 3) % len(TEAMS)], "en"))
    # Uneven volume, as on a real team: weights 4..16 conversations per 'slot'.
    return [(rep, team, lang, 4 + (index * 37) % 13) for index, (rep, team, lang) in enumerate(reps)]


def _customers() -> list[tuple[str, str]]:
    """(customer name, language): 400 Chinese, 200 English."""
    zh = [_ZH_SURNAMES[i % len(_ZH_SURNAMES)] + _ZH_CUSTOMER_TITLES[(i // len(_ZH_SURNAMES)) % 6] for i in range(400)]
    en = [f"{_EN_CUSTOMER_TITLES[i % 3]} {_EN_LAST[(i // 3) % len(_EN_LAST)]}"
          + ("" if i < 90 else f"-{_EN_FIRST[i % 30]}") for i in range(200)]
    return [(name, "zh") for name in dict.fromkeys(zh)] + [(name, "en") for name in dict.fromkeys(en)]


def _lookup_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Small helper tables (TEMP, not in the warehouse) the generator joins against."""
    con.execute("CREATE TEMP TABLE g_rep (rep VARCHAR, team VARCHAR, lang VARCHAR, weight INTEGER, rep_no INTEGER)")
    con.executemany("INSERT INTO g_rep VALUES (?, ?, ?, ?, ?)",
                    [(*row, n) for n, row in enumerate(_people())])
    # A rep 'slot' table: rep k owns `weight` consecutive slots; a deal picks a slot.
    con.execute("""CREATE TEMP TABLE g_rep_slot AS
                   SELECT rep, team, lang, rep_no,
                          (sum(weight) OVER (ORDER BY rep_no) - weight)::INTEGER AS first_slot, weight
                   FROM g_rep""")
    con.execute("CREATE TEMP TABLE g_customer (customer VARCHAR, lang VARCHAR, k INTEGER)")
    customers = _customers()
    con.executemany("INSERT INTO g_customer VALUES (?, ?, ?)",
                    [(name, lang, sum(1 for c in customers[:i] if c[1] == lang))
                     for i, (name, lang) in enumerate(customers)])
    con.execute("CREATE TEMP TABLE g_industry (k INTEGER, industry VARCHAR, company VARCHAR, prod_zh VARCHAR, "
                "prod_en VARCHAR)")
    con.executemany("INSERT INTO g_industry VALUES (?, ?, ?, ?, ?)", [(k, *row) for k, row in enumerate(INDUSTRIES)])
    con.execute("CREATE TEMP TABLE g_tpl (lang VARCHAR, role VARCHAR, phase VARCHAR, tpl_no INTEGER, "
                "first_slot INTEGER, weight INTEGER, nodes VARCHAR[], text VARCHAR, norm VARCHAR)")
    rows, next_slot = [], {}
    for n, (lang, role, phase, weight, nodes, text) in enumerate(TEMPLATES):
        weight = round(weight * SLOTS_PER_WEIGHT * (1 if nodes else UNTAGGED_BOOST))
        first = next_slot.get((lang, role, phase), 0)
        next_slot[(lang, role, phase)] = first + weight
        rows.append((lang, role, phase, n, first, weight, list(nodes), text, normalize(text)))
    con.executemany("INSERT INTO g_tpl VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("CREATE TEMP TABLE g_tpl_group (lang VARCHAR, role VARCHAR, phase VARCHAR, slots INTEGER)")
    con.executemany("INSERT INTO g_tpl_group VALUES (?, ?, ?, ?)", [(*key, total) for key, total in next_slot.items()])
    con.execute("""CREATE TEMP TABLE g_tpl_slot AS
                   SELECT t.lang, t.role, t.phase, t.first_slot + s.i AS slot, t.tpl_no, t.nodes, t.text, t.norm
                   FROM g_tpl t, LATERAL (SELECT unnest(range(t.weight)) AS i) s""")
    con.execute("CREATE TEMP TABLE g_list (kind VARCHAR, lang VARCHAR, k INTEGER, value VARCHAR)")
    lists = [("comp", "zh", COMPETITORS_ZH), ("comp", "en", COMPETITORS_EN), ("city", "zh", CITIES_ZH),
             ("city", "en", CITIES_ZH), ("day", "zh", DAYS_ZH), ("day", "en", DAYS_EN)]
    con.executemany("INSERT INTO g_list VALUES (?, ?, ?, ?)",
                    [(kind, lang, k, value) for kind, lang, values in lists for k, value in enumerate(values)])


def _h(*parts: str) -> str:
    """SQL for a deterministic pseudo-random BIGINT ≥ 0 from the given SQL expressions."""
    return f"(hash({', '.join(parts)}) % 1000000007)::BIGINT"


def generate(con: duckdb.DuckDBPyConnection, conversations: int, log=print) -> dict[str, float]:
    """Fill the (migrated, empty) database of ``con`` with ``conversations`` synthetic
    conversations and every row that hangs off them. Returns seconds per step."""
    timings: dict[str, float] = {}

    def step(name: str, sql: str, params=()) -> None:
        started = time.perf_counter()
        con.execute(sql, list(params))
        timings[name] = round(time.perf_counter() - started, 2)
        log(f"  {name}: {timings[name]} s")

    _lookup_tables(con)
    n = int(conversations)
    deals = max(1, (n + 2) // 3)
    rep_slots = con.execute("SELECT sum(weight) FROM g_rep").fetchone()[0]
    zh_customers, en_customers = (con.execute("SELECT count(*) FROM g_customer WHERE lang = ?", [lang]).fetchone()[0]
                                  for lang in ("zh", "en"))
    con.execute("""INSERT INTO runs (run_id, started_at, finished_at, sop_version, tagger, inputs, processed,
                                     skipped, failed, pid, host)
                   VALUES (?, TIMESTAMP '2026-01-02 01:00:00', TIMESTAMP '2026-01-02 05:00:00', ?, ?,
                           ['data/warehouse/inputs'], ?, 0, 10, NULL, NULL)""", [RUN_ID, SOP_VERSION, TAGGER, n])

    # Conversations: conversation i belongs to deal i // 3 (10% have no deal); a deal has one rep,
    # customer and industry, and its calls follow each other by days. Deals start evenly over
    # 2025, so the writer's order (i) is roughly the order of the calls.
    step("conversations", f"""
        CREATE TEMP TABLE g_conv AS
        WITH base AS (
            SELECT i, i // 3 AS deal_no, i % 3 AS step_no,
                   {_h('i', "'conv'")} AS h, {_h('i // 3', "'deal'")} AS hd
            FROM range(?) r(i)),
        deal AS (
            SELECT b.*, s.rep, s.team, s.lang, s.rep_no,
                   ({_h('b.deal_no', "'industry'")} + s.rep_no) % 20 AS industry_no,
                   TIMESTAMP '2025-01-01 08:00:00'
                       + to_seconds((b.deal_no * 365.0 * 86400 / ?)::BIGINT)
                       + to_days((b.step_no * (3 + b.hd % 12))::INTEGER)
                       + to_seconds((b.h % 36000)::BIGINT) AS started
            FROM base b JOIN g_rep_slot s ON b.hd % ? >= s.first_slot AND b.hd % ? < s.first_slot + s.weight)
        SELECT d.i, substr(md5('keynode-warehouse-' || d.i), 1, 16) AS conversation_id,
               d.rep, d.team, d.lang, d.industry_no,
               cu.customer,
               CASE WHEN d.h % 10 = 0 THEN NULL ELSE 'D-' || lpad(d.deal_no::VARCHAR, 6, '0') END AS deal_id,
               CASE WHEN d.h % 200 = 0 THEN NULL ELSE d.started END AS started_at,
               CASE d.h % 20 WHEN 0 THEN 'meeting' WHEN 1 THEN 'wecom' WHEN 2 THEN 'wecom'
                    WHEN 3 THEN 'web_chat' WHEN 4 THEN 'web_chat' WHEN 5 THEN 'web_chat'
                    WHEN 6 THEN 'wechat' WHEN 7 THEN 'wechat' WHEN 8 THEN 'wechat' WHEN 9 THEN 'wechat'
                    WHEN 10 THEN 'wechat' ELSE 'phone' END AS channel,
               ['lead', 'discovery', 'demo', 'negotiation', 'closed'][1 + least(4, d.step_no + d.hd % 3)] AS stage,
               CASE WHEN d.step_no < 2 AND d.h % 3 > 0 THEN 'open'
                    ELSE ['won', 'won', 'won', 'lost', 'lost', 'lost', 'open', 'open', 'open', 'open'][1 + d.hd % 10]
               END AS outcome,
               CASE WHEN d.h % 100 = 0 THEN 150 + d.h % 151 ELSE 20 + d.h % 61 END AS utterance_count,
               d.h
        FROM deal d
        JOIN g_customer cu ON cu.lang = d.lang
             AND cu.k = {_h('d.deal_no', "'customer'")}
                        % CASE d.lang WHEN 'zh' THEN {zh_customers} ELSE {en_customers} END
        ORDER BY d.i""", [n, deals, rep_slots, rep_slots])

    step("utterances (temp)", f"""
        CREATE TEMP TABLE g_utt AS
        WITH u AS (
            SELECT c.i, c.conversation_id, c.lang, c.rep, c.customer, c.industry_no, c.utterance_count,
                   c.channel, idx,
                   CASE WHEN idx = 0 THEN 'rep'
                        WHEN (idx + {_h('c.i', 'idx // 7', "'turn'")} % 2) % 2 = 0 THEN 'rep'
                        ELSE 'customer' END AS role,
                   CASE WHEN idx < 3 THEN 'opening'
                        WHEN idx < 0.35 * c.utterance_count THEN 'needs'
                        WHEN idx < 0.60 * c.utterance_count THEN 'product'
                        WHEN idx < 0.82 * c.utterance_count THEN 'price'
                        ELSE 'closing' END AS phase,
                   {_h('c.i', 'idx', "'utt'")} AS h
            FROM g_conv c, LATERAL (SELECT unnest(range(c.utterance_count)) AS idx) r)
        SELECT u.i, u.conversation_id, u.idx AS utterance_index, u.role AS speaker_role,
               CASE u.role WHEN 'rep' THEN u.rep ELSE u.customer END AS speaker_name,
               round(u.idx * 7.5 + (u.h % 300) / 100.0, 2) AS start_s,
               round(u.idx * 7.5 + 3.5 + (u.h % 300) / 100.0, 2) AS end_s,
               t.nodes, t.tpl_no, u.h, u.lang,
               replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(t.text,
                   '{{cust}}', u.customer), '{{rep}}', u.rep), '{{company}}', ind.company),
                   '{{prod}}', CASE u.lang WHEN 'zh' THEN ind.prod_zh ELSE ind.prod_en END),
                   '{{amt}}', CASE WHEN u.lang = 'en' THEN '$' || ((10 + u.h % 90) * 100)::VARCHAR
                                   WHEN u.h % 2 = 0 THEN (1 + u.h % 50)::VARCHAR || '万'
                                   ELSE ((10 + u.h % 90) * 100)::VARCHAR || '元' END),
                   '{{small}}', (2 + u.h % 30)::VARCHAR),
                   '{{comp}}', comp.value), '{{num}}', (3 + u.h % 40)::VARCHAR),
                   '{{day}}', day.value), '{{city}}', city.value) AS text,
               t.norm AS norm, ind.company, ind.prod_zh, ind.prod_en, comp.value AS comp, day.value AS day,
               city.value AS city
        FROM u
        JOIN g_tpl_group g ON g.lang = u.lang AND g.role = u.role AND g.phase = u.phase
        JOIN g_tpl_slot t ON t.lang = u.lang AND t.role = u.role AND t.phase = u.phase
                          AND t.slot = {_h('u.h', "'tpl'")} % g.slots
        JOIN g_industry ind ON ind.k = u.industry_no
        JOIN g_list comp ON comp.kind = 'comp' AND comp.lang = u.lang AND comp.k = u.h % 8
        JOIN g_list day ON day.kind = 'day' AND day.lang = u.lang
             AND day.k = u.h % (CASE u.lang WHEN 'zh' THEN 6 ELSE 5 END)
        JOIN g_list city ON city.kind = 'city' AND city.lang = u.lang AND city.k = (u.h // 7) % 10""")

    step("conversations (insert)", f"""
        INSERT INTO conversations (conversation_id, source_path, source_key, source_format, channel, language,
                                   industry, rep, team, customer, deal_id, stage, outcome, started_at,
                                   utterance_count, duration_s, fingerprint, sop_version, tagger, run_id,
                                   processed_at, transcript, privacy)
        SELECT c.conversation_id,
               'data/warehouse/inputs/' || strftime(coalesce(c.started_at, TIMESTAMP '2025-01-01'), '%Y-%m') || '/'
                   || CASE WHEN c.channel = 'phone' AND c.h % 5 > 0 THEN 'call_' || c.i || '.mp3'
                           WHEN c.channel IN ('wechat', 'wecom') THEN 'chat_' || c.i || '.txt'
                           WHEN c.channel = 'web_chat' THEN 'webchat_' || c.i || '.jsonl'
                           ELSE 'export_' || c.i || '.csv' END,
               NULL,
               CASE WHEN c.channel = 'phone' AND c.h % 5 > 0 THEN 'audio'
                    WHEN c.channel IN ('wechat', 'wecom') THEN 'wechat'
                    WHEN c.channel = 'web_chat' THEN 'jsonl' ELSE 'csv' END,
               c.channel, c.lang, ind.industry, c.rep, c.team, c.customer, c.deal_id, c.stage, c.outcome,
               c.started_at, c.utterance_count, round((c.utterance_count - 1) * 7.5 + 3.5 + (c.h % 300) / 100.0, 2),
               substr(md5('fp-' || c.i), 1, 16), ?, ?, ?,
               TIMESTAMP '2026-01-02 01:00:00' + to_microseconds(c.i * 100000), NULL, NULL
        FROM g_conv c JOIN g_industry ind ON ind.k = c.industry_no
        ORDER BY c.i""", [SOP_VERSION, TAGGER, RUN_ID])

    step("utterances (insert)", """
        INSERT INTO utterances (conversation_id, utterance_index, speaker_role, speaker_name, start_s, end_s, text,
                                text_normalized, role_confidence, words)
        SELECT conversation_id, utterance_index, speaker_role, speaker_name, start_s, end_s, text,
               replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(norm,
                   '{cust}', lower(speaker_name_customer)), '{rep}', lower(rep)), '{company}', lower(company)),
                   '{prod}', lower(CASE lang WHEN 'zh' THEN prod_zh ELSE prod_en END)),
                   '{amt}', lower(CASE WHEN lang = 'en' THEN '$' || ((10 + h % 90) * 100)::VARCHAR
                                       WHEN h % 2 = 0 THEN (1 + h % 50)::VARCHAR || '万'
                                       ELSE ((10 + h % 90) * 100)::VARCHAR || '元' END)),
                   '{small}', (2 + h % 30)::VARCHAR),
                   '{comp}', lower(comp)), '{num}', (3 + h % 40)::VARCHAR),
                   '{day}', lower(day)), '{city}', lower(city)),
               NULL, NULL
        FROM (SELECT u.*, c.customer AS speaker_name_customer, c.rep FROM g_utt u JOIN g_conv c USING (i))
        ORDER BY i, utterance_index""")

    step("key_events", """
        INSERT INTO key_events (conversation_id, utterance_index, node_id, confidence, evidence, source, sop_version,
                                tagger)
        SELECT conversation_id, utterance_index, node_id, round(0.55 + (h % 45) / 100.0, 3), text,
               'rule:' || node_id, ?, ?
        FROM (SELECT i, conversation_id, utterance_index, unnest(nodes) AS node_id, h, text FROM g_utt
              WHERE len(nodes) > 0)
        ORDER BY i, utterance_index, node_id""", [SOP_VERSION, TAGGER])

    step("event_tree", """
        INSERT INTO event_tree (conversation_id, tree_key, parent_key, kind, node_id, speaker_role, first_utterance,
                                last_utterance, depth)
        SELECT conversation_id, (row_number() OVER (PARTITION BY i ORDER BY utterance_index, node_id) - 1)::INTEGER,
               NULL, 'occurrence', node_id, speaker_role, utterance_index, utterance_index, 0
        FROM (SELECT i, conversation_id, utterance_index, speaker_role, unnest(nodes) AS node_id FROM g_utt
              WHERE len(nodes) > 0)
        ORDER BY i, utterance_index, node_id""")

    nodes_sql = ", ".join(f"('{node}', {k}, {str(node in REQUIRED).upper()})" for k, node in enumerate(NODES))
    tips_sql = " ".join(f"WHEN '{node}' THEN '{tip}'" for node, tip in _TIPS.items())
    step("node_scores", f"""
        INSERT INTO node_scores (conversation_id, node_id, status, key_points, communication_skill, attitude,
                                 customer_feedback, total, explanation, evidence, tip, utterance_indexes, sop_version)
        WITH nodes(node_id, node_no, required) AS (VALUES {nodes_sql}),
        found AS (SELECT i, node_id, list(utterance_index ORDER BY utterance_index) AS indexes
                  FROM (SELECT i, utterance_index, unnest(nodes) AS node_id FROM g_utt WHERE len(nodes) > 0)
                  GROUP BY ALL),
        scored AS (
            SELECT c.i, c.conversation_id, n.node_id, n.node_no,
                   CASE WHEN f.indexes IS NOT NULL THEN 'present' WHEN n.required THEN 'missed'
                        ELSE 'not_applicable' END AS status,
                   coalesce(f.indexes, []::INTEGER[]) AS indexes,
                   {_h('c.i', 'n.node_no', "'score'")} AS h
            FROM g_conv c CROSS JOIN nodes n LEFT JOIN found f ON f.i = c.i AND f.node_id = n.node_id),
        dims AS (
            SELECT *,
                   CASE status WHEN 'present' THEN round((h % 6) * 20.0, 1) WHEN 'missed' THEN 0.0 END AS kp,
                   CASE status WHEN 'present' THEN round(50 + (h // 7) % 51, 1) WHEN 'missed' THEN 0.0 END AS cs,
                   CASE status WHEN 'present' THEN round(60 + (h // 11) % 41, 1) WHEN 'missed' THEN 0.0 END AS att,
                   CASE status WHEN 'present' THEN round(40 + (h // 13) % 61, 1) WHEN 'missed' THEN 0.0 END AS cf
            FROM scored)
        SELECT conversation_id, node_id, status, kp, cs, att, cf,
               round(0.4 * kp + 0.2 * cs + 0.2 * att + 0.2 * cf, 1),
               CASE status WHEN 'not_applicable' THEN '{{}}'
                    WHEN 'missed' THEN '{{"key_points": "必要节点缺失", "communication_skill": "必要节点缺失", '
                                       || '"attitude": "必要节点缺失", "customer_feedback": "必要节点缺失"}}'
                    ELSE '{{"key_points": "要点完成 ' || (h % 6) || '/5", "communication_skill": "开放式提问 '
                         || (h % 3) || '/2；最长一段讲解 ' || (30 + h % 90) || ' 字（上限 120）；打断客户 '
                         || (h % 2) || ' 次", "attitude": "使用了礼貌用语（您）", '
                         || '"customer_feedback": "客户随后的反应：积极 ' || (h % 4) || '，消极 ' || (h % 2) || '"}}' END,
               CASE status WHEN 'not_applicable' THEN '{{}}'
                    WHEN 'missed' THEN '{{"key_points": {{}}, "communication_skill": {{}}, "attitude": {{}}, '
                                       || '"customer_feedback": {{}}}}'
                    ELSE '{{"key_points": {{"covered": ' || (h % 6) || ', "utterance_indexes": '
                         || to_json(indexes) || '}}, "communication_skill": {{"monologue": 1.0, "turn_taking": 1.0}}, '
                         || '"attitude": {{"polite": [], "forbidden": [], "interruptions": []}}, '
                         || '"customer_feedback": {{"reactions": []}}}}' END,
               CASE WHEN status = 'not_applicable' THEN '' ELSE CASE node_id {tips_sql} END END,
               indexes, ?
        FROM dims ORDER BY i, node_no""", [SOP_VERSION])

    required_sql = ", ".join(f"'{node}'" for node in REQUIRED)
    step("conversation_scores", f"""
        INSERT INTO conversation_scores (conversation_id, coverage, missing_required, order_conformance, node_order,
                                         total, sop_version)
        SELECT n.conversation_id,
               round(count(*) FILTER (WHERE n.status = 'present')
                     / count(*) FILTER (WHERE n.status <> 'not_applicable'), 4),
               coalesce(list(n.node_id ORDER BY n.node_id)
                        FILTER (WHERE n.status = 'missed' AND n.node_id IN ({required_sql})), []),
               CASE WHEN count(*) FILTER (WHERE n.status = 'present') < 2 THEN NULL
                    ELSE round(0.5 + (hash(n.conversation_id) % 51) / 100.0, 2) END,
               coalesce(list(n.node_id ORDER BY n.utterance_indexes[1], n.node_id)
                        FILTER (WHERE n.status = 'present'), []),
               round(avg(n.total) FILTER (WHERE n.status <> 'not_applicable'), 1), ?
        FROM node_scores n JOIN g_conv c USING (conversation_id)
        GROUP BY n.conversation_id, c.i ORDER BY c.i""", [SOP_VERSION])

    metrics_sql = ", ".join(f"('{name}', '{unit}', {k})" for k, (name, unit) in enumerate(_METRICS))
    step("conversation_metrics", f"""
        INSERT INTO conversation_metrics (conversation_id, name, value, unit, applicable, explanation, evidence)
        WITH metrics(name, unit, k) AS (VALUES {metrics_sql})
        SELECT c.conversation_id, m.name, round(({_h('c.i', 'm.k', "'metric'")} % 10000) / 100.0, 3), m.unit, TRUE,
               CASE c.lang WHEN 'zh' THEN '销售的' || m.name || '为 ' || (c.h % 100) || '（按整段对话计算）'
                           ELSE 'The rep''s ' || m.name || ' was ' || (c.h % 100) || ' over the whole conversation' END,
               '{{"utterance_indexes": [' || (c.h % c.utterance_count) || ']}}'
        FROM g_conv c CROSS JOIN metrics m ORDER BY c.i, m.k""")

    step("conversation_notes (temp)", f"""
        CREATE TEMP TABLE g_notes AS
        WITH nxt AS (
            SELECT u.*, min(CASE WHEN speaker_role = 'rep' THEN utterance_index END)
                        OVER (PARTITION BY i ORDER BY utterance_index
                              ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_rep
            FROM g_utt u),
        noted AS (
            SELECT n.*, CASE WHEN n.speaker_role = 'customer' AND list_contains(n.nodes, 'price_objection')
                                  THEN 'objection'
                             WHEN n.speaker_role = 'customer' AND list_contains(n.nodes, 'customer_needs') THEN 'need'
                             WHEN n.speaker_role = 'customer' AND list_contains(n.nodes, 'customer_approval')
                                  THEN 'approval'
                             WHEN n.speaker_role = 'rep' AND list_contains(n.nodes, 'next_step') THEN 'next_step'
                        END AS kind
            FROM nxt n WHERE len(n.nodes) > 0),
        answered AS (
            SELECT o.*, CASE WHEN o.kind = 'objection' AND o.h % 10 > 0 THEN o.next_rep END AS answer_index
            FROM noted o WHERE o.kind IS NOT NULL)
        SELECT a.i, a.conversation_id,
               (row_number() OVER (PARTITION BY a.i ORDER BY a.utterance_index) - 1)::INTEGER AS note_index,
               a.kind, [a.utterance_index] AS utterance_indexes, a.text AS quote, r.text AS answer, a.answer_index,
               CASE a.kind WHEN 'objection' THEN CASE WHEN a.answer_index IS NULL THEN 'no_reply'
                                                 ELSE ['accepted', 'accepted', 'accepted', 'recurred', 'recurred',
                                                       'unresolved', 'open', 'open', 'open'][1 + a.h % 9] END
                           WHEN 'next_step' THEN CASE WHEN a.h % 4 = 0 THEN 'unconfirmed' ELSE 'confirmed' END
               END AS outcome,
               CASE a.kind WHEN 'next_step' THEN '{{"when": ["' || a.day || '"], "what": ["电话"], "who": "rep"}}'
                           ELSE '{{}}' END AS details,
               CASE a.kind WHEN 'need' THEN '客户需求：「' || a.text || '」'
                           WHEN 'approval' THEN '客户认可：「' || a.text || '」'
                           WHEN 'objection' THEN '价格异议：「' || a.text || '」 → 销售回应 ' || coalesce(r.text, '（未回应）')
                           ELSE '下一步：「' || a.text || '」' END AS line
        FROM answered a LEFT JOIN g_utt r ON r.i = a.i AND r.utterance_index = a.answer_index""")
    started = time.perf_counter()
    texts = _objection_library_fields(con)
    timings["objection library fields"] = round(time.perf_counter() - started, 2)
    log(f"  objection library fields: {timings['objection library fields']} s ({texts:,} distinct texts masked)")
    step("conversation_notes", """
        INSERT INTO conversation_notes (conversation_id, note_index, kind, utterance_indexes, quote, answer,
                                        answer_index, outcome, details, line, theme, quote_masked, answer_masked)
        SELECT n.conversation_id, n.note_index, n.kind, n.utterance_indexes, n.quote, n.answer, n.answer_index,
               n.outcome, n.details, n.line, t.theme, q.masked, a.masked
        FROM g_notes n
        LEFT JOIN g_names g ON g.conversation_id = n.conversation_id
        LEFT JOIN g_theme t ON n.kind = 'objection' AND t.quote = n.quote
        LEFT JOIN g_masked q ON n.kind = 'objection' AND q.text = n.quote AND q.names = coalesce(g.names, [])
        LEFT JOIN g_masked a ON n.kind = 'objection' AND a.text = n.answer AND a.names = coalesce(g.names, [])
        ORDER BY n.i, n.note_index""")

    step("node_score_history", """
        INSERT INTO node_score_history (conversation_id, node_id, sop_version, status, total, scored_at)
        SELECT conversation_id, node_id, sop_version, status, total, TIMESTAMP '2026-01-02 01:00:00'
        FROM node_scores""")

    step("run_inputs", """
        INSERT INTO run_inputs (run_id, source_path, digest, state, updated_at)
        SELECT ?, source_path, md5(source_path), 'done', processed_at FROM conversations""", [RUN_ID])
    step("failures", """
        INSERT INTO failures (failure_id, run_id, source_path, source_key, stage, error_type, message, occurred_at,
                              resolved_at)
        SELECT 'f' || k, ?, 'data/warehouse/inputs/broken_' || k || '.json', NULL, 'parse', 'IngestError',
               'broken_' || k || '.json: invalid JSON at line 1. Fix: fix the JSON syntax.',
               TIMESTAMP '2026-01-02 02:00:00' + to_minutes(k),
               CASE WHEN k % 2 = 0 THEN TIMESTAMP '2026-01-02 04:00:00' END
        FROM range(20) r(k)""", [RUN_ID])
    con.execute("UPDATE runs SET failed = (SELECT count(*) FROM failures WHERE resolved_at IS NULL)")
    return timings


def _objection_library_fields(con: duckdb.DuckDBPyConnection) -> int:
    """What the writer stores with each objection note for the objection library
    (:func:`pipeline.scoring.objections.library_fields`), computed as the writer computes it:
    ``g_theme`` (quote → theme) and ``g_masked`` ((text, customer names) → the text as a trainer
    sees it), each distinct quote or (text, names) once, in Python; ``g_names`` holds each
    conversation's customer names as the board reads them (its customer and its customer
    speakers' names; sorted, which masking does not depend on). Returns how many texts were masked."""
    from pipeline.scoring.objections import masked, objection_theme

    con.execute("""CREATE TEMP TABLE g_names AS
                   SELECT conversation_id, list_sort(list(DISTINCT name)) AS names FROM (
                       SELECT conversation_id, customer AS name FROM conversations
                       UNION ALL
                       SELECT conversation_id, speaker_name FROM utterances WHERE speaker_role = 'customer')
                   WHERE name IS NOT NULL AND name <> '' GROUP BY conversation_id""")
    quotes = [row[0] for row in con.execute(
        "SELECT DISTINCT quote FROM g_notes WHERE kind = 'objection' ORDER BY 1").fetchall()]
    con.execute("CREATE TEMP TABLE g_theme AS SELECT unnest(?::VARCHAR[]) AS quote, unnest(?::VARCHAR[]) AS theme",
                [quotes, [objection_theme(quote) for quote in quotes]])
    pairs = con.execute("""SELECT DISTINCT t.text, coalesce(g.names, []::VARCHAR[]) FROM (
                               SELECT conversation_id, quote AS text FROM g_notes WHERE kind = 'objection'
                               UNION ALL
                               SELECT conversation_id, answer FROM g_notes
                               WHERE kind = 'objection' AND answer IS NOT NULL) t
                           LEFT JOIN g_names g ON g.conversation_id = t.conversation_id
                           ORDER BY ALL""").fetchall()
    con.execute("CREATE TEMP TABLE g_masked AS SELECT unnest(?::VARCHAR[]) AS text, unnest(?::VARCHAR[][]) AS names, "
                "unnest(?::VARCHAR[]) AS masked",
                [[text for text, _ in pairs], [names for _, names in pairs],
                 [masked(text, names) for text, names in pairs]])
    return len(pairs)


def plant(con: duckdb.DuckDBPyConnection, phrase: str = PLANTED, every: int = 97) -> int:
    """Put ``phrase`` into utterance 1 of every ``every``-th conversation (by id order); returns
    how many utterances now hold it. For tests: the search must find exactly these."""
    con.execute("""UPDATE utterances SET text = text || ?, text_normalized = text_normalized || ?
                   WHERE utterance_index = 1 AND conversation_id IN (
                       SELECT conversation_id FROM (SELECT conversation_id, row_number() OVER (ORDER BY conversation_id)
                                                    AS k FROM conversations) WHERE k % ? = 0)""",
                [phrase, normalize(phrase), every])
    return con.execute("SELECT count(*) FROM utterances WHERE contains(text, ?)", [phrase]).fetchone()[0]


def publish(db: Path) -> float:
    """Publish the snapshot with the writer's own code (``Store.publish_snapshot``): seconds taken."""
    from pipeline.store.writer import Store

    store = Store(db)
    store._con = duckdb.connect(str(db))  # open without Store.__enter__'s recovery publish: time one copy
    try:
        started = time.perf_counter()
        store.publish_snapshot(force=True)
        return time.perf_counter() - started
    finally:
        store._con.close()
        store._con = None


def build(db: str | Path, conversations: int = 100_000, *, threads: int | None = None, memory_limit: str | None = None,
          planted_every: int | None = None, log=print) -> dict:
    """Build the warehouse at ``db`` (replacing what is there) and publish its snapshot.
    Returns what was built: row counts, seconds per step, file sizes."""
    from pipeline.store import snapshot_path

    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.parent.resolve() == DEFAULT_DB.parent.resolve():
        (db.parent / ".gitignore").write_text("# generated by scripts/make_warehouse.py: never committed\n*\n")
    for path in (db, Path(f"{db}.wal"), snapshot_path(db)):
        path.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
        migrate(con)
        log(f"building {conversations:,} conversations into {db}")
        timings = generate(con, conversations, log=log)
        planted = plant(con, every=planted_every) if planted_every else None
        con.execute("CHECKPOINT")
        counts = {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("conversations", "utterances", "key_events", "event_tree", "node_scores",
                                "conversation_scores", "conversation_metrics", "conversation_notes",
                                "node_score_history", "failures", "run_inputs")}
    finally:
        con.close()
    build_s = time.perf_counter() - started
    log(f"built in {build_s:.1f} s; publishing the snapshot")
    publish_s = publish(db)
    result = {"db": str(db), "conversations": conversations, "build_s": round(build_s, 1),
              "publish_s": round(publish_s, 2), "steps_s": timings, "rows": counts,
              "db_bytes": db.stat().st_size, "snapshot_bytes": snapshot_path(db).stat().st_size}
    if planted is not None:
        result["planted"] = {"phrase": PLANTED, "utterances": planted}
    log(json.dumps({k: v for k, v in result.items() if k != "steps_s"}, ensure_ascii=False))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(DEFAULT_DB), help="the warehouse database to (re)create")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 8GB")
    args = parser.parse_args(argv)
    build(args.db, args.conversations, threads=args.threads, memory_limit=args.memory_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
