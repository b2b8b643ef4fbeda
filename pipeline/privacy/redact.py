"""Personal data in conversation text: find it, then mask it or replace it with a stable token.

This module is the one place that decides what counts as personal data. Trainers browse every
team's conversations on the review board with it masked, ``keynode redact`` masks text lines
for scripts, and a later stage redacts utterances and their word timestamps before storing; all
of them call :func:`redact` / :func:`redact_with` (and :func:`pipeline.privacy.redact_words`).

Text is Mandarin first, English second, and often ASR output: no punctuation, digits written as
Chinese characters (一三八…, 幺 for 1, 洞/零/〇 for 0, 两 for 2, 拐 for 7, 勾 for 9) or English
words ("five five five, oh one double two"), numbers running into the next word. Precision
matters as much as recall: a trainer cannot review a price objection whose price was masked,
so a short number is checked against the structure of the thing it would be (mobile prefix,
area code, ID date of birth) instead of masking every digit run.

Kinds (:data:`KINDS`), each with a Chinese and an English placeholder
(:data:`~pipeline.privacy.kinds.PLACEHOLDERS`, :data:`~pipeline.privacy.kinds.PLACEHOLDERS_EN`):

- ``mobile``: 1[3-9] + 9 digits, optional +86/0086/86; Taiwanese 09 + 8 digits.
- ``landline``: 0 + area code + local number; Taiwanese (0x) numbers; 400/800 service numbers.
  A 400/800 number belongs to a company, not a person, but it is masked: it identifies the
  customer's company, which the board hides from trainers as well ([客户]).
- ``id_card``: 18-character resident ID, see *Long numbers* below.
- ``bank_card``: a card number, see *Long numbers* below.
- ``long_number``: any other run of 13 or more digits (order, account, tracking numbers).
- ``email`` (also spoken: "zhangsan at qq dot com", "zhangsan艾特163点com"), ``wechat_id`` (only
  after 微信/微信号/vx/wx/WeChat), ``qq`` (only after QQ/扣扣), ``person_name`` (only names the
  caller passes), ``address`` (a Chinese road with a house number or a building with a unit or
  room, with the places before it; an English street address "500 Howard Street, Suite 300").
- ``us_phone`` (North American numbers in their usual layouts), ``intl_phone`` (any other number
  written with + or 00 and a country code), ``phone`` (a number known to be a telephone number
  only from how it was said: 7 or more digits read out one by one — "六八八八 八八八八",
  "five five five, oh one double two" — or 7–12 digits right after 电话/手机/号码/phone/call me at).

Long numbers: every run of 13–19 digits is masked, whatever its digits — unbroken, or in groups of
four separated by single spaces or dashes (6222 0202 0000 1234 562), or the 4-6-5 / 4-6-4 layouts
of Amex and Diners, or read out in Chinese or English digits in any grouping. The digits only
choose the label: ``id_card`` when 17 digits + digit/X carry a real date of birth (1900 to today)
and either the check character fits or the first two digits are a province code (a misread
digit breaks the check character, so the checksum is never the only gate); else ``bank_card``
when the Luhn check holds and an issuer prefix fits, or a word like 卡/账号/户/银行/card/account
stands just before or after; else ``long_number``. Amounts never reach 13 digits; order numbers
that do are masked too — they are indistinguishable from account numbers. A resident ID written
in other groups (440304 19900307 4537) is masked when it has the real date of birth, and
labelled as above. Unbroken runs of 20 or more digits are masked too (some corporate accounts
have 20 digits); grouped ones must have 13–19. Lists of years (2026 2025 2024 2023) are not.

How numbers are found: a *chunk* is a run of digit *groups* joined by a space, a dash, a dot or a
Chinese comma ("138 1234 5678", "(010)12345678", "+1 415 555 0100", "幺三八，幺二三四"). Every
run of consecutive groups of a chunk is tried against every numeric kind, so a number next to
another number ("2026 138…") is still found, while digits inside a longer unbroken run (an
order number) never are. A number followed by a unit (元, 万, %, rmb) is an amount, unless it
has 13 or more digits.

Not found, on purpose or not yet: 15-digit first-generation IDs (masked as ``long_number``),
passports, licence plates; local numbers without an area code (Hong Kong, US seven-digit) unless
introduced by a telephone word or read out digit by digit; digit groups split by ASCII commas;
Chinese addresses without a house number, unit or room (滨江花园7栋, 上海市浦东新区); English
addresses in lower case or without a street type; names nobody passed in.
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

from pipeline.privacy.config import RedactionConfig, compile_pattern
from pipeline.privacy.kinds import KINDS, LANGUAGES, PLACEHOLDER_SETS, PLACEHOLDERS, PLACEHOLDERS_EN, REDACTION_MODES
from pipeline.text import has_cjk

__all__ = ["KINDS", "LANGUAGES", "PLACEHOLDERS", "PLACEHOLDERS_EN", "REDACTION_MODES", "Span", "find_pii",
           "line_language", "redact", "redact_with"]


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
    two ways ("138-1234-5678", "一三八一二三四五六七八") gets one token.

    ``tier`` 2 marks a guess from context or from the way a number was said (``phone``): it is
    kept only where no structural finding (tier 1) overlaps it."""

    span: Span
    value: str
    tier: int = 1


# --- numbers -------------------------------------------------------------------------------

# Spoken digits as ASR writes them. 幺 (1), 洞 (0), 两 (2), 拐 (7) and 勾 (9) are how people read
# out phone numbers; 兩 is the Traditional 两.
_CHINESE_DIGITS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "兩": "2",
                   "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8", "九": "9",
                   "勾": "9"}
_CORE_DIGIT = "0-9０-９零〇洞幺二两兩三四五六七八九一"
# 一 also starts everyday words, and ASR runs a spoken number into the next one ("…五六七八一下"):
# 一 followed by one of these is a word, not a twelfth digit. 拐 (turn) and 勾 (tick) are digits
# only next to another digit.
_DIGIT = (r"(?:[0-9０-９零〇洞幺二两兩三四五六七八九]|一(?![下个個定起样樣些直般共边邊次点點])"
          rf"|(?<=[{_CORE_DIGIT}])[拐勾]|[拐勾](?=[{_CORE_DIGIT}]))")
# Possessive, so a group never backtracks to a shorter digit run to fit what follows.
# A trailing X is the check character of a resident ID.
_GROUP = rf"[(（]?(?:{_DIGIT})++(?:[Xx](?![A-Za-z0-9_]))?[)）]?"
_SEPARATOR = r"(?:[ \t\u00a0\u3000]{1,2}|[ \u3000]?[-‐‑–—－.．，、][ \u3000]?)?"
# Digits right after a Latin letter are a model or order code (RTX4090, DD2026…), never a number
# of a person; a currency sign makes it an amount. (Runs of 13+ digits are masked anyway.)
_CHUNK = re.compile(rf"(?<![A-Za-z0-9０-９_¥￥$€£])(?P<plus>[+＋] ?)?{_GROUP}(?:{_SEPARATOR}{_GROUP})*")
_GROUP_RE = re.compile(_GROUP)
# A number followed by a unit is an amount ("13800000000元"), whatever its digits look like.
_UNIT_AFTER = re.compile(r"\s?(?:[元块塊万萬亿億%％倍]|美元|rmb|yuan|usd)", re.IGNORECASE)
# Read-out digits followed by 年 are a year (二零二六年), not a phone number.
_YEAR_AFTER = re.compile(r"\s?[年届屆]")
# The longest number any kind accepts (a 19-digit card, a 15-digit E.164 number plus prefix).
_MAX_DIGITS = 20
# Any unbroken run of 13 or more Arabic digits, also inside a code (DD2026030512345678): every
# one is masked (see the module docstring).
_LONG_RUN = re.compile(r"(?<![0-9０-９])[0-9０-９]{13,}(?:[Xx](?![A-Za-z0-9]))?(?![0-9０-９])")
# Words just before (卡号, 对公户, account) or after (…浦发的卡, …建设银行) a long number that make it a
# card or bank account.
_CARD_WORDS = r"(?:卡|card|账号|賬號|帐号|帳號|户|戶|account|银行|銀行|bank)"
_CARD_BEFORE = re.compile(rf"{_CARD_WORDS}[^0-9０-９]{{0,8}}$", re.IGNORECASE)
_CARD_AFTER = re.compile(rf"^[^0-9０-９]{{0,6}}{_CARD_WORDS}", re.IGNORECASE)

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
    spoken: int = 0  # how many digits were written as words (一三八, five) rather than numerals

    @property
    def well_grouped(self) -> bool:
        """Written the way people write one number: groups of three or more digits after a
        country or area code (+86 10 1234 5678). A list of small numbers ("2 3 4 5 … 12 13",
        scores "1 5 3 8 …") is not one number, whatever its digits."""
        return all(size >= 3 for size in self.sizes[2:])

    @property
    def groups(self) -> list[str]:
        out, position = [], 0
        for size in self.sizes:
            out.append(self.digits[position:position + size])
            position += size
        return out


def _digit_value(char: str) -> str:
    return _CHINESE_DIGITS.get(char) or str(unicodedata.decimal(char, "")) or char.upper()


def _to_digits(group_text: str) -> str:
    return "".join(_digit_value(char) for char in group_text if char not in "()（）")


def _is_counting(digits: str) -> bool:
    """1234567…, 9876543…: someone counting, not a number being read out."""
    steps = {int(b) - int(a) for a, b in zip(digits, digits[1:], strict=False)} if digits.isdigit() else set()
    return steps in ({1}, {-1})


def _is_year_list(groups: Sequence[str]) -> bool:
    """2026 2025 2024 2023: years side by side, not one number in groups of four."""
    return len(groups) > 1 and all(len(g) == 4 and g.isdigit() and 1900 <= int(g) <= 2099 for g in groups)


def _mobile(number: _Digits) -> str | None:
    if not number.well_grouped:
        return None
    # Taiwanese mobiles: 09xx-xxx-xxx.
    if not number.plus and re.fullmatch(r"09\d{8}", number.digits):
        return number.digits
    found = re.fullmatch(r"(?:0086|86)?(1[3-9]\d{9})", number.digits)
    if not found or (number.plus and not number.digits.startswith("86")):
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
    elif len(number.sizes) > 1 and number.sizes[0] == 2 and re.fullmatch(r"0[2-8][2-9]\d{6,7}", digits):
        return digits  # Taiwanese: (02) 2345-6789, 04-2345-6789
    # Area codes: 010 and 02x have 3 digits, the others 4. Local numbers never start with 0
    # (nor, in real life, 1, but examples and test data write 010-12345678).
    if re.fullmatch(r"0(?:10|2\d)[1-9]\d{7}|0[3-9]\d\d[1-9]\d{6,7}", digits):
        return digits
    return None


def _us_phone(number: _Digits) -> str | None:
    digits, sizes = number.digits, number.sizes
    if number.plus:
        ok = digits.startswith("1") and sizes in ((1, 3, 3, 4), (1, 10), (11,))
    elif number.spoken:
        ok = len(digits) == 10 or (len(digits) == 11 and digits.startswith("1"))  # read out: no layout
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


def _id_shape(digits: str) -> bool:
    """17 digits + digit/X whose digits 7–14 are a real date of birth, 1900 to today."""
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", digits):
        return False
    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _id_label(digits: str) -> bool:
    """An ID shape whose check character fits or whose region is a real province. People
    misread or mistype a digit, which breaks the check character: the checksum alone neither
    makes nor unmakes an ID."""
    if not _id_shape(digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == digits[17] or digits[:2] in _PROVINCE_CODES


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


# Issuer prefixes by length: Visa 4 (13, 16, 19), Diners 30/36/38 (14), Amex 34/37 (15),
# Mastercard 5 and 2221–2720, UnionPay 62, Discover 6, JCB 35, the old domestic 9 cards. Order
# numbers usually start with a year (2026…), which no issuer prefix is.
_CARD_PREFIXES = {13: ("4",), 14: ("30", "36", "38"), 15: ("34", "37", "1800", "2131"), 16: ("3", "4", "5", "6", "9"),
                  17: ("6",), 18: ("6", "35"), 19: ("6", "35", "4", "9")}


def _card_label(digits: str) -> bool:
    """Luhn holds and an issuer prefix fits the length: labelled a bank card."""
    if not (re.fullmatch(r"\d{13,19}", digits) and _luhn(digits)):
        return False
    return digits.startswith(_CARD_PREFIXES[len(digits)]) or (len(digits) == 16 and 2221 <= int(digits[:4]) <= 2720)


def _long_label(digits: str, before: str = "", after: str = "") -> str:
    """The kind of a masked run of 13 or more digits (see the module docstring); ``before`` and
    ``after`` are the few characters around it."""
    if _id_label(digits):
        return "id_card"
    if _card_label(digits) or (digits.isdigit() and (_CARD_BEFORE.search(before) or _CARD_AFTER.search(after))):
        return "bank_card"
    return "long_number"


def _around(text: str, start: int, end: int) -> tuple[str, str]:
    return text[max(0, start - 12):start], text[end:end + 10]


def _id_card(number: _Digits) -> tuple[str, str] | None:
    """An ID in a grouping a long number does not have (440304 19900307 4537): masked when it
    has the shape and the date of birth of an ID."""
    if not (_id_shape(number.digits) and number.well_grouped):
        return None
    return ("id_card" if _id_label(number.digits) else "long_number"), number.digits


def _bank_card(number: _Digits) -> tuple[str, str] | None:
    """A card in a grouping a long number does not have (622202 0200001234562)."""
    if number.well_grouped and _card_label(number.digits):
        return "bank_card", number.digits
    return None


def _long_number(number: _Digits) -> tuple[str, str] | None:
    digits = number.digits
    if not re.fullmatch(r"\d{13,19}|\d{17}X", digits):
        return None
    sizes = number.sizes
    if len(sizes) > 1:
        in_fours = all(size == 4 for size in sizes[:-1]) and sizes[-1] <= 4
        if number.spoken * 2 >= len(digits):
            # Read out: people pause where they like, but not after every digit or two.
            in_fours = all(size >= 3 for size in sizes)
        if not (in_fours or sizes in ((4, 6, 5), (4, 6, 4))) or _is_year_list(number.groups):
            return None
    return _long_label(digits), digits


def _kind(name: str, validate: Callable[[_Digits], str | None]) -> Callable[[_Digits], tuple[str, str] | None]:
    def labelled(number: _Digits) -> tuple[str, str] | None:
        value = validate(number)
        return None if value is None else (name, value)
    return labelled


_NUMBER_KINDS: tuple[Callable[[_Digits], tuple[str, str] | None], ...] = (
    _kind("mobile", _mobile), _kind("landline", _landline), _id_card, _bank_card,
    _kind("us_phone", _us_phone), _kind("intl_phone", _intl_phone), _long_number,
)


def _spoken_phone(number: _Digits) -> str | None:
    """Seven to twelve digits, most of them read out as words: only telephone numbers (and
    QQ numbers) are read that way. Counting (一二三四五六七) and years side by side are not."""
    digits = number.digits
    if not (7 <= len(digits) <= 12 and digits.isdigit() and number.spoken * 2 >= len(digits)):
        return None
    if not number.well_grouped or _is_counting(digits) or _is_year_list(number.groups):
        return None
    return digits


def _number_hits(text: str) -> Iterable[_Hit]:
    for chunk in _CHUNK.finditer(text):
        groups = list(_GROUP_RE.finditer(text, chunk.start(), chunk.end()))
        if chunk.end() < len(text) and text[chunk.end()].isascii() and text[chunk.end()].isalpha():
            groups.pop()  # "…5678abc": the last group belongs to a code
        digits = [_to_digits(group.group(0)) for group in groups]
        spoken = [sum(char in _CHINESE_DIGITS for char in group.group(0)) for group in groups]
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                number = _Digits("".join(digits[first:last + 1]), tuple(len(d) for d in digits[first:last + 1]),
                                 plus=bool(chunk.group("plus")) and first == 0, spoken=sum(spoken[first:last + 1]))
                if len(number.digits) > _MAX_DIGITS:
                    break
                start = chunk.start() if number.plus else groups[first].start()
                end = groups[last].end()
                amount = _UNIT_AFTER.match(text, end)
                for validate in _NUMBER_KINDS:
                    found = validate(number)
                    if found is None:
                        continue
                    kind, value = found
                    if validate is _long_number:
                        # Every run of 13–19 digits is masked, unit or not; the words around it
                        # may make it a card.
                        kind = _long_label(value, *_around(text, start, end))
                    elif amount:
                        continue
                    yield _Hit(Span(start, end, kind, text[start:end]), value)
                if not amount and not _YEAR_AFTER.match(text, end):
                    value = _spoken_phone(number)
                    if value is not None:
                        yield _Hit(Span(start, end, "phone", text[start:end]), value, tier=2)
    for found in _LONG_RUN.finditer(text):
        start, end = found.span()
        value = _to_digits(found.group(0))
        if value.endswith("X") and len(value) != 18:
            end, value = end - 1, value[:-1]  # only an ID ends in a check character X
        kind = _long_label(value, *_around(text, start, end))
        yield _Hit(Span(start, end, kind, text[start:end]), value)


# --- English spoken digits -----------------------------------------------------------------

_EN_DIGITS = {"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4",
              "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_EN_DIGIT_WORD = "(?:zero|oh|o|nought|one|two|three|four|five|six|seven|eight|nine)"
# Numerals inside a read-out number are its groups of at most four digits ("415 five five five 0100").
_EN_TOKEN = rf"(?:(?:double|triple)[\s-]+{_EN_DIGIT_WORD}|{_EN_DIGIT_WORD}|[0-9]{{1,4}}(?![0-9]))"
_EN_SEP = r"(?:[ \t]*[,\-–—.][ \t]*|[ \t]+)"
_EN_RUN = re.compile(rf"(?<![A-Za-z0-9$€£¥'’]){_EN_TOKEN}(?:{_EN_SEP}{_EN_TOKEN})*(?![A-Za-z0-9'’])", re.IGNORECASE)
_EN_TOKEN_RE = re.compile(rf"(?P<token>{_EN_TOKEN})(?![A-Za-z0-9])(?P<sep>{_EN_SEP})?", re.IGNORECASE)


def _en_token_digits(token: str) -> str:
    words = token.lower().replace("-", " ").split()
    if words[0] in ("double", "triple"):
        return _EN_DIGITS[words[1]] * (2 if words[0] == "double" else 3)
    return _EN_DIGITS.get(words[0], token)


# What a number read out in English may be, in this order; anything else of 7+ digits is a ``phone``.
_SPOKEN_KINDS = (_kind("mobile", _mobile), _kind("landline", _landline), _kind("us_phone", _us_phone), _long_number)


def _spoken_en_hits(text: str) -> Iterable[_Hit]:
    """Numbers read out in English words, alone or mixed with numerals: "five five five, one two
    three, four five six seven", "oh" for zero, "double five", "415 five five five 0100"."""
    for run in _EN_RUN.finditer(text):
        tokens = list(_EN_TOKEN_RE.finditer(text, run.start(), run.end()))
        # Split where numerals are written as one formatted number (4,500,000; 2.5): that is an
        # amount, not part of a number being read out.
        segments: list[list[re.Match[str]]] = [[]]
        for position, token in enumerate(tokens):
            formatted = (token.group("token").isdigit() and position + 1 < len(tokens)
                         and tokens[position + 1].group("token").isdigit()
                         and token.group("sep") in (",", "."))
            previous_formatted = (position > 0 and token.group("token").isdigit()
                                  and tokens[position - 1].group("token").isdigit()
                                  and tokens[position - 1].group("sep") in (",", "."))
            if formatted or previous_formatted:
                segments.append([])
                continue
            segments[-1].append(token)
        for segment in segments:
            # "Oh, five five five…": an exclamation, not a zero.
            while segment and segment[0].group("token").lower() in ("oh", "o") and (
                    segment[0].group("sep") or " ").strip():
                segment = segment[1:]
            words = sum(not token.group("token").isdigit() for token in segment)
            if words < 2:
                continue
            digits = "".join(_en_token_digits(token.group("token")) for token in segment)
            if len(digits) < 7 or _is_counting(digits):
                continue
            start, end = segment[0].start(), segment[-1].end("token")
            number = _Digits(digits, (len(digits),), plus=False, spoken=len(digits))
            found = None
            for validate in _SPOKEN_KINDS:
                found = validate(number)
                if found:
                    break
            if found and found[0] != "long_number":
                yield _Hit(Span(start, end, found[0], text[start:end]), found[1])
            elif found:
                kind = _long_label(found[1], *_around(text, start, end))
                yield _Hit(Span(start, end, kind, text[start:end]), found[1])
            else:
                yield _Hit(Span(start, end, "phone", text[start:end]), digits, tier=2)


# --- numbers known by the words before them ------------------------------------------------

# A telephone word, then at most a short link (是, :, is, at), then the number.
_PHONE_CONTEXT = re.compile(
    r"(?:手机号码|手机号|手机|手機號碼|手機號|手機|电话号码|电话|電話號碼|電話|座机号|座机|座機|联系方式|聯繫方式|聯絡方式|联系电话|"
    r"(?<![单單同编編型批序票件账帳房车車牌工货貨运運卡证證])(?:号码|號碼)"
    r"|(?<![A-Za-z])(?:phone|cell|mobile|telephone|tel|contact|my number|(?:call|reach|text|ring) me(?:\s+back)?|whatsapp)"
    r"(?:\s*(?:number|no\.?|#))?(?![A-Za-z]))"
    r"[\s:：,，]*(?:是|为|為|就是|打|拨|撥|is|at|on)?[\s:：]*",
    re.IGNORECASE)
_QQ_CONTEXT = re.compile(r"(?<![A-Za-z])(?:QQ|扣扣)(?![A-Za-z群])\s*(?:号码|號碼|号|號)?[\s:：]*(?:是|为|為|is)?[\s:：]*",
                         re.IGNORECASE)


def _date_like(digits: str) -> bool:
    if len(digits) != 8:
        return False
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return False
    return 1900 <= int(digits[:4]) <= 2099


def _context_number(text: str, position: int, smallest: int, largest: int) -> tuple[int, int, str] | None:
    """The number that starts at ``position``: the longest run of its first groups with
    ``smallest``–``largest`` digits whose last group has two or more digits."""
    chunk = _CHUNK.match(text, position)
    if not chunk or chunk.group("plus"):
        return None
    groups = list(_GROUP_RE.finditer(text, chunk.start(), chunk.end()))
    best, digits = None, ""
    for group in groups:
        part = _to_digits(group.group(0))
        digits += part
        if len(digits) > largest:
            break
        if len(digits) >= smallest and len(part) >= 2 and digits.isdigit():
            best = (chunk.start(), group.end(), digits)
    if best and (_UNIT_AFTER.match(text, best[1]) or _date_like(best[2])):
        return None
    return best


def _context_hits(text: str) -> Iterable[_Hit]:
    for found in _PHONE_CONTEXT.finditer(text):
        number = _context_number(text, found.end(), 7, 12)
        if number:
            start, end, digits = number
            yield _Hit(Span(start, end, "phone", text[start:end]), digits, tier=2)
    for found in _QQ_CONTEXT.finditer(text):
        number = _context_number(text, found.end(), 5, 11)
        if number and not number[2].startswith("0"):
            start, end, digits = number
            yield _Hit(Span(start, end, "qq", text[start:end]), digits)


# --- e-mail and WeChat ---------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+[@＠][A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
                    r"(?![A-Za-z0-9-])")
# Spoken: "zhang dot san at qq dot com", "zhangsan艾特163点com", "sarah at acme.io".
_SPOKEN_AT = r"(?:\s*(?:艾特|圈a|[@＠])\s*|\s+at\s+)"
_SPOKEN_DOT = r"(?:\s*(?:点|點|\.)\s*|\s+dot\s+)"
_LOCAL_WORD = r"[A-Za-z0-9][A-Za-z0-9_%+-]*"
_TLD = r"(?:com|cn|net|org|io|edu|gov|co|me|info|biz|hk|tw|uk|us|de|jp|sg|ai|cc|tv)"
_SPOKEN_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9._%+-])(?P<local>{_LOCAL_WORD}(?:(?:{_SPOKEN_DOT}|\s*(?:_|underscore|下划线|下劃線)\s*){_LOCAL_WORD})*)"
    rf"(?P<at>{_SPOKEN_AT})(?P<domain>[A-Za-z0-9][A-Za-z0-9-]*(?:{_SPOKEN_DOT}[A-Za-z0-9][A-Za-z0-9-]*)*{_SPOKEN_DOT}{_TLD})"
    r"(?![A-Za-z0-9-])", re.IGNORECASE)
# English words that stand before "at" without being the local part of an address: "look at
# acme dot com" is a website.
_NOT_LOCAL_PARTS = frozenset(
    "look looking looked me us him her them it this that here there you we i is are was were be been being "
    "arrive arrived meet stay work works worked aim aimed good great best bad better home office site website "
    "page visit visiting email mail mailing send sent write reach contact find found hit hits up off "
    "everyone team sales support info hello".split())


def _email_hits(text: str) -> Iterable[_Hit]:
    for found in _EMAIL.finditer(text):
        yield _Hit(Span(found.start(), found.end(), "email", found.group(0)),
                   unicodedata.normalize("NFKC", found.group(0)).lower())
    for found in _SPOKEN_EMAIL.finditer(text):
        local_words = re.split(r"\s+", found.group("local").strip())
        if found.group("at").strip().lower() == "at" and local_words[-1].lower() in _NOT_LOCAL_PARTS:
            continue
        if "@" in found.group(0) and re.fullmatch(r"[^\s点點]*", found.group(0)) and "dot" not in found.group(0).lower():
            continue  # an ordinary address: the pattern above has it
        local = re.sub(rf"{_SPOKEN_DOT}", ".", found.group("local"), flags=re.I)
        local = re.sub(r"\s*(?:underscore|下划线|下劃線)\s*", "_", local, flags=re.I).replace(" ", "")
        domain = re.sub(rf"{_SPOKEN_DOT}", ".", found.group("domain"), flags=re.I)
        value = unicodedata.normalize("NFKC", f"{local}@{domain}").lower()
        yield _Hit(Span(found.start(), found.end(), "email", found.group(0)), value)


# A WeChat ID is only recognisable when introduced; Latin keywords must stand alone ("wx" is
# not inside "wxid_…" or "Wexford").
_WECHAT = re.compile(
    r"(?P<keyword>微信号|微信號|微信|[vV]信|(?<![A-Za-z])(?:wechat|weixin|vx|wx)(?![A-Za-z]))"
    r"(?P<link>\s*[,，]?\s*(?:吧|的话|的話|呢)?\s*[,，]?\s*(?:(?:my|我的|我)\s*)?(?:号|號|id)?\s*(?:是|为|為|:|：|=|is)?\s*)"
    r"(?P<id>[A-Za-z][A-Za-z0-9_-]{5,19})(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)


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
# Digits followed by a unit are a quantity or a date (3栋2000平, 88号 2026年), not a room.
_NOT_QUANTITY = r"(?![0-9０-９.]|\s?(?:平|㎡|万|萬|元|块|塊|人|个|個|台|套|米|年|月|日|天|号|號|点|點|分|%|％))"
_ROOM_DIGITS = rf"(?:\s?[0-9０-９]{{3,5}}{_NOT_QUANTITY})?"  # "2单元301": the room without 室
# A named building between the house number and the unit: …9988号华润大厦A座1201室. Only taken
# when a unit or a room number follows, so the words after an address (…88号那边的中心) stay out.
_BUILDING_NAME = (rf"(?:[^\W\d_的这這那个個我你您他她们們在是了就也]{{1,8}}?(?:大厦|大廈|大楼|大樓|广场|廣場|中心|花园|花園|小区|小區|公寓|苑|园|園)"
                  rf"(?={_BUILDING_PART}|[0-9０-９]{{3,5}}{_NOT_QUANTITY}))?")
# Road + house number, with a section (段: 信義路五段, 天府大道中段) and lanes (巷/弄) on the way: 信義路五段7號,
# 长乐路100弄5号. The road's name lies left of the match and is checked by _address_start.
_ROAD_CORE = re.compile(rf"(?:大街|大道|路|街|巷|胡同|道)\s?(?:(?:{_ADDRESS_NUMBER}|[东西南北中東])\s?段\s?)?"
                        # a lane may end the address (春申路88弄: a Shanghai compound)
                        rf"(?:{_ADDRESS_NUMBER}\s?[巷弄](?:\s?{_ADDRESS_NUMBER}\s?[巷弄])?(?:\s?{_HOUSE})?|{_HOUSE})"
                        rf"(?:[院](?={_BUILDING_PART}))?{_BUILDING_NAME}"
                        rf"(?:{_BUILDING_PART})*{_ROOM_DIGITS}")
# A building with a unit or a room number: 3栋1201室, 5号楼2单元301. A room number has three or
# more digits, so floor plans (一栋三室两厅) and quantities (两栋三层) stay.
_BUILDING_CORE = re.compile(
    rf"(?:{_ADDRESS_NUMBER}|[A-Za-z])\s?(?:栋|棟|幢|座|号楼|號樓)\s?"
    rf"(?:{_ADDRESS_NUMBER}\s?(?:单元|單元)|[0-9０-９零〇一二两兩三四五六七八九]{{3,5}}\s?(?:室|房)"
    # 7栋1203: a room number without 室, unless a unit makes it a quantity (3栋2000平)
    rf"|[0-9０-９]{{3,5}}{_NOT_QUANTITY})"
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
                        "來路", "去路", "老路", "逛街", "上街", "满街", "滿街",
                        # 道 ends Hong Kong and Shenzhen roads (廣東道, 高新南九道) and many other words
                        "知道", "味道", "频道", "頻道", "渠道", "通道", "管道", "车道", "車道", "跑道", "轨道", "軌道",
                        "赛道", "賽道", "隧道", "难道", "難道", "报道", "報道", "一道", "航道", "坡道", "走道",
                        "过道", "過道", "门道", "門道", "街道", "步道"})
_LEAD_MAX = 24  # characters of place names looked at left of a road or building


def _place_run_start(text: str, end: int) -> tuple[int, bool]:
    """Start of the run of Chinese characters (single spaces allowed) that ends at ``end``,
    cut after the last lead-in word and at most ``_LEAD_MAX`` characters long; and whether a
    lead-in word (在, 到了, 地址) cut it, which says where the place names begin."""
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
    return start, bool(lead_ins)


def _cap_name(text: str, start: int, mark_start: int, cap: int, after_lead_in: bool = False) -> int:
    """Where the first place name before ``mark_start`` begins, given no punctuation says so:
    after a space, at a known long name, else the last ``cap`` characters — or up to two more
    when a lead-in word ends the words before (搬到了南山区: 南山, not 山, whose 区 is no marker)."""
    # Spaces are allowed after a marker (上海市 浦东新区); one inside the first name separates it
    # from the words before (十二点 育才路).
    start = max(start, text.rfind(" ", start, mark_start) + 1)
    name = text[start:mark_start]
    for place in _LONG_PLACE_NAMES:
        if name.endswith(place):
            return mark_start - len(place)
    if after_lead_in and " " not in name and len(name) <= cap + 2:
        return start
    return max(start, mark_start - cap)


def _address_start(text: str, core_start: int, is_road: bool) -> int | None:
    """Start of the address whose road marker or building number is at ``core_start``.

    Left of it lie the road's name and the administrative units (上海市浦东新区张江…). Their
    inner boundaries are the markers (市, 新区); only the first name has nothing to end it on the
    left, so it is cut at a lead-in word (在, 地址) and then to two characters after a one-character
    marker (市, 区, 省), four after a longer one (园区, 花园) or before a road, unless it ends in a
    known longer place name. ``None`` when a road has no name (这条路3号 is a date, not an address).
    """
    start, after_lead_in = _place_run_start(text, core_start)
    marks = list(_MARK.finditer(text, start, core_start))
    if is_road:
        # Estates do not come before a road, and a marker character inside the road's own
        # name (花园路, 县前街) is not a boundary: the road keeps at least two characters.
        marks = [mark for mark in marks if mark.group("admin") and mark.end() <= core_start - 2]
    if marks and marks[0].start() == start:
        # A marker with no name before it (digits or a lead-in word ended the run): not a place.
        start = marks[0].end()
        marks = marks[1:]
        after_lead_in = True
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
    return _cap_name(text, start, first.start(), 2 if short else 4, after_lead_in)


def _address_hits(text: str) -> Iterable[_Hit]:
    for core, is_road in ((_ROAD_CORE, True), (_BUILDING_CORE, False)):
        for found in core.finditer(text):
            start = _address_start(text, found.start(), is_road)
            if start is None:
                continue
            end = found.end()
            value = re.sub(r"\s", "", unicodedata.normalize("NFKC", text[start:end]))
            yield _Hit(Span(start, end, "address", text[start:end]), value)



# English street addresses: a house number, capitalised words and a street type, then an
# optional suite and the city, state and ZIP ("500 Howard Street, Suite 300, San Francisco, CA
# 94105"). Lower-case ASR text is not covered: "40 units down the road" must stay.
_EN_STREET_TYPE = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Way|Court|Ct|Place|Pl|Parkway|"
                   r"Pkwy|Terrace|Highway|Hwy|Square|Sq|Plaza)")
_EN_ADDRESS = re.compile(
    r"(?<![A-Za-z0-9$€£¥.,])\d{1,6}[A-Z]?\s+(?:(?:N|S|E|W|North|South|East|West)\.?\s+)?"
    rf"(?:(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th))\s+){{1,3}}{_EN_STREET_TYPE}\.?(?![A-Za-z])"
    r"(?:,?\s*(?i:suite|ste\.?|apt\.?|apartment|unit|floor|fl\.?|room|rm\.?|#)\s*[A-Za-z0-9-]*[0-9][A-Za-z0-9-]*)?"
    r"(?:,\s*[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?(?:,\s*[A-Z]{2}(?:\s+\d{5}(?:-\d{4})?)?)?)?")


def _en_address_hits(text: str) -> Iterable[_Hit]:
    for found in _EN_ADDRESS.finditer(text):
        value = " ".join(unicodedata.normalize("NFKC", found.group(0)).lower().replace(",", " ").split())
        yield _Hit(Span(found.start(), found.end(), "address", found.group(0)), value)


# --- custom patterns -----------------------------------------------------------------------


def _pattern_hits(text: str, patterns: Sequence[tuple[str, str, str | None]]) -> Iterable[_Hit]:
    for kind, regex, _placeholder in patterns:
        for found in compile_pattern(kind, regex).finditer(text):
            if found.end() > found.start():
                value = re.sub(r"\s", "", unicodedata.normalize("NFKC", found.group(0)))
                yield _Hit(Span(found.start(), found.end(), kind, found.group(0)), value)


# --- the public functions ------------------------------------------------------------------


def _select(hits: list[_Hit], kept: list[_Hit], rank: dict[str, int]) -> None:
    """Add to ``kept`` (sorted by start, never overlapping) the ``hits`` that overlap nothing
    kept: longest first, then by kind order."""
    hits.sort(key=lambda hit: (hit.span.start - hit.span.end, rank.get(hit.span.kind, len(rank)), hit.span.start))
    starts = [hit.span.start for hit in kept]
    for hit in hits:
        at = bisect.bisect_left(starts, hit.span.start)
        if (at == 0 or kept[at - 1].span.end <= hit.span.start) and (
                at == len(kept) or hit.span.end <= starts[at]):
            kept.insert(at, hit)
            starts.insert(at, hit.span.start)


def _find(text: str, names: Sequence[str], patterns: Sequence[tuple[str, str, str | None]] = ()) -> list[_Hit]:
    if isinstance(names, str):
        names = (names,)  # a lone name, not a sequence of one-character names
    hits = [*_number_hits(text), *_spoken_en_hits(text), *_context_hits(text), *_email_hits(text),
            *_wechat_hits(text), *_name_hits(text, names), *_address_hits(text), *_en_address_hits(text),
            *_pattern_hits(text, patterns)]
    rank = {kind: position for position, kind in enumerate((*KINDS, *(kind for kind, _, _ in patterns)))}
    kept: list[_Hit] = []
    # Structural findings first; guesses from context or the way a number was said fill the gaps.
    for tier in (1, 2):
        _select([hit for hit in hits if hit.tier == tier], kept, rank)
    return kept


def find_pii(text: str, names: Sequence[str] = (), *, config: RedactionConfig | None = None) -> list[Span]:
    """Every piece of personal data in ``text``: non-overlapping spans sorted by start.

    Where candidates overlap, the longest wins (an e-mail address over the phone number that is
    its local part), then the earlier kind in :data:`KINDS`, then the config's own patterns in
    their order. A ``phone`` known only from context or from digits read out is kept only where
    nothing else was found.

    ``names`` are exact known names (customer and contact names from the metadata). Each is
    found as written and in the other script (李建国/李建國). A Chinese full name of two to four
    characters is also found as surname + title: 李总, 李经理, 李先生, 李女士, 李小姐, 李老师, 李姐,
    李哥 (and 李总监, 李总裁, 李总经理 whole). Chinese has no word boundaries, so these forms match
    as substrings — 李总 inside 李总监 would match too; listing 总监 masks the whole title instead
    of leaving 监 behind. A title form names anyone with that surname, not only this person.
    Latin names match as whole words, case-insensitively, also after Mr/Mrs/Ms/Miss/Dr with the
    first or last word. Names shorter than two characters are ignored.

    ``config`` adds its extra patterns (its mode and language do not matter here).
    """
    return [hit.span for hit in _find(text, names, config.patterns if config else ())]


_LATIN_WORD = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]+")


def line_language(text: str, spans: Iterable[Span] = ()) -> str:
    """``zh`` or ``en``: the language of one line, for ``lang="auto"``.

    Chinese when its Chinese characters are at least as many as its Latin words (one character
    carries about what a word does: "我的email是" is Chinese, "Send it to 张经理 please" English),
    counted outside ``spans`` (an e-mail address does not make a line English), or over the whole
    line when nothing is left outside them. A line with neither (only digits) is Chinese, the
    board's first language.
    """
    pieces, position = [], 0
    for span in sorted(spans, key=lambda span: span.start):
        pieces.append(text[position:span.start])
        position = max(position, span.end)
    pieces.append(text[position:])
    for words in (" ".join(pieces), text):  # a line that is all personal data: its own words
        chinese = len(_CJK_CHAR.findall(words))
        latin = len(_LATIN_WORD.findall(words))
        if chinese or latin:
            return "zh" if chinese >= latin else "en"
    return "zh"


@lru_cache(maxsize=64)
def _config(mode: str, lang: str, salt: str) -> RedactionConfig:
    return RedactionConfig(mode=mode, lang=lang, salt=salt)


def _replacement(hit: _Hit, config: RedactionConfig, lang: str, custom: dict[str, str]) -> str:
    if config.mode == "mask":
        return custom.get(hit.span.kind) or PLACEHOLDER_SETS[lang][hit.span.kind]
    digest = hashlib.sha256((config.salt + hit.value).encode("utf-8")).hexdigest()[:8]
    return f"[{hit.span.kind}:{digest}]"


def _line_languages(text: str, hits: Sequence[_Hit], lang: str) -> Callable[[int], str]:
    """The placeholder language at each position of ``text``."""
    if lang != "auto":
        return lambda _position: lang
    bounds, languages, position = [], [], 0
    for line in text.splitlines(keepends=True) or [""]:
        end = position + len(line)
        spans = [hit.span for hit in hits if hit.span.start < end and hit.span.end > position]
        languages.append(line_language(line, [Span(max(0, s.start - position), s.end - position, s.kind, s.text)
                                              for s in spans]))
        bounds.append(end)
        position = end
    return lambda at: languages[min(bisect.bisect_right(bounds, at), len(languages) - 1)]


def _redacted_pieces(text: str, config: RedactionConfig, names: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(start, end, replacement)`` for every span to replace, sorted by start."""
    hits = _find(text, names, config.patterns)
    language_at = _line_languages(text, hits, config.lang)
    custom = {kind: placeholder for kind, _, placeholder in config.patterns}
    return [(hit.span.start, hit.span.end, _replacement(hit, config, language_at(hit.span.start), custom))
            for hit in hits]


def redact_with(text: str, config: RedactionConfig, names: Sequence[str] = ()) -> str:
    """``text`` redacted as ``config`` says (see :func:`redact` for the modes and
    :class:`~pipeline.privacy.config.RedactionConfig` for the rest). With ``lang="auto"`` each
    line gets the placeholders of its own language (:func:`line_language`); extra patterns get
    their own placeholder in every language."""
    if config.mode == "off":
        return text
    pieces: list[str] = []
    position = 0
    for start, end, replacement in _redacted_pieces(text, config, names):
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def redact(text: str, mode: str = "mask", names: Sequence[str] = (), salt: str = "", *, lang: str = "zh") -> str:
    """``text`` with its personal data (see :func:`find_pii`) replaced.

    ``off``: the text unchanged. ``mask``: each span becomes its kind's placeholder in ``lang``:
    ``zh`` (the default: [手机号], [电话], [身份证], [银行卡], [邮箱], [微信], [姓名], [地址], [号码]
    whatever the language of the text), ``en`` ([PHONE], [ID], [CARD], [EMAIL], [WECHAT], [NAME],
    [ADDRESS], [NUMBER]) or ``auto`` (per line, :func:`line_language`).
    ``hash``: each span becomes ``[<kind>:<8 hex digits>]``, the start of
    ``sha256(salt + normalised value)``, so the same person's number or address gets the same
    token in every conversation and two spans can be linked without being read. Numbers are
    normalised to their Arabic digits without separators and country prefix (+86 138-1234-5678,
    一三八一二三四五六七八 and "one three eight one two three four five six seven eight" agree);
    names to the name given, e-mail addresses and WeChat IDs to lower case (spoken addresses to
    their written form), addresses to NFKC without white space. Use a secret ``salt``: without
    one, a mobile number's token can be found by hashing every possible number.
    """
    return redact_with(text, _config(mode, lang, salt), names)
