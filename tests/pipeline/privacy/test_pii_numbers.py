"""Long numbers (cards, IDs, accounts), spoken digits in Chinese and English, telephone context."""

import pytest

from pipeline.privacy import find_pii, redact


def kinds(text, **kwargs):
    return [span.kind for span in find_pii(text, **kwargs)]


# --- every run of 13–19 digits is masked; Luhn, issuer and ID checks only label it ------------

@pytest.mark.parametrize("text, masked, kind", [
    ("6222020200001234562", "[银行卡]", "bank_card"),  # Luhn + UnionPay prefix
    ("6222020200001234563", "[号码]", "long_number"),  # Luhn fails: still masked
    ("卡号6222020200001234563", "卡号[银行卡]", "bank_card"),  # ... labelled a card by the word before
    ("6222020200001234563 工商银行", "[银行卡] 工商银行", "bank_card"),  # ... or after
    ("对公户 1202 0260 0910 0123 456", "对公户 [银行卡]", "bank_card"),
    ("4222222222222", "[银行卡]", "bank_card"),  # 13-digit Visa
    ("1234567890123", "[号码]", "long_number"),  # 13 digits, no issuer
    ("3782 822463 10005", "[银行卡]", "bank_card"),  # Amex 4-6-5
    ("3056 930902 5904", "[银行卡]", "bank_card"),  # Diners 4-6-4
    ("4111-1111-1111-1111", "[银行卡]", "bank_card"),
    ("6222 0202 0000 1234 563", "[号码]", "long_number"),  # groups of four, Luhn fails
    ("订单号2026030512345674", "订单号[号码]", "long_number"),  # order numbers of 13+ digits are masked too
    ("订单号DD2026030512345678已发货", "订单号DD[号码]已发货", "long_number"),  # also after letters
    ("开户账号11001074600052501234", "开户账号[银行卡]", "bank_card"),  # 20 digits (a CCB account)
    ("六二二二 零二零二 零零零零 一二三四 五六二", "[银行卡]", "bank_card"),  # read out
    ("六二二二零二零二零零零零一二三四五六三", "[号码]", "long_number"),
    ("时间戳 1741234567890", "时间戳 [号码]", "long_number"),  # a millisecond timestamp looks like any other
])
def test_every_long_digit_run_is_masked(text, masked, kind):
    assert redact(text) == masked
    assert kind in kinds(text)


@pytest.mark.parametrize("text", [
    "订单号202603051234 已发货",  # 12 digits
    "对比一下2026 2025 2024 2023四年的数据",  # years side by side, not a number in fours
    "年营收13,800,000,000元",  # commas: an amount
    "总额13800000000元",  # 11 digits and a unit
    "978 7115 4285 63",  # groups that are not fours (an ISBN)
    "订单号20260305-0018",
    "我们2026年签了1380单 回款12800000元",
])
def test_shorter_or_differently_grouped_numbers_stay(text):
    assert redact(text) == text


def test_long_number_placeholder_in_english():
    assert redact("Order 2026030512345674 shipped", lang="en") == "Order [NUMBER] shipped"
    assert redact("Card 4111 1111 1111 1111 exp 09/28", lang="en") == "Card [CARD] exp 09/28"


# --- resident IDs: what gates, what labels -----------------------------------------------------

@pytest.mark.parametrize("text, kind", [
    ("440304199003074537", "id_card"),  # checksum fits
    ("440304199003074538", "id_card"),  # a misread digit: checksum fails, province and date real
    ("990304199003074534", "id_card"),  # unknown province, checksum fits
    ("990304199003074535", "long_number"),  # neither: still masked (18 digits), not called an ID
    ("440304199013074530", "long_number"),  # checksum fits but month 13: the checksum alone is no gate
    ("440304290003074531", "long_number"),  # born in 2900
    ("11010519491231002X", "id_card"),
    ("11010519491231002x", "id_card"),
    ("12345619901307453X", "long_number"),  # X but no date of birth: masked, not an ID
])
def test_id_labels(text, kind):
    assert kinds(text) == [kind]


@pytest.mark.parametrize("text, masked", [
    ("440304 19900307 4537", "[身份证]"),  # 6-8-4: not in fours, gated by the date of birth
    ("440304 19900307 4538", "[身份证]"),  # ... whatever the checksum
    ("610113 1991 0718 2644", "[身份证]"),
    ("440304 19901307 4530", "440304 19901307 4530"),  # no real date, not in fours: not an ID
    ("五零零一零三 一九八九零二二一 四七四五", "[身份证]"),
    ("身份证 5101 0719 8806 3033 90", "身份证 [身份证]"),  # in fours: a long number, labelled an ID
])
def test_ids_in_other_groupings(text, masked):
    assert redact(text) == masked


# --- Chinese spoken digits --------------------------------------------------------------------

@pytest.mark.parametrize("text, masked", [
    ("幺三八幺二三四五六七八", "[手机号]"),  # 幺 for 1
    ("一五九两两三四洞洞幺八", "[手机号]"),  # 两 for 2, 洞 for 0
    ("幺三八 幺二三四 五六拐八", "[手机号]"),  # 拐 for 7
    ("幺三勾 幺二三四 五六七八", "[手机号]"),  # 勾 for 9
    ("138幺二三四5678", "[手机号]"),  # mixed with numerals
    ("一五八，零零三三，六二一九", "[手机号]"),  # Chinese commas between the groups
    ("零二一 六八八八 八八八八", "[电话]"),
    ("六八八八 八八八八", "[电话]"),  # a local number read out: only phone numbers are read that way
    ("往左拐三百米就到", "往左拐三百米就到"),  # 拐 as a word
    ("打勾一下就行", "打勾一下就行"),
    ("一二三四五六七八九十大家跟我数", "一二三四五六七八九十大家跟我数"),  # counting
    ("二零二六 二零二五 二零二四", "二零二六 二零二五 二零二四"),  # years
    ("一九九八二零零五年", "一九九八二零零五年"),
    ("价格九千八 三万六 一百二十八万", "价格九千八 三万六 一百二十八万"),
])
def test_chinese_spoken_digits(text, masked):
    assert redact(text) == masked


# --- English spoken digits --------------------------------------------------------------------

@pytest.mark.parametrize("text, masked", [
    ("my number is five five five, one two three, four five six seven", "my number is [PHONE]"),
    ("it's four one five, five five five, oh one three two", "it's [PHONE]"),  # oh for zero
    ("double five double two, one three four seven", "[PHONE]"),
    ("five one oh, five five five, triple two nine", "[PHONE]"),
    ("call me at 415 five five five 0100", "call me at [PHONE]"),  # mixed with numerals
    ("Five-five-five, one-two-three-four", "[PHONE]"),
    ("Oh, five five five, one two three four", "Oh, [PHONE]"),  # an exclamation, not a zero
    ("one three eight one two three four five six seven eight", "[PHONE]"),  # a Chinese mobile in English
    ("four one one one, one one one one, one one one one, one one one one", "[CARD]"),
])
def test_english_spoken_digits(text, masked):
    assert redact(text, lang="en") == masked


def test_english_spoken_digits_hash_like_their_numerals():
    spoken = redact("one three eight one two three four five six seven eight", mode="hash")
    assert spoken == redact("138-1234-5678", mode="hash")
    assert redact("four one five, five five five, oh one oh oh", mode="hash") == redact("(415) 555-0100", mode="hash")


@pytest.mark.parametrize("text", [
    "one two three four five six seven",  # counting
    "Five, four, three, two, one, go!",
    "We need about five or six seats, maybe seven.",
    "seven seven seven, eight eight eight",  # six digits: too short for a phone number
    "we sold 4,500,000 units, one two three",
    "It is five o'clock, one two three four",
    "I have one one-on-one with two two-person teams",
    "Give me one second, I'll check.",
    "oh oh seven is my favourite film",
])
def test_english_words_that_are_not_numbers_read_out(text):
    assert find_pii(text) == []


# --- telephone words ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, masked", [
    ("电话 6257 8819 找一下行政", "电话 [电话] 找一下行政"),  # local number without area code
    ("我手机号是1381294706 少了一位", "我手机号是[电话] 少了一位"),  # a digit lost by ASR
    ("Call me at 555-0148 after lunch", "Call me at [PHONE] after lunch"),
    ("Can you call me back on 07700 900461", "Can you call me back on [PHONE]"),
    ("my cell number is 7185550123", "my cell number is [PHONE]"),
])
def test_numbers_after_telephone_words(text, masked):
    assert redact(text, lang="auto") == masked


@pytest.mark.parametrize("text", [
    "发票号码是04428915",  # 号码 after 发票
    "您的订单号码是 202603051288",
    "电话 20260305那天打的",  # a date
    "我电话里跟您说的那个价格是12800",
    "手机 1280000元",  # an amount
    "电话会议定在周四上午十点",
    "我们的客服电话是九五五八八",  # five digits: a service number
    "Phone sales grew 1,250,000 last year",
    "call me at 3:30",
])
def test_telephone_words_without_a_phone_number(text):
    assert find_pii(text) == []


def test_a_phone_guess_never_overrides_a_structural_finding():
    # 两 after the number is a digit, but the mobile number is the finding, not a 12-digit "phone"
    assert find_pii("幺三八 幺二三四 五六七八 两点以后打")[0].kind == "mobile"
    assert redact("幺三八 幺二三四 五六七八 两点以后打") == "[手机号] 两点以后打"


@pytest.mark.parametrize("text, masked", [
    ("QQ号1583629470加我", "QQ号[QQ号]加我"),
    ("我扣扣是 二七六五四三八九一", "我扣扣是 [QQ号]"),
    ("QQ群 12345678", "QQ群 12345678"),  # a group, not a person
    ("12345678@qq.com", "[邮箱]"),
])
def test_qq(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("我的手機是 0912-345-678", "我的手機是 [手机号]"),  # Taiwanese mobile
    ("總機 (02) 2758-3366 轉 315", "總機 [电话] 轉 315"),  # Taiwanese landline
    ("請打 04-2358-1122", "請打 [电话]"),
])
def test_taiwanese_numbers(text, masked):
    assert redact(text) == masked


# --- e-mail read out, English addresses ---------------------------------------------------------

@pytest.mark.parametrize("text, masked", [
    ("我的邮箱 zhangsan 艾特 qq 点 com", "我的邮箱 [邮箱]"),
    ("邮箱是wangfang艾特163点com", "邮箱是[邮箱]"),
    ("It's sarah at northwind dot io", "It's [EMAIL]"),
    ("you can write to priya dot patel at initech dot com", "you can write to [EMAIL]"),
    ("It's m underscore garcia at outlook dot com", "It's [EMAIL]"),
    ("Look at acme dot com for the case studies.", "Look at acme dot com for the case studies."),  # a website
    ("Check out our site at northwind.io", "Check out our site at northwind.io"),
])
def test_spoken_email(text, masked):
    assert redact(text, lang="auto") == masked


def test_spoken_email_hashes_like_the_written_one():
    assert redact("sarah dot chen at acme dot io", mode="hash") == redact("Sarah.Chen@acme.io", mode="hash")


@pytest.mark.parametrize("text, masked", [
    ("Ship it to 500 Howard Street, Suite 300, San Francisco, CA 94105", "Ship it to [ADDRESS]"),
    ("We're at 1600 Amphitheatre Parkway now", "We're at [ADDRESS] now"),
    ("send the samples to 45 West 34th Street, New York", "send the samples to [ADDRESS]"),
    ("88 Harbor St, suite 300", "[ADDRESS]"),
    ("12 Main Street, unit of measure", "[ADDRESS], unit of measure"),
    ("we shipped 40 units down the road", "we shipped 40 units down the road"),
    ("Room 402 is booked", "Room 402 is booked"),
])
def test_english_address(text, masked):
    assert redact(text, lang="en") == masked


@pytest.mark.parametrize("text, masked", [
    ("住在朝阳区望京西路48号院3号楼2单元1102", "住在[地址]"),
    ("房子在滨江花园7栋1203", "房子在[地址]"),
    ("园区租了3栋2000平的厂房", "园区租了3栋2000平的厂房"),  # a quantity, not a room
    ("发票寄到广州市天河区天河北路233号中信广场5801", "发票寄到[地址]"),
    ("到成都市高新区天府大道中段1268号 天府软件园", "到[地址] 天府软件园"),
    ("我们搬到了南山区粤海街道高新南九道10号", "我们搬到了[地址]"),
    ("我知道3号要交", "我知道3号要交"),
    ("这个渠道2号开始投放", "这个渠道2号开始投放"),
])
def test_more_chinese_addresses(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("加微信吧 我的是 zhoujie_1986", "加微信吧 我的是 [微信]"),
    ("add me on WeChat, my ID is mike_sh_2024", "add me on WeChat, my ID is [WECHAT]"),
    ("加微信吧 thanks", "加微信吧 thanks"),
])
def test_more_wechat(text, masked):
    assert redact(text, lang="auto") == masked


@pytest.mark.parametrize("text, masked", [
    ("上海闵行莘庄 春申路88弄 露露收", "上海闵行莘庄 [地址] 露露收"),  # a lane ends the address
    ("信義路五段150巷22弄3號", "[地址]"),
    ("我们弄3个", "我们弄3个"),
])
def test_lanes(text, masked):
    assert redact(text) == masked
