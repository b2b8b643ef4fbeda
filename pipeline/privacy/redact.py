"""Personal data in conversation text: find it, then mask it or replace it with a stable token.

This module is the one place that decides what counts as personal data. Trainers browse every
team's conversations on the review board with it masked, and a later stage redacts before
storing; both call :func:`redact`.

Text is Mandarin first, English second, and often ASR output: no punctuation, digits written as
Chinese characters (一三八…, 幺 for 1, 洞/零/〇 for 0, 两 for 2), numbers running into the
next word. Precision matters as much as recall: a trainer cannot review a price objection whose
price was masked, so every number is checked against the structure of the thing it would be
(mobile prefix, area code, ID date of birth and checksum, Luhn) instead of masking digit runs.

Kinds (:data:`KINDS`): ``mobile`` (1[3-9] + 9 digits, optional +86/0086/86), ``landline``
(0 + area code + local number, 400/800 numbers), ``id_card`` (18-character resident ID),
``bank_card`` (16–19 digits, Luhn and an issuer prefix), ``email``, ``wechat_id`` (only after
微信/微信号/vx/wx/WeChat), ``person_name`` (only names the caller passes), ``address`` (a road
with a house number, or a building with a unit or room, with the places before it),
``us_phone`` (North American numbers in their usual layouts) and ``intl_phone`` (any other
number written with + or 00 and a country code).

How numbers are found: a *chunk* is a run of digit *groups* joined by a space, a dash or a dot
("138 1234 5678", "(010)12345678", "+1 415 555 0100"). Every run of consecutive groups of a
chunk is tried against every numeric kind, so a number next to another number ("2026 138…")
is still found, while digits inside a longer unbroken run (an order number) never are.

Not found, on purpose or not yet: 15-digit first-generation IDs, passports, QQ numbers, licence
plates; local numbers without an area code (Hong Kong, Taiwan, US seven-digit); digit groups
split by commas; spoken 拐 (7) and 勾 (9); addresses without a house number, unit or room
(滨江花园7栋, 上海市浦东新区); English street addresses; names nobody passed in.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from pipeline.text import has_cjk

REDACTION_MODES: tuple[str, ...] = ("off", "mask", "hash")

# Mask placeholders are the same whatever the language of the text: the board is Chinese-first,
# and one fixed vocabulary lets later code (and readers) recognise a masked span anywhere.
# Every telephone kind shares one placeholder: the board reader needs "a number was here",
# not which numbering plan it followed. They have the shape of WeChat sticker codes ([微笑]), so
# pipeline.text.normalize drops them: masked text is tagged like text without the data.
PLACEHOLDERS: dict[str, str] = {
    "mobile": "[手机号]",
    "landline": "[电话]",
    "id_card": "[身份证]",
    "bank_card": "[银行卡]",
    "email": "[邮箱]",
    "wechat_id": "[微信]",
    "person_name": "[姓名]",
    "address": "[地址]",
    "us_phone": "[电话]",
    "intl_phone": "[电话]",
}
#: Every kind :func:`find_pii` reports. The order breaks ties between equally long spans
#: ("400-820-8820" is a Chinese service number before it is a North American one).
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)


@dataclass(frozen=True)
class Span:
    """One piece of personal data: ``text[start:end]`` is ``text``, of kind ``kind``."""

    start: int
    end: int
    kind: str
    text: str


@dataclass(frozen=True)
class _Hit:
    """A span with its normalised value: what ``hash`` mode hashes, so that one number written
    two ways ("138-1234-5678", "一三八一二三四五六七八") gets one token."""

    span: Span
    value: str


# --- numbers -------------------------------------------------------------------------------

# Spoken digits as ASR writes them. 幺 (1), 洞 (0) and 两 (2) are how people read out phone
# numbers; 兩 is the Traditional 两.
_CHINESE_DIGITS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "兩": "2",
                   "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
# 一 also starts everyday words, and ASR runs a spoken number into the next one ("…五六七八一下"):
# 一 followed by one of these is a word, not a twelfth digit.
_DIGIT = r"(?:[0-9０-９零〇洞幺二两兩三四五六七八九]|一(?![下个個定起样樣些直般共边邊次点點]))"
# Possessive, so a group never backtracks to a shorter digit run to fit what follows.
# A trailing X is the check character of a resident ID.
_GROUP = rf"[(（]?(?:{_DIGIT})++(?:[Xx](?![A-Za-z0-9_]))?[)）]?"
_SEPARATOR = r"(?:[ \t\u00a0\u3000]{1,2}|[ \u3000]?[-‐‑–—－.．][ \u3000]?)?"
# Digits right after a Latin letter are a model or order code (RTX4090, DD2026…), never a number
# of a person; a currency sign makes it an amount.
_CHUNK = re.compile(rf"(?<![A-Za-z0-9０-９_¥￥$€£])(?P<plus>[+＋] ?)?{_GROUP}(?:{_SEPARATOR}{_GROUP})*")
_GROUP_RE = re.compile(_GROUP)
# A number followed by a unit is an amount ("13800000000元"), whatever its digits look like.
_UNIT_AFTER = re.compile(r"\s?(?:[元块塊万萬亿億%％倍]|美元|rmb|yuan|usd)", re.IGNORECASE)
# The longest number any kind accepts (a 19-digit card, a 15-digit E.164 number plus prefix).
_MAX_DIGITS = 20

_PROVINCE_CODES = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35",
                             "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
                             "61", "62", "63", "64", "65", "71", "81", "82", "83"})
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class _Digits:
    """A run of consecutive groups of one chunk, as the numeric kinds see it."""

    digits: str  # Arabic digits (and a final X), separators and brackets removed
    sizes: tuple[int, ...]  # digits per group: "138 1234 5678" → (3, 4, 4)
    plus: bool  # written with a leading + (or ＋)

    @property
    def well_grouped(self) -> bool:
        """Written the way people write one number: groups of three or more digits after a
        country or area code (+86 10 1234 5678). A list of small numbers ("2 3 4 5 … 12 13",
        scores "1 5 3 8 …") is not one number, whatever its digits."""
        return all(size >= 3 for size in self.sizes[2:])


def _digit_value(char: str) -> str:
    return _CHINESE_DIGITS.get(char) or str(unicodedata.decimal(char, "")) or char.upper()


def _to_digits(group_text: str) -> str:
    return "".join(_digit_value(char) for char in group_text if char not in "()（）")


def _mobile(number: _Digits) -> str | None:
    found = re.fullmatch(r"(?:0086|86)?(1[3-9]\d{9})", number.digits)
    if not found or not number.well_grouped or (number.plus and not number.digits.startswith("86")):
        return None
    # "1 415 555 0100" is a North American number whose area code happens to fit 1[3-9].
    if number.sizes == (1, 3, 3, 4):
        return None
    return found.group(1)


def _landline(number: _Digits) -> str | None:
    digits = number.digits
    if not number.well_grouped:
        return None
    international = number.plus or digits.startswith("0086") or (number.sizes[0] == 2 and digits.startswith("86"))
    if international:
        # +86 10 1234 5678 drops the trunk 0; put it back so both spellings normalise alike.
        if not digits.startswith(("86", "0086")):
            return None
        national = digits.removeprefix("00").removeprefix("86")
        digits = national if national.startswith("0") else "0" + national
    elif re.fullmatch(r"[48]00\d{7}", digits):
        return digits
    # Area codes: 010 and 02x have 3 digits, the others 4. Local numbers never start with 0
    # (nor, in real life, 1, but examples and test data write 010-12345678).
    if re.fullmatch(r"0(?:10|2\d)[1-9]\d{7}|0[3-9]\d\d[1-9]\d{6,7}", digits):
        return digits
    return None


def _us_phone(number: _Digits) -> str | None:
    digits, sizes = number.digits, number.sizes
    if number.plus:
        ok = digits.startswith("1") and sizes in ((1, 3, 3, 4), (1, 10), (11,))
    else:
        # Unformatted ten-digit runs are order numbers as often as phones: demand the layout.
        ok = sizes == (3, 3, 4) or (sizes == (1, 3, 3, 4) and digits.startswith("1"))
    rest = digits[-10:]
    if ok and re.fullmatch(r"[2-9]\d\d[2-9]\d{6}", rest):
        return rest
    return None


def _intl_phone(number: _Digits) -> str | None:
    digits = number.digits
    if not number.plus:
        # 00 is the international call prefix outside North America ("00852 2345 6789").
        if not (digits.startswith("00") and number.sizes[0] >= 3):
            return None
        digits = digits[2:]
    # +86 and +1 belong to the kinds above; E.164 numbers have at most 15 digits.
    if digits.startswith(("0", "1", "86")) or not 8 <= len(digits) <= 15 or not digits.isdigit():
        return None
    return "+" + digits


def _id_card(number: _Digits) -> str | None:
    digits = number.digits
    if not (re.fullmatch(r"[1-9]\d{16}[\dX]", digits) and number.well_grouped):
        return None
    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return None
    # Every real ID carries a date of birth, so a number without one is not an ID even when its
    # check character happens to fit (one random number in eleven does).
    if not 1900 <= born.year <= 2099:
        return None
    total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] == digits[17]:
        return digits
    # People misread or mistype a digit, which breaks the check character: still an ID when the
    # region code is a real province as well as the date a real day.
    return digits if digits[:2] in _PROVINCE_CODES else None


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _bank_card(number: _Digits) -> str | None:
    digits = number.digits
    if not (re.fullmatch(r"\d{16,19}", digits) and number.well_grouped and _luhn(digits)):
        return None
    # Issuer prefixes by length: Amex/JCB 3, Visa 4, Mastercard 5 and 2221–2720, UnionPay and
    # Discover 6, the old domestic 9 cards; only UnionPay, Discover, JCB and a few Visa and
    # domestic cards are longer than 16 digits. Order numbers usually start with a year (2026…),
    # which no issuer prefix is; Luhn alone lets one random number in ten through.
    prefixes = {16: ("3", "4", "5", "6", "9"), 17: ("6",), 18: ("6", "35"), 19: ("6", "35", "4", "9")}
    if digits.startswith(prefixes[len(digits)]) or (len(digits) == 16 and 2221 <= int(digits[:4]) <= 2720):
        return digits
    return None


_NUMBER_KINDS: tuple[tuple[str, Callable[[_Digits], str | None]], ...] = (
    ("mobile", _mobile), ("landline", _landline), ("id_card", _id_card), ("bank_card", _bank_card),
    ("us_phone", _us_phone), ("intl_phone", _intl_phone),
)


def _number_hits(text: str) -> Iterable[_Hit]:
    for chunk in _CHUNK.finditer(text):
        groups = list(_GROUP_RE.finditer(text, chunk.start(), chunk.end()))
        if chunk.end() < len(text) and text[chunk.end()].isascii() and text[chunk.end()].isalpha():
            groups.pop()  # "…5678abc": the last group belongs to a code
        digits = [_to_digits(group.group(0)) for group in groups]
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                number = _Digits("".join(digits[first:last + 1]), tuple(len(d) for d in digits[first:last + 1]),
                                 plus=bool(chunk.group("plus")) and first == 0)
                if len(number.digits) > _MAX_DIGITS:
                    break
                start = chunk.start() if number.plus else groups[first].start()
                end = groups[last].end()
                if _UNIT_AFTER.match(text, end):
                    continue
                for kind, validate in _NUMBER_KINDS:
                    value = validate(number)
                    if value is not None:
                        yield _Hit(Span(start, end, kind, text[start:end]), value)


# --- e-mail and WeChat ---------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+[@＠][A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
                    r"(?![A-Za-z0-9-])")
# A WeChat ID is only recognisable when introduced; Latin keywords must stand alone ("wx" is
# not inside "wxid_…" or "Wexford").
_WECHAT = re.compile(
    r"(?P<keyword>微信号|微信號|微信|[vV]信|(?<![A-Za-z])(?:wechat|weixin|vx|wx)(?![A-Za-z]))"
    r"(?P<link>\s*(?:号|號|id)?\s*(?:是|为|為|:|：|=|is)?\s*)"
    r"(?P<id>[A-Za-z][A-Za-z0-9_-]{5,19})(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)


def _email_hits(text: str) -> Iterable[_Hit]:
    for found in _EMAIL.finditer(text):
        yield _Hit(Span(found.start(), found.end(), "email", found.group(0)),
                   unicodedata.normalize("NFKC", found.group(0)).lower())


def _wechat_hits(text: str) -> Iterable[_Hit]:
    for found in _WECHAT.finditer(text):
        wechat_id = found.group("id")
        explicit = found.group("keyword") in ("微信号", "微信號") or re.search(r"[号號:：是为為=]|id",
                                                                               found.group("link"), re.I)
        # Without 号/ID/是/: the word after 微信 may be English ("加微信 thanks"): an ID that is
        # only letters needs the explicit introduction.
        if not explicit and not re.search(r"[0-9_-]", wechat_id):
            continue
        # WeChat IDs ignore case; ASR and people capitalise them at random.
        yield _Hit(Span(found.start("id"), found.end("id"), "wechat_id", wechat_id), wechat_id.lower())


# --- names ---------------------------------------------------------------------------------

# The common two-character surnames: 欧阳娜娜 is Ms 欧阳 (欧阳女士), not Ms 欧.
_COMPOUND_SURNAMES = frozenset({"欧阳", "歐陽", "司马", "司馬", "诸葛", "諸葛", "上官", "东方", "東方", "皇甫",
                                "尉迟", "尉遲", "公孙", "公孫", "慕容", "长孙", "長孫", "司徒", "夏侯", "令狐",
                                "宇文", "端木", "澹台", "澹臺", "独孤", "獨孤", "南宫", "南宮"})
# How a sales call addresses someone, in both scripts. 总监/总裁/总经理 are listed so that 李总监 is
# masked whole instead of leaving a stray 监 after the 李总 form.
_TITLES = ("总经理", "總經理", "总监", "總監", "总裁", "總裁", "经理", "經理", "先生", "女士", "小姐", "老师", "老師",
           "总", "總", "姐", "哥")
# After a surname, 总 starts an ordinary word as often as it is a title: 提高总体 holds 高总.
# Words that never follow "Mr Gao" are excluded; 总是/总会/总和 are not (李总是老客户, 李总和王总).
_NOT_TITLE_AFTER_ZONG = "体體共计計结結之额額量数數价價值部算归歸"
_HONORIFICS = r"(?:mr|mrs|ms|miss|dr)\.?\s+"


@lru_cache(maxsize=4)
def _opencc(config: str):
    import opencc  # a dependency, but only needed when names are given

    return opencc.OpenCC(config)


@lru_cache(maxsize=1024)
def _name_pattern(name: str) -> re.Pattern[str] | None:
    """The forms of one known name, longest first (see :func:`find_pii`)."""
    if len(name) < 2:
        return None  # a single character would mask every 李 in the text
    if not has_cjk(name):
        parts = name.split()
        words = r"\s+".join(re.escape(part) for part in parts)
        forms = [words]
        if len(parts) > 1:
            # Western order puts the surname last, pinyin order first: accept both after Mr/Ms.
            forms += [_HONORIFICS + re.escape(part) for part in {parts[0], parts[-1]} if len(part) > 1]
        return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(forms) + r")(?![A-Za-z0-9])", re.IGNORECASE)
    # The CRM may hold 李建国 while the chat says 李建國, or the other way round.
    spellings = sorted({name, _opencc("s2t").convert(name), _opencc("t2s").convert(name)}, key=len, reverse=True)
    forms = [re.escape(spelling) for spelling in spellings]
    if 2 <= len(name) <= 4 and re.fullmatch(r"[\u3400-\u9fff]+", name):
        surnames = {spelling[:2] if len(spelling) > 2 and spelling[:2] in _COMPOUND_SURNAMES else spelling[0]
                    for spelling in spellings}
        for surname in sorted(surnames, key=len, reverse=True):
            for title in _TITLES:
                guard = f"(?![{_NOT_TITLE_AFTER_ZONG}])" if title in ("总", "總") else ""
                forms.append(re.escape(surname + title) + guard)
    # Chinese has no spaces to anchor a whole word on: forms match as substrings.
    return re.compile("|".join(forms))


def _name_hits(text: str, names: Sequence[str]) -> Iterable[_Hit]:
    for raw in names:
        name = " ".join(unicodedata.normalize("NFKC", raw).split())
        pattern = _name_pattern(name)
        if pattern is None:
            continue
        # Every form of a name (李总, 李先生, 李建國) hashes to the name itself, in Simplified script
        # whichever script the CRM used.
        value = _opencc("t2s").convert(name) if has_cjk(name) else name.lower()
        for found in pattern.finditer(text):
            yield _Hit(Span(found.start(), found.end(), "person_name", found.group(0)), value)


# --- addresses -----------------------------------------------------------------------------

_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ADDRESS_NUMBER = r"[0-9０-９零〇一二两兩三四五六七八九十百千]+"
# 号线 is a metro line (2号线), not a house number.
_HOUSE = rf"{_ADDRESS_NUMBER}\s?(?:号楼|號樓|号|號)(?![线線])"
_BUILDING_PART = rf"\s?(?:{_ADDRESS_NUMBER}|[A-Za-z])\s?(?:栋|棟|幢|座|号楼|號樓|单元|單元|层|層|楼|樓|室|房)"
_ROOM_DIGITS = r"(?:\s?[0-9０-９]{3,5}(?![0-9０-９]))?"  # "2单元301": the room without 室
# A named building between the house number and the unit: …9988号华润大厦A座1201室. Only taken
# when a unit follows, so the words after an address (…88号那边的中心) stay out of it.
_BUILDING_NAME = (rf"(?:[^\W\d_的这這那个個我你您他她们們在是了就也]{{1,8}}?(?:大厦|大廈|大楼|大樓|广场|廣場|中心|花园|花園|小区|小區|公寓|苑|园|園)"
                  rf"(?={_BUILDING_PART}))?")
# Road + house number, with a Taiwanese section (段) and lanes (巷/弄) on the way: 信義路五段7號,
# 长乐路100弄5号. The road's name lies left of the match and is checked by _address_start.
_ROAD_CORE = re.compile(rf"(?:大街|大道|路|街|巷|胡同)\s?(?:{_ADDRESS_NUMBER}\s?段\s?)?"
                        rf"(?:{_ADDRESS_NUMBER}\s?[巷弄]\s?){{0,2}}{_HOUSE}{_BUILDING_NAME}"
                        rf"(?:{_BUILDING_PART})*{_ROOM_DIGITS}")
# A building with a unit or a room number: 3栋1201室, 5号楼2单元301. A room number has three or
# more digits, so floor plans (一栋三室两厅) and quantities (两栋三层) stay.
_BUILDING_CORE = re.compile(
    rf"(?:{_ADDRESS_NUMBER}|[A-Za-z])\s?(?:栋|棟|幢|座|号楼|號樓)\s?"
    rf"(?:{_ADDRESS_NUMBER}\s?(?:单元|單元)|[0-9０-９零〇一二两兩三四五六七八九]{{3,5}}\s?(?:室|房))"
    rf"(?:{_BUILDING_PART})*{_ROOM_DIGITS}")
# Administrative units and estates that may precede the road or building. 城市/超市 and 小区/园区
# are words, not the 市/区 of a place name.
_ADMIN_MARK = (r"特别行政区|特別行政區|自治区|自治區|自治州|自治县|自治縣|开发区|開發區|高新区|高新區|园区|園區|新区|新區|"
               r"街道|地区|地區|(?<![城超门門股夜集菜])市|(?<![小园園社景城市郊山])[区區]|省|县|縣|镇|鎮|乡|鄉|盟|旗")
_ESTATE_MARK = r"小区|小區|社区|社區|花园|花園|家园|家園|新村|公寓|大厦|大廈|广场|廣場|中心|苑|府|园|園|村|庭|湾|灣|邸"
_MARK = re.compile(rf"(?P<admin>{_ADMIN_MARK})|(?P<estate>{_ESTATE_MARK})")
# What ends the words before an address ("我们公司在上海市…", "收货地址上海市…"). Characters that
# occur in place names (和平路, 成都, 从化, 来宾) are deliberately absent.
_LEAD_IN = re.compile(r"[在到是住于於址的我你您他她们們了吗嗎呢吧啊哦嗯这這那个個就也请請给給把叫说說]|公司|地址|位置|老家|家里|家裡|门店|門店|总部|總部|仓库|倉庫")
# Place names before the first marker are usually two characters; these are the longer ones.
_LONG_PLACE_NAMES = ("黑龙江", "黑龍江", "内蒙古", "內蒙古", "广西壮族", "廣西壯族", "宁夏回族", "寧夏回族", "新疆维吾尔",
                     "新疆維吾爾", "石家庄", "石家莊", "哈尔滨", "哈爾濱", "齐齐哈尔", "齊齊哈爾", "呼和浩特", "乌鲁木齐",
                     "烏魯木齊", "张家口", "張家口", "秦皇岛", "秦皇島", "连云港", "連雲港", "驻马店", "駐馬店", "平顶山",
                     "平頂山", "马鞍山", "馬鞍山", "牡丹江", "佳木斯", "鄂尔多斯", "鄂爾多斯", "景德镇", "景德鎮")
# Nouns that end in 路/街 without being a road: 这个思路3号前定 is a deadline.
_NOT_ROADS = frozenset({"思路", "线路", "線路", "道路", "网路", "網路", "电路", "電路", "套路", "销路", "銷路", "出路",
                        "门路", "門路", "半路", "走路", "回路", "迷路", "上路", "一路", "后路", "後路", "退路", "来路",
                        "來路", "去路", "老路", "逛街", "上街", "满街", "滿街"})
_LEAD_MAX = 24  # characters of place names looked at left of a road or building


def _place_run_start(text: str, end: int) -> int:
    """Start of the run of Chinese characters (single spaces allowed) that ends at ``end``,
    cut after the last lead-in word and at most ``_LEAD_MAX`` characters long."""
    start = end
    while start > max(0, end - _LEAD_MAX):
        char = text[start - 1]
        if _CJK_CHAR.match(char) or (char == " " and start >= 2 and _CJK_CHAR.match(text[start - 2])):
            start -= 1
        else:
            break
    lead_ins = list(_LEAD_IN.finditer(text, start, end))
    if lead_ins:
        start = lead_ins[-1].end()
    while start < end and text[start] == " ":
        start += 1
    return start


def _cap_name(text: str, start: int, mark_start: int, cap: int) -> int:
    """Where the first place name before ``mark_start`` begins, given no punctuation says so:
    after a space, at a known long name, else the last ``cap`` characters."""
    # Spaces are allowed after a marker (上海市 浦东新区); one inside the first name separates it
    # from the words before (十二点 育才路).
    start = max(start, text.rfind(" ", start, mark_start) + 1)
    name = text[start:mark_start]
    for place in _LONG_PLACE_NAMES:
        if name.endswith(place):
            return mark_start - len(place)
    return max(start, mark_start - cap)


def _address_start(text: str, core_start: int, is_road: bool) -> int | None:
    """Start of the address whose road marker or building number is at ``core_start``.

    Left of it lie the road's name and the administrative units (上海市浦东新区张江…). Their
    inner boundaries are the markers (市, 新区); only the first name has nothing to end it on the
    left, so it is cut at a lead-in word (在, 地址) and then to two characters after a one-character
    marker (市, 区, 省), four after a longer one (园区, 花园) or before a road, unless it ends in a
    known longer place name. ``None`` when a road has no name (这条路3号 is a date, not an address).
    """
    start = _place_run_start(text, core_start)
    marks = list(_MARK.finditer(text, start, core_start))
    if is_road:
        # Estates do not come before a road, and a marker character inside the road's own
        # name (花园路, 县前街) is not a boundary: the road keeps at least two characters.
        marks = [mark for mark in marks if mark.group("admin") and mark.end() <= core_start - 2]
    if marks and marks[0].start() == start:
        # A marker with no name before it (digits or a lead-in word ended the run): not a place.
        start = marks[0].end()
        marks = marks[1:]
    if is_road:
        road_start = marks[-1].end() if marks else _cap_name(text, start, core_start, 4)
        road = text[road_start:core_start].replace(" ", "")
        if len(road) < 2 or road[-1] + text[core_start] in _NOT_ROADS:
            return None
        if not marks:
            return road_start
    elif not marks or marks[-1].end() != core_start:
        return core_start  # a building after ordinary words: the building alone
    first = marks[0]
    # 上海市, 南山区: two characters. Zones and estates have longer names (苏州工业园区, 万科城市花园).
    short = first.group("admin") and len(first.group(0)) == 1
    return _cap_name(text, start, first.start(), 2 if short else 4)


def _address_hits(text: str) -> Iterable[_Hit]:
    for core, is_road in ((_ROAD_CORE, True), (_BUILDING_CORE, False)):
        for found in core.finditer(text):
            start = _address_start(text, found.start(), is_road)
            if start is None:
                continue
            end = found.end()
            value = re.sub(r"\s", "", unicodedata.normalize("NFKC", text[start:end]))
            yield _Hit(Span(start, end, "address", text[start:end]), value)


# --- the public functions ------------------------------------------------------------------


def _find(text: str, names: Sequence[str]) -> list[_Hit]:
    if isinstance(names, str):
        names = (names,)  # a lone name, not a sequence of one-character names
    hits = [*_number_hits(text), *_email_hits(text), *_wechat_hits(text), *_name_hits(text, names),
            *_address_hits(text)]
    # Longest first, then by kind order: a card number wins over the phone-like digits inside it.
    hits.sort(key=lambda hit: (hit.span.start - hit.span.end, KINDS.index(hit.span.kind), hit.span.start))
    kept: list[_Hit] = []  # sorted by start, never overlapping
    starts: list[int] = []
    for hit in hits:
        at = bisect.bisect_left(starts, hit.span.start)
        if (at == 0 or kept[at - 1].span.end <= hit.span.start) and (
                at == len(kept) or hit.span.end <= starts[at]):
            kept.insert(at, hit)
            starts.insert(at, hit.span.start)
    return kept


def find_pii(text: str, names: Sequence[str] = ()) -> list[Span]:
    """Every piece of personal data in ``text``: non-overlapping spans sorted by start.

    Where candidates overlap, the longest wins (an e-mail address over the phone number that is
    its local part), then the earlier kind in :data:`KINDS`.

    ``names`` are exact known names (customer and contact names from the metadata). Each is
    found as written and in the other script (李建国/李建國). A Chinese full name of two to four
    characters is also found as surname + title: 李总, 李经理, 李先生, 李女士, 李小姐, 李老师, 李姐,
    李哥 (and 李总监, 李总裁, 李总经理 whole). Chinese has no word boundaries, so these forms match
    as substrings — 李总 inside 李总监 would match too; listing 总监 masks the whole title instead
    of leaving 监 behind. A title form names anyone with that surname, not only this person.
    Latin names match as whole words, case-insensitively, also after Mr/Mrs/Ms/Miss/Dr with the
    first or last word. Names shorter than two characters are ignored.
    """
    return [hit.span for hit in _find(text, names)]


def redact(text: str, mode: str = "mask", names: Sequence[str] = (), salt: str = "") -> str:
    """``text`` with its personal data (see :func:`find_pii`) replaced.

    ``off``: the text unchanged. ``mask``: each span becomes its kind's placeholder
    (:data:`PLACEHOLDERS`, ``[手机号]``, ``[电话]``, …), in Chinese whatever the language of the text.
    ``hash``: each span becomes ``[<kind>:<8 hex digits>]``, the start of
    ``sha256(salt + normalised value)``, so the same person's number or address gets the same
    token in every conversation and two spans can be linked without being read. Numbers are
    normalised to their Arabic digits without separators and country prefix (+86 138-1234-5678
    and 一三八一二三四五六七八 agree); names to the name given, e-mail addresses and WeChat IDs to
    lower case, addresses to NFKC without white space. Use a secret ``salt``: without one, a
    mobile number's token can be found by hashing every possible number.
    """
    if mode not in REDACTION_MODES:
        raise ValueError(f"unknown redaction mode {mode!r}; expected one of: {', '.join(REDACTION_MODES)}")
    if mode == "off":
        return text
    pieces: list[str] = []
    position = 0
    for hit in _find(text, names):
        pieces.append(text[position:hit.span.start])
        if mode == "mask":
            pieces.append(PLACEHOLDERS[hit.span.kind])
        else:
            digest = hashlib.sha256((salt + hit.value).encode("utf-8")).hexdigest()[:8]
            pieces.append(f"[{hit.span.kind}:{digest}]")
        position = hit.span.end
    pieces.append(text[position:])
    return "".join(pieces)
