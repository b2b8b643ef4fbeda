"""``keynode redact`` (pipeline/privacy/command.py), driven through main() with StringIO."""

import argparse
import io
import json

import pytest

from pipeline.privacy import command
from pipeline.privacy.command import add_arguments, handle, main, run_redact


def run(argv, text):
    stdout = io.StringIO()
    status = main(argv, io.StringIO(text, newline=""), stdout)
    return status, stdout.getvalue()


def test_one_line_out_per_line_in():
    text = "我手机号是13812345678\nCall me at 415 555 0100\n\n价格是九千八\n李总 邮箱li@acme.cn"
    status, out = run([], text)
    assert status == 0
    assert out == "我手机号是[手机号]\nCall me at [PHONE]\n\n价格是九千八\n李总 邮箱[邮箱]"  # auto by default
    assert out.count("\n") == text.count("\n")


@pytest.mark.parametrize("lang, expected", [
    ("zh", "电话[手机号]\nphone [电话]\n"),
    ("en", "电话[PHONE]\nphone [PHONE]\n"),
    ("auto", "电话[手机号]\nphone [PHONE]\n"),
])
def test_lang(lang, expected):
    assert run(["--lang", lang], "电话13812345678\nphone 415-555-0100\n") == (0, expected)


def test_line_ends_and_empty_lines_are_kept():
    status, out = run(["--lang", "zh"], "13812345678\r\n\r\n\n  \nlast 13812345678")
    assert out == "[手机号]\r\n\r\n\n  \nlast [手机号]"


def test_hash_mode_with_a_salt_from_the_environment(monkeypatch):
    monkeypatch.setenv("KEYNODE_REDACT_SALT", "pepper")
    _, salted = run(["--mode", "hash"], "一三八一二三四五六七八\n138-1234-5678\n")
    first, second = salted.splitlines()
    assert first == second and first.startswith("[mobile:")
    monkeypatch.delenv("KEYNODE_REDACT_SALT")
    assert run(["--mode", "hash"], "138-1234-5678\n")[1] != second + "\n"


def test_config_file_adds_patterns(tmp_path):
    config = tmp_path / "redaction.yaml"
    config.write_text("patterns:\n  - kind: contract_no\n    regex: 'HT-\\d{8}'\n    mask: '[合同号]'\n", encoding="utf-8")
    assert run(["--config", str(config)], "合同HT-20260315 电话13812345678\n") == (0, "合同[合同号] 电话[手机号]\n")
    as_json = tmp_path / "redaction.json"
    as_json.write_text(json.dumps({"lang": "en", "patterns": [{"kind": "contract_no", "regex": "HT-\\d{8}"}]}))
    assert run(["--config", str(as_json)], "合同HT-20260315 电话13812345678\n") == (0, "合同[contract_no] 电话[PHONE]\n")
    assert run(["--config", str(as_json), "--lang", "zh"], "电话13812345678\n") == (0, "电话[手机号]\n")


@pytest.mark.parametrize("content, message", [
    ("patterns:\n  - kind: contract_no\n    regex: 'HT-(\\d{8}'\n", "pattern 'contract_no': invalid regular expression"),
    ("mode: blur\n", "unknown redaction mode 'blur'"),
    ("patterns: [unclosed\n", "is not valid YAML"),
])
def test_a_bad_config_stops_with_a_message(tmp_path, capsys, content, message):
    config = tmp_path / "redaction.yaml"
    config.write_text(content, encoding="utf-8")
    status, out = run(["--config", str(config)], "13812345678\n")
    assert (status, out) == (2, "")
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and str(config) in err


def test_a_missing_config_file(tmp_path, capsys):
    assert run(["--config", str(tmp_path / "nope.yaml")], "x\n") == (2, "")
    assert "cannot read redaction config" in capsys.readouterr().err


def test_bad_arguments_exit_like_argparse():
    with pytest.raises(SystemExit) as stopped:
        run(["--lang", "fr"], "")
    assert stopped.value.code == 2


def test_run_redact():
    lines = ["13812345678\n", "\n", "Call 415-555-0100", "a\nb 13812345678\n"]
    assert list(run_redact(lines, "zh")) == ["[手机号]\n", "\n", "Call [电话]", "a\nb [手机号]\n"]
    assert list(run_redact(["13812345678\n"], "en", "hash"))[0].startswith("[mobile:")
    assert list(run_redact(iter([]), "auto")) == []


def test_registering_as_a_subcommand(monkeypatch):
    # what pipeline/cli.py will do: a subparser, add_arguments, then args.handler(args)
    parser = argparse.ArgumentParser(prog="keynode")
    commands = parser.add_subparsers(dest="command", required=True)
    add_arguments(commands.add_parser("redact", help=command.HELP))
    args = parser.parse_args(["redact", "--lang", "en"])
    assert args.handler is handle and (args.lang, args.mode, args.config) == ("en", None, None)

    stdin = io.TextIOWrapper(io.BytesIO("电话13812345678\r\n价格九千八\n".encode()), encoding="utf-8")
    out = io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    monkeypatch.setattr("sys.stdout", stdout)
    assert args.handler(args) == 0
    assert out.getvalue().decode() == "电话[PHONE]\r\n价格九千八\n"
