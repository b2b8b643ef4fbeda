"""Whole conversations redacted before storing (redact_conversation), and configs/privacy.yaml
(load_privacy_config): its defaults, the salt from the environment, and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.analyze import fingerprint
from pipeline.events import RuleTagger
from pipeline.models import Utterance, Word
from pipeline.privacy import (
    SALT_VARIABLE,
    PrivacyConfig,
    RedactionConfig,
    RedactionConfigError,
    load_privacy_config,
    redact_conversation,
)

ROOT = Path(__file__).resolve().parents[3]
MASK = RedactionConfig(mode="mask", lang="auto")


@pytest.fixture
def chat(make_conversation):
    return make_conversation([
        ("rep", "李总您好，我是云启科技的王磊"),
        ("customer", "我手机13812345678，邮箱zhang.san@qq.com"),
        ("rep", "好的，周四下午三点给您演示"),
    ], conversation_id="c-1", customer="李女士")


def test_texts_are_masked_and_only_changed_utterances_have_originals(chat):
    redacted, originals = redact_conversation(chat, MASK)
    assert [u.text for u in redacted.utterances] == [
        "李总您好，我是云启科技的王磊", "我手机[手机号]，邮箱[邮箱]", "好的，周四下午三点给您演示"]
    assert originals == {1: "我手机13812345678，邮箱zhang.san@qq.com"}
    # The id is the content hash of the original (re-runs skip it); names and metadata stay.
    assert redacted.conversation_id == "c-1"
    assert redacted.meta == chat.meta
    assert [u.speaker_name for u in redacted.utterances] == [u.speaker_name for u in chat.utterances]
    assert redacted.utterances[0] is chat.utterances[0]


def test_word_tokens_are_masked_with_their_timestamps_kept(chat):
    words = (Word(0.0, 0.4, "我手机"), Word(0.4, 0.9, "一三八"), Word(0.9, 1.5, "一二三四"), Word(1.5, 2.0, "五六七八"))
    call = chat.__class__(**{**chat.__dict__, "utterances": (
        Utterance(0, "customer", "李女士", "我手机一三八一二三四五六七八", 0.0, 2.0, words=words),)})
    redacted, originals = redact_conversation(call, MASK)
    (utterance,) = redacted.utterances
    assert utterance.text == "我手机[手机号]"
    assert [w.text for w in utterance.words] == ["我手机", "[手机号]", "", ""]
    assert [(w.start_s, w.end_s) for w in utterance.words] == [(w.start_s, w.end_s) for w in words]
    assert originals == {0: "我手机一三八一二三四五六七八"}


def test_hash_mode_gives_salted_tokens(chat):
    redacted, _ = redact_conversation(chat, RedactionConfig(mode="hash", lang="auto", salt="s3cret"))
    text = redacted.utterances[1].text
    assert "13812345678" not in text and text.startswith("我手机[mobile:") and "[email:" in text


def test_off_mode_changes_nothing(chat):
    assert redact_conversation(chat, RedactionConfig(mode="off")) == (chat, {})


def test_a_conversation_without_personal_data_comes_back_as_it_was(make_conversation):
    chat = make_conversation([("rep", "您好"), ("customer", "太贵了，隔壁才69。")])
    assert redact_conversation(chat, MASK) == (chat, {})


def test_the_privacy_settings_are_part_of_the_fingerprint_but_not_the_salt(chat, sop):
    tagger = RuleTagger()
    stamps = {name: fingerprint(chat, sop, tagger, config.fingerprint()) for name, config in {
        "mask": PrivacyConfig(),
        "en": PrivacyConfig(RedactionConfig(mode="mask", lang="en")),
        "keep": PrivacyConfig(keep_original=True),
        "pattern": PrivacyConfig(RedactionConfig(mode="mask", lang="auto", patterns=(("contract_no", r"HT-\d{8}"),))),
    }.items()}
    assert len(set(stamps.values())) == 4
    salted = [PrivacyConfig(RedactionConfig(mode="hash", lang="auto", salt=salt)) for salt in ("a", "b")]
    assert fingerprint(chat, sop, tagger, salted[0].fingerprint()) == fingerprint(chat, sop, tagger,
                                                                                  salted[1].fingerprint())
    assert "salt" not in PrivacyConfig().fingerprint() and "s3cret" not in repr(salted[0])


# -- configs/privacy.yaml ------------------------------------------------------------------

def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "privacy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_bundled_config_masks_and_keeps_no_originals():
    config = load_privacy_config(ROOT / "configs" / "privacy.yaml", environ={})
    assert config == PrivacyConfig(RedactionConfig(mode="mask", lang="auto"), keep_original=False)


def test_a_missing_file_means_mask_unless_it_was_asked_for(tmp_path):
    assert load_privacy_config(tmp_path / "none.yaml", required=False, environ={}) == PrivacyConfig()
    with pytest.raises(RedactionConfigError, match=r"none\.yaml: cannot read the privacy config .*--privacy"):
        load_privacy_config(tmp_path / "none.yaml", environ={})


def test_patterns_and_keep_original_are_read(tmp_path):
    path = _write(tmp_path, "mode: mask\nlang: zh\nkeep_original: true\npatterns:\n"
                            "  - kind: contract_no\n    regex: 'HT-\\d{8}'\n    mask: \"[合同号]\"\n")
    config = load_privacy_config(path, environ={})
    assert config.keep_original is True
    assert config.redaction.patterns == (("contract_no", r"HT-\d{8}", "[合同号]"),)


def test_hash_mode_takes_the_salt_from_the_environment(tmp_path):
    path = _write(tmp_path, "mode: hash\n")
    config = load_privacy_config(path, environ={SALT_VARIABLE: "s3cret"})
    assert (config.redaction.mode, config.redaction.salt) == ("hash", "s3cret")


def test_hash_mode_without_the_salt_names_the_variable(tmp_path):
    path = _write(tmp_path, "mode: hash\n")
    with pytest.raises(RedactionConfigError) as caught:
        load_privacy_config(path, environ={})
    assert str(caught.value).startswith(f"{path}: mode is hash but the environment variable {SALT_VARIABLE} "
                                        "is not set")


@pytest.mark.parametrize(("text", "message"), [
    ("salt: abc\n", r"key 'salt': the hash salt is a secret .* set the environment variable KEYNODE_REDACT_SALT"),
    ("mode: blur\n", r"unknown redaction mode 'blur'; expected one of: off, mask, hash"),
    ("lang: fr\n", r"unknown redaction language 'fr'"),
    ("keep_original: yes please\n", r"key 'keep_original' must be true or false"),
    ("keep: true\n", r"unknown key\(s\) keep\. Use only mode, lang, keep_original, patterns"),
    ("patterns:\n  - kind: x1\n    regex: '('\n", r"invalid regular expression"),
    ("mode: [mask\n", r"invalid YAML at line 2"),
    ("- mask\n", r"must be a mapping"),
])
def test_config_errors_name_the_file_and_the_fix(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(RedactionConfigError, match=message) as caught:
        load_privacy_config(path, environ={SALT_VARIABLE: "s"})
    assert str(caught.value).startswith(f"{path}: ")
