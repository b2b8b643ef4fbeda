"""The kinds of personal data the redactor knows, and their mask placeholders in each language.

Placeholders have the shape of WeChat sticker codes ([微笑], [Smile]), so that
``pipeline.text.normalize`` drops the ones of up to six characters and masked text is tagged
like text without the data. Every telephone kind shares one placeholder: a reader needs
"a number was here", not which numbering plan it followed.
"""

from __future__ import annotations

REDACTION_MODES: tuple[str, ...] = ("off", "mask", "hash")
#: ``zh``/``en``: placeholders in that language; ``auto``: per line, by its share of Chinese.
LANGUAGES: tuple[str, ...] = ("zh", "en", "auto")

#: Chinese placeholders (the default: the board is Chinese-first).
PLACEHOLDERS: dict[str, str] = {
    "mobile": "[手机号]",
    "landline": "[电话]",
    "id_card": "[身份证]",
    "bank_card": "[银行卡]",
    "email": "[邮箱]",
    "wechat_id": "[微信]",
    "qq": "[QQ号]",
    "person_name": "[姓名]",
    "address": "[地址]",
    "us_phone": "[电话]",
    "intl_phone": "[电话]",
    "phone": "[电话]",
    "long_number": "[号码]",
}
PLACEHOLDERS_EN: dict[str, str] = {
    "mobile": "[PHONE]",
    "landline": "[PHONE]",
    "id_card": "[ID]",
    "bank_card": "[CARD]",
    "email": "[EMAIL]",
    "wechat_id": "[WECHAT]",
    "qq": "[QQ]",
    "person_name": "[NAME]",
    "address": "[ADDRESS]",
    "us_phone": "[PHONE]",
    "intl_phone": "[PHONE]",
    "phone": "[PHONE]",
    "long_number": "[NUMBER]",
}
PLACEHOLDER_SETS: dict[str, dict[str, str]] = {"zh": PLACEHOLDERS, "en": PLACEHOLDERS_EN}

#: Every built-in kind :func:`pipeline.privacy.find_pii` reports. The order breaks ties between
#: equally long spans: "400-820-8820" is a Chinese service number before it is a North American
#: one, an 18-digit resident ID before a bank card, and ``long_number`` (any other run of 13–19
#: digits) and ``phone`` (a number known only by how it was said) come last.
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)
