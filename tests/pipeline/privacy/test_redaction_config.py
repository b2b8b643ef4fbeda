"""Language-aware placeholders, RedactionConfig / load_redaction_config and redact_with."""

import hashlib

import pytest

from pipeline.privacy import (RedactionConfig, RedactionConfigError, find_pii, line_language, load_redaction_config,
                              redact, redact_with)

LINE_ZH = "我手机号是13812345678 邮箱li@acme.cn 身份证11010519491231002X"
LINE_EN = "Call me at +1 415 555 0100 or mail sarah@acme.io, card 4111 1111 1111 1111"


# --- placeholders by language -----------------------------------------------------------------

def test_default_is_chinese_placeholders_whatever_the_text():
    # the board calls redact(text, "mask", names): unchanged
    assert redact(LINE_EN) == "Call me at [电话] or mail [邮箱], card [银行卡]"
    assert redact("李总 Sarah Chen", "mask", ["李建国", "Sarah Chen"]) == "[姓名] [姓名]"


def test_english_placeholders():
    assert redact(LINE_EN, lang="en") == "Call me at [PHONE] or mail [EMAIL], card [CARD]"
    assert redact(LINE_ZH, lang="en") == "我手机号是[PHONE] 邮箱[EMAIL] 身份证[ID]"
    assert redact("加我微信zhang_san88 住张江路88号 李总", names=["李建国"], lang="en") == \
        "加我微信[WECHAT] 住[ADDRESS] [NAME]"


def test_chinese_placeholders():
    assert redact(LINE_ZH, lang="zh") == "我手机号是[手机号] 邮箱[邮箱] 身份证[身份证]"
    assert redact(LINE_EN, lang="zh") == "Call me at [电话] or mail [邮箱], card [银行卡]"


def test_auto_decides_per_line():
    text = f"{LINE_ZH}\n{LINE_EN}\r\n\nHi Sarah Chen\n李总好"
    assert redact(text, names=["Sarah Chen", "李建国"], lang="auto") == (
        "我手机号是[手机号] 邮箱[邮箱] 身份证[身份证]\n"
        "Call me at [PHONE] or mail [EMAIL], card [CARD]\r\n\n"
        "Hi [NAME]\n"
        "[姓名]好")


@pytest.mark.parametrize("line, language", [
    ("我的email是 x@y.com", "zh"),  # Chinese characters against Latin words
    ("Send it to 张经理 please", "en"),
    ("好的 thanks", "zh"),
    ("13812345678", "zh"),  # neither: the board's first language
    ("", "zh"),
    ("sarah@acme.io", "en"),  # all personal data: its own words decide
    ("一三八一二三四五六七八", "zh"),
])
def test_line_language(line, language):
    assert line_language(line, find_pii(line)) == language


def test_hash_tokens_do_not_depend_on_the_language():
    assert redact(LINE_EN, mode="hash", lang="en") == redact(LINE_EN, mode="hash", lang="zh")


def test_unknown_language():
    with pytest.raises(ValueError, match="'fr'.*zh, en, auto"):
        redact("13812345678", lang="fr")


# --- RedactionConfig ----------------------------------------------------------------------------

def test_config_defaults_match_redact():
    config = RedactionConfig()
    assert (config.mode, config.lang, config.patterns, config.salt) == ("mask", "zh", (), "")
    assert redact_with(LINE_ZH, config) == redact(LINE_ZH)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        RedactionConfig().mode = "hash"


def test_extra_patterns():
    config = RedactionConfig(patterns=(("contract_no", r"HT-\d{8}", "[合同号]"), ("plate", r"沪[A-Z]·?\w{5}", None)))
    assert config.patterns[1] == ("plate", r"沪[A-Z]·?\w{5}", "[plate]")  # default placeholder
    assert redact_with("合同HT-20260315 车牌沪A·D8392 电话13812345678", config) == "合同[合同号] 车牌[plate] 电话[手机号]"
    # the pattern's placeholder is the same in every language
    english = RedactionConfig(lang="en", patterns=config.patterns)
    assert redact_with("contract HT-20260315, call 13812345678", english) == "contract [合同号], call [PHONE]"
    assert [span.kind for span in find_pii("HT-20260315", config=config)] == ["contract_no"]


def test_extra_patterns_in_hash_mode():
    config = RedactionConfig(mode="hash", salt="s", patterns=(("contract_no", r"HT-\d{8}", "[合同号]"),))
    digest = hashlib.sha256(b"sHT-20260315").hexdigest()[:8]
    assert redact_with("合同HT-20260315", config) == f"合同[contract_no:{digest}]"


def test_the_longest_span_wins_between_builtin_and_extra_kinds():
    config = RedactionConfig(patterns=(("ticket", r"T\d{13}", "[工单]"),))
    # the pattern covers the letter as well: it is longer than the built-in long number
    assert redact_with("工单T2026030512345", config) == "工单[工单]"


def test_off_mode():
    config = RedactionConfig(mode="off", patterns=(("contract_no", r"HT-\d{8}", None),))
    assert redact_with(LINE_ZH, config) is LINE_ZH


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "blur"}, "unknown redaction mode 'blur'; expected one of: off, mask, hash"),
    ({"lang": "fr"}, "unknown redaction language 'fr'"),
    ({"patterns": (("Contract", "x+", None),)}, "kind 'Contract' must be a lower-case name"),
    ({"patterns": (("mobile", r"\d+", None),)}, "mobile is a built-in kind"),
    ({"patterns": (("a_b", "x+", None), ("a_b", "y+", None))}, "listed twice"),
    ({"patterns": (("contract_no", r"HT-[0-9", "[合同号]"),)}, r"'contract_no': invalid regular expression"),
    ({"patterns": (("contract_no", r"\d*", None),)}, "matches empty text"),
    ({"patterns": ("HT-\\d{8}",)}, "expected \\(kind, regex, placeholder\\)"),
])
def test_config_errors(kwargs, message):
    with pytest.raises(RedactionConfigError, match=message):
        RedactionConfig(**kwargs)


# --- load_redaction_config ----------------------------------------------------------------------

def test_load_the_documented_example():
    config = load_redaction_config({"mode": "mask", "lang": "auto",
                                    "patterns": [{"kind": "contract_no", "regex": "HT-\\d{8}", "mask": "[合同号]"}]})
    assert config == RedactionConfig(mode="mask", lang="auto", patterns=(("contract_no", r"HT-\d{8}", "[合同号]"),))
    assert redact_with("合同HT-20260315签了", config) == "合同[合同号]签了"


def test_load_defaults():
    assert load_redaction_config({}) == load_redaction_config(None) == RedactionConfig()
    assert load_redaction_config({"patterns": None, "salt": "x"}).salt == "x"


def test_load_from_yaml_text():
    yaml = pytest.importorskip("yaml")
    config = load_redaction_config(yaml.safe_load(
        "mode: hash\nsalt: pepper\npatterns:\n  - kind: contract_no\n    regex: 'HT-\\d{8}'\n"))
    assert config.patterns == (("contract_no", r"HT-\d{8}", "[contract_no]"),)
    assert (config.mode, config.salt) == ("hash", "pepper")


def test_an_unquoted_mode_off_in_yaml_means_off():
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load("mode: off\n") == {"mode": False}  # YAML 1.1, as PyYAML reads it
    assert load_redaction_config(yaml.safe_load("mode: off\n")).mode == "off"
    with pytest.raises(RedactionConfigError, match="mode must be text, not bool"):
        load_redaction_config(yaml.safe_load("mode: on\n"))


@pytest.mark.parametrize("mapping, message", [
    ([1, 2], "must be a mapping"),
    ({"mdoe": "mask"}, "unknown key\\(s\\) mdoe; expected: mode, lang, patterns, salt"),
    ({"mode": 3}, "mode must be text"),
    ({"patterns": {"kind": "x"}}, "patterns must be a list"),
    ({"patterns": ["HT-\\d{8}"]}, r"patterns\[0\] must be a mapping"),
    ({"patterns": [{"kind": "contract_no"}]}, r"patterns\[0\]: 'regex' is missing"),
    ({"patterns": [{"kind": "contract_no", "regex": "x+", "colour": "red"}]}, r"patterns\[0\]: unknown key\(s\) colour"),
    ({"patterns": [{"kind": "contract_no", "regex": "HT-(\\d{8}"}]},
     r"redaction pattern 'contract_no': invalid regular expression 'HT-\(\\\\d\{8\}' \(missing \), unterminated "
     r"subpattern at position 3\); fix the regex"),
])
def test_load_errors_name_the_key_and_the_fix(mapping, message):
    with pytest.raises(RedactionConfigError, match=message):
        load_redaction_config(mapping)
