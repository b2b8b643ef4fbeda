"""Personal-data detection and redaction (pipeline/privacy/redact.py)."""

import hashlib

import pytest

from pipeline.privacy import REDACTION_MODES, Span, find_pii, redact
from pipeline.privacy.redact import KINDS, PLACEHOLDERS, PLACEHOLDERS_EN


def token(kind: str, value: str, salt: str = "") -> str:
    """The hash-mode token, computed the way the module documents it."""
    return f"[{kind}:{hashlib.sha256((salt + value).encode()).hexdigest()[:8]}]"


@pytest.mark.parametrize("text, masked", [
    # Arabic digits, spaced, dashed, with the country code in each spelling
    ("我手机号是13812345678", "我手机号是[手机号]"),
    ("电话 138 1234 5678 明天打", "电话 [手机号] 明天打"),
    ("138-1234-5678", "[手机号]"),
    ("1381 234 5678", "[手机号]"),
    ("+86 138 1234 5678", "[手机号]"),
    ("+86-138-1234-5678", "[手机号]"),
    ("+8613812345678", "[手机号]"),
    ("008613812345678", "[手机号]"),
    ("86 13912345678", "[手机号]"),
    ("ＴＥＬ：１３８１２３４５６７８", "ＴＥＬ：[手机号]"),  # full-width digits
    # spoken digits: 幺 for 1, 两 for 2, 洞/零 for 0, spaces between groups, mixed with Arabic
    ("我电话一三八一二三四五六七八你记一下", "我电话[手机号]你记一下"),
    ("号码幺三八 幺二三四 五六七八", "号码[手机号]"),
    ("幺五九两两三四洞洞幺八", "[手机号]"),
    ("一八六零零一二三四五六", "[手机号]"),
    ("138一二三四5678", "[手机号]"),
    ("号码是一三八 1234 五六七八", "号码是[手机号]"),
    # ASR without punctuation: the number runs into the next word, even one starting with 一
    ("你打我电话13812345678我一直在", "你打我电话[手机号]我一直在"),
    ("号码是一三八一二三四五六七八一下就能加上", "号码是[手机号]一下就能加上"),
    ("微信同手机号15900001111加的时候备注公司", "微信同手机号[手机号]加的时候备注公司"),
    # Traditional script around the number
    ("我的手機號碼是 138 1234 5678 謝謝", "我的手機號碼是 [手机号] 謝謝"),
    ("請撥一三八一二三四五六七八聯繫陳經理", "請撥[手机号]聯繫陳經理"),
    # next to another number
    ("2026 13812345678", "2026 [手机号]"),
    ("138 1234 5678 3点以后打", "[手机号] 3点以后打"),
])
def test_mobile(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("座机010-12345678", "座机[电话]"),
    ("座机(010)12345678", "座机[电话]"),
    ("座机（010）12345678", "座机[电话]"),
    ("021 1234 5678", "[电话]"),
    ("02168886666", "[电话]"),
    ("0755-26781234转801", "[电话]转801"),
    ("0571 8765 4321找前台", "[电话]找前台"),
    ("+86 10 1234 5678", "[电话]"),
    ("零二一 六八八八 八八八八", "[电话]"),
    ("客服热线400-820-8820", "客服热线[电话]"),
    ("4008208820", "[电话]"),
    ("800 810 8888", "[电话]"),
    ("客服電話四零零八二零八八二零", "客服電話[电话]"),
])
def test_landline(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("Call me at +1 415 555 0100 tomorrow", "Call me at [电话] tomorrow"),
    ("Office: (415) 555-0100", "Office: [电话]"),
    ("my cell is 415-555-0100.", "my cell is [电话]."),
    ("1-415-555-0100", "[电话]"),
    ("+1 (415) 555-0100", "[电话]"),
    ("+14155550100", "[电话]"),
    ("UK office +44 20 7946 0958", "UK office [电话]"),
    ("香港同事 +852 2345 6789", "香港同事 [电话]"),
    ("00852 2345 6789", "[电话]"),
    ("toll-free +1 800 555 0199", "toll-free [电话]"),
    ("Tokyo +81 3-1234-5678", "Tokyo [电话]"),
])
def test_us_and_international_phone(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, kinds", [
    ("+1 415 555 0100", ["us_phone"]),
    ("+44 20 7946 0958", ["intl_phone"]),
    ("+86 138 1234 5678", ["mobile"]),
    ("400-820-8820", ["landline"]),  # 400 numbers look North American: the Chinese reading wins
    ("1 415 555 0100", ["us_phone"]),  # 14155550100 would fit a Chinese mobile, the grouping does not
])
def test_phone_kinds(text, kinds):
    assert [span.kind for span in find_pii(text)] == kinds


@pytest.mark.parametrize("text, masked", [
    ("身份证11010519491231002X", "身份证[身份证]"),  # valid checksum, X as check character
    ("身份证号 11010519491231002x 谢谢", "身份证号 [身份证] 谢谢"),
    ("证件号码440304199003074537", "证件号码[身份证]"),  # valid checksum
    ("440304 19900307 4537", "[身份证]"),  # spaced
    ("证件号码440304199003074538", "证件号码[身份证]"),  # checksum fails, date and province valid: a misread
    ("990304199003074534", "[身份证]"),  # unknown province, but the checksum holds
    # Every run of 13+ digits is masked; these are not IDs, so they get the generic label.
    ("990304199003074535", "[号码]"),  # unknown province and a failing checksum
    ("123456789012345678", "[号码]"),  # random 18 digits: no date of birth in it
    ("440304199013074530", "[号码]"),  # checksum holds, but month 13
    ("身份證四四零三零四一九九零零三零七四五三七", "身份證[身份证]"),  # read out in Chinese digits
])
def test_id_card(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("卡号6222020200001234562", "卡号[银行卡]"),  # 19 digits, Luhn valid
    ("卡号 6222 0202 0000 1234 562 开户行招行", "卡号 [银行卡] 开户行招行"),
    ("6217 0013 8123 4560", "[银行卡]"),  # 16 digits in fours
    ("4111 1111 1111 1111", "[银行卡]"),
    ("4111-1111-1111-1111", "[银行卡]"),
    # Luhn only labels: every run of 13–19 digits is masked.
    ("卡号6222020200001234563", "卡号[银行卡]"),  # Luhn fails, but 卡号 says what it is
    ("4111 1111 1111 1112", "[号码]"),  # Luhn fails, nothing says "card"
    ("订单号2026030512345674", "订单号[号码]"),  # Luhn holds, but a year is no card issuer
])
def test_bank_card(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("邮箱 zhang.san@qq.com 谢谢", "邮箱 [邮箱] 谢谢"),
    ("发到zhangsan@acme.com.cn就行", "发到[邮箱]就行"),
    ("13812345678@163.com", "[邮箱]"),  # the whole address, not the phone inside it
    ("Email me at Sarah.Chen+crm@acme-corp.io.", "Email me at [邮箱]."),
    ("郵箱：li_jianguo@example.com.tw", "郵箱：[邮箱]"),
])
def test_email(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("加我微信zhang_san88", "加我微信[微信]"),
    ("我的微信号是 zhangsan", "我的微信号是 [微信]"),
    ("微信號：Chen-Wei2024", "微信號：[微信]"),
    ("WeChat ID: alice_w88", "WeChat ID: [微信]"),
    ("my wechat is alice_w88 ok", "my wechat is [微信] ok"),
    ("加我vx zs2024abc", "加我vx [微信]"),
    ("wx:sales_lee01", "wx:[微信]"),
    ("加微信 thanks", "加微信 thanks"),  # no 号/ID/是 and only letters: an English word
    ("WeChat is awesome", "WeChat is awesome"),
    ("微信号是abc", "微信号是abc"),  # too short for a WeChat ID
    ("微信聊吧", "微信聊吧"),
])
def test_wechat(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("我们公司在上海市浦东新区张江路88号3栋1201室你过来的时候给我打电话",
     "我们公司在[地址]你过来的时候给我打电话"),
    ("地址是北京市朝阳区建国路88号", "地址是[地址]"),
    ("广东省深圳市南山区深南大道9988号", "[地址]"),
    ("浙江省杭州市余杭区五常街道文一西路969号", "[地址]"),
    ("收货地址：成都市武侯区人民南路四段1号", "收货地址：[地址]"),
    ("苏州工业园区星湖街328号", "[地址]"),
    ("住在万科城市花园5栋2单元301", "住在[地址]"),
    ("3栋1201室", "[地址]"),
    ("送到张江路八十八号三栋一二零一室", "送到[地址]"),
    ("上海市 浦东新区 张江路 88 号", "[地址]"),
    ("好 明天中午十二点 育才路二十三号院门口", "好 明天中午十二点 [地址]院门口"),  # ASR: a space ends the words before
    ("仓库在长江路88号二楼", "仓库在[地址]"),
    ("发到长乐路100弄5号就行", "发到[地址]就行"),
    ("我們公司在台北市信義區信義路五段7號", "我們公司在[地址]"),
    ("黑龙江省哈尔滨市南岗区西大直街92号", "[地址]"),
    ("花园路5号", "[地址]"),  # 花园 inside the road's name
    ("深圳市南山区科技园南区深南大道9988号华润大厦A座1201室", "[地址]"),
    ("我们在陆家嘴环路1000号恒生银行大厦", "我们在[地址]恒生银行大厦"),  # a building name only with a unit after it
])
def test_address(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, names, masked", [
    ("李总您好，李建国先生说李总监同意了", ["李建国"], "[姓名]您好，[姓名]先生说[姓名]同意了"),
    ("李先生李女士李老师李姐李哥李经理李总经理", ["李建国"], "[姓名]" * 7),
    ("李建國說下週簽", ["李建国"], "[姓名]說下週簽"),  # the name in Traditional script
    ("李總說下週簽", ["李建国"], "[姓名]說下週簽"),
    ("欧阳总和欧总不是一个人", ["欧阳娜娜"], "[姓名]和欧总不是一个人"),  # compound surname
    ("李总是我们的老客户", ["李建国"], "[姓名]是我们的老客户"),
    ("李总和王总都在", ["李建国"], "[姓名]和王总都在"),
    ("提高总体效率", ["高明"], "提高总体效率"),  # 高总 begins an ordinary word here
    ("王总您好", ["李建国"], "王总您好"),  # another surname
    ("李", ["李"], "李"),  # one character would mask every 李
    ("Hi, this is Sarah Chen from Acme", ["Sarah Chen"], "Hi, this is [姓名] from Acme"),
    ("thanks mr. chen, and SARAH CHEN agrees", ["Sarah Chen"], "thanks [姓名], and [姓名] agrees"),
    ("Chenery is a town", ["Sarah Chen"], "Chenery is a town"),
    ("我们跟陈经理约了周三", ["陈伟"], "我们跟[姓名]约了周三"),
    ("李总", [], "李总"),  # no names given: no names found
    ("李总好", "李建国", "[姓名]好"),  # a lone string is one name
])
def test_names(text, names, masked):
    assert redact(text, names=names) == masked


def test_find_pii_spans():
    text = "李总电话13812345678邮箱li@acme.cn住张江路88号"
    assert find_pii(text, names=["李建国"]) == [
        Span(0, 2, "person_name", "李总"),
        Span(4, 15, "mobile", "13812345678"),
        Span(17, 27, "email", "li@acme.cn"),
        Span(28, 34, "address", "张江路88号"),
    ]


def test_find_pii_spans_keep_separators_and_prefix():
    assert find_pii("请拨 +86 138-1234-5678。") == [Span(3, 20, "mobile", "+86 138-1234-5678")]


def test_longest_span_wins():
    # the mobile number is the local part of the e-mail address: one span, the e-mail
    assert find_pii("13812345678@163.com") == [Span(0, 19, "email", "13812345678@163.com")]


def test_every_kind_has_a_placeholder():
    assert set(KINDS) == set(PLACEHOLDERS) == set(PLACEHOLDERS_EN) == {
        "mobile", "landline", "id_card", "bank_card", "email", "wechat_id", "qq", "person_name", "address",
        "us_phone", "intl_phone", "phone", "long_number"}
    assert set(PLACEHOLDERS.values()) == {"[手机号]", "[电话]", "[身份证]", "[银行卡]", "[邮箱]", "[微信]", "[QQ号]",
                                          "[姓名]", "[地址]", "[号码]"}
    assert set(PLACEHOLDERS_EN.values()) == {"[PHONE]", "[ID]", "[CARD]", "[EMAIL]", "[WECHAT]", "[QQ]", "[NAME]",
                                             "[ADDRESS]", "[NUMBER]"}


def test_mask_mode_in_english_text_uses_the_same_placeholders_by_default():
    assert redact("Reach Sarah Chen at sarah@acme.io or +1 415 555 0100", names=["Sarah Chen"]) == \
        "Reach [姓名] at [邮箱] or [电话]"


@pytest.mark.parametrize("text", [
    "138-1234-5678", "13812345678", "138 1234 5678", "+86 138 1234 5678", "0086-13812345678",
    "一三八一二三四五六七八", "幺三八 幺二三四 五六七八", "138一二三四5678", "１３８１２３４５６７８",
])
def test_hash_is_the_same_for_every_spelling_of_a_number(text):
    assert redact(text, mode="hash") == token("mobile", "13812345678")


@pytest.mark.parametrize("text, hashed", [
    ("座机010-12345678", "座机" + token("landline", "01012345678")),
    ("+86 10 1234 5678", token("landline", "01012345678")),
    ("(415) 555-0100", token("us_phone", "4155550100")),
    ("+1 415 555 0100", token("us_phone", "4155550100")),
    ("+44 20 7946 0958", token("intl_phone", "+442079460958")),
    ("身份证11010519491231002x", "身份证" + token("id_card", "11010519491231002X")),
    ("6222 0202 0000 1234 562", token("bank_card", "6222020200001234562")),
    ("Li@ACME.cn", token("email", "li@acme.cn")),
    ("微信号 Zhang_San88", "微信号 " + token("wechat_id", "zhang_san88")),
    ("上海市 浦东新区 张江路88号", token("address", "上海市浦东新区张江路88号")),
])
def test_hash_values(text, hashed):
    assert redact(text, mode="hash") == hashed


def test_hash_links_title_forms_to_the_name():
    name = token("person_name", "李建国")
    assert redact("李总说李建国和李先生是一个人", mode="hash", names=["李建国"]) == f"{name}说{name}和{name}是一个人"
    # the CRM's spelling of the name does not change the token
    assert redact("李總說", mode="hash", names=["李建國"]) == f"{name}說"
    assert redact("thanks Ms. Chen", mode="hash", names=["Sarah Chen"]) == "thanks " + token("person_name", "sarah chen")


def test_hash_is_stable_across_calls_and_conversations():
    first = redact("客户A：13812345678", mode="hash", salt="s3cret")
    second = redact("客户B的电话是一三八一二三四五六七八", mode="hash", salt="s3cret")
    assert first == "客户A：" + token("mobile", "13812345678", salt="s3cret")
    assert second == "客户B的电话是" + token("mobile", "13812345678", salt="s3cret")
    assert redact("客户A：13812345678", mode="hash", salt="s3cret") == first


def test_hash_depends_on_the_salt():
    assert redact("13812345678", mode="hash", salt="a") != redact("13812345678", mode="hash", salt="b")


def test_off_mode_returns_the_text_unchanged():
    text = "李总电话13812345678"
    assert redact(text, mode="off", names=["李建国"]) is text


def test_unknown_mode():
    with pytest.raises(ValueError, match="'blur'.*off, mask, hash"):
        redact("13812345678", mode="blur")


def test_modes():
    assert REDACTION_MODES == ("off", "mask", "hash")


# Business numbers: prices, headcounts, dates, times, percentages, model and order numbers,
# quantities and durations. Masking any of them would make the conversation unreadable.
BUSINESS_SENTENCES = [
    "这个套餐一年三万六，比去年便宜",
    "标准版九千八一年，专业版一万二",
    "合同金额12800元，首付30%",
    "我们团队八十个人，明年扩到一百五",
    "2026年3月5日下午三点开会",
    "下午三点半给您回电话",
    "续费率提升了35%，转化率12.5%",
    "订单号20260305，预计3到5个工作日发货",
    "我们用的是RTX4090，想升级到H100",
    "系统版本是v2.3.1，下周升级到3.0",
    "去年营收一点二亿，今年目标两个亿",
    "打九折的话是11520元",
    "试用期14天，之后按每人每月99元收费",
    "会议定在周三上午10:30到11:45",
    "我们2019年成立，现在有3个分公司",
    "首批采购500台，单价1380元",
    "预算大概在15到20万之间",
    "一共三百二十个坐席，每个坐席一年两千四",
    "年营收13,800,000,000元",
    "总额13800000000元",
    "我们在上海和北京都有办公室",
    "我们在上海市浦东新区有个团队",
    "地铁2号线张江站出来走五分钟",
    "这套房子3室2厅，120平",
    "一栋三室两厅的样板间",
    "园区有两栋三层的厂房",
    "我们在5号楼开会",
    "中山路上有3家店",
    "这条路3号开通",
    "按这个思路3号前定下来",
    "合同编号HT-2026-0315-001",
    "上线后客服响应时间从45秒降到12秒",
    "第二期款项在6月30号之前付清",
    "报价单发您了总价一百三十八万",
    "我们有138家门店覆盖全国31个省",
    "一年下来能省大概二三十万",
    "下周一到周五9点到18点都可以",
    "对比一下2026 2025 2024三年的数据",
    "每个月1500分钟通话超出部分0.12元每分钟",
    "账期三十天逾期按万分之五计息",
    "一二三四五六七八九十大家跟我数",
    "这个方案一年三萬六，團隊八十個人，下週三簽約",
    "一年三万六的话我们八十个人大概要签三年总共一百万出头",
    "价格是九千八一年然后三月五号开始用",
    "数据截至2026.03.05，同比增长百分之二十",
    "The annual plan is $12,800 for 50 seats",
    "We grew 35% year over year since 2019",
    "Let's meet on March 5, 2026 at 3:30 pm",
    "Version 2.3.1 ships next quarter, Q3 2026",
    "Our team runs on 120 RTX 4090 cards",
    "A 15% discount brings it to 10,880 per year",
    "The pilot lasts 30 days and covers 250 users",
    "Order 4471-2290 shipped on 2026-03-05",
    "We processed 1,250,000 calls in 2025",
    "Call scheduled for 10:00-11:30 tomorrow",
    "Timestamp 1741234567 in the export",
    "Account tier 3, about 13812 seats across 138 offices",
    "评分分别是 1 5 3 8 2 6 4 9 7 1 0 分",
    "第2 3 4 5 6 7 8 9 10 11 12 13页都改了",
    "坐49路2号门下车",
    "拨打10086或者95588都行",
    "我们主要做华东地区，江苏省和浙江省都有客户",
    "到时候在张江路那边见",
    "我们这边是一八年成立的",
]


@pytest.mark.parametrize("text", BUSINESS_SENTENCES)
def test_business_numbers_are_left_alone(text):
    assert find_pii(text, names=["李建国"]) == []
    assert redact(text, names=["李建国"]) == text


def test_there_are_enough_business_sentences():
    assert len(BUSINESS_SENTENCES) >= 30
