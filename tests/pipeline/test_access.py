"""Accounts of the review board: password hashes, the users file, logging in, ``keynode user``."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest

from pipeline import access
from pipeline.access import (DEFAULT_ITERATIONS, ROLES, UserRecord, UsersConfigError, Viewer, authenticate,
                             hash_password, load_users, save_user, users_path, verify_password)
from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_USERS = ROOT / "configs" / "users.yaml"
DEMO_PASSWORD = "keynode-demo"
# Few iterations keep the tests that only need *a* valid hash fast; the count is in the hash.
QUICK_HASH = hash_password("secret", iterations=1_000)


@pytest.fixture(scope="module")
def shipped_users() -> dict[str, UserRecord]:
    return load_users(SHIPPED_USERS)


# --- passwords -------------------------------------------------------------------------------

def test_hash_then_verify_and_a_wrong_password():
    stored = hash_password("correct horse", iterations=1_000)
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("Correct horse", stored)


def test_the_stored_format_is_pbkdf2_sha256_with_a_16_byte_salt():
    stored = hash_password("密码 with ünïcode")
    algorithm, iterations, salt, digest = stored.split("$")
    assert (algorithm, int(iterations)) == ("pbkdf2_sha256", DEFAULT_ITERATIONS)
    assert len(base64.b64decode(salt)) == 16
    assert base64.b64decode(digest) == hashlib.pbkdf2_hmac("sha256", "密码 with ünïcode".encode(),
                                                           base64.b64decode(salt), DEFAULT_ITERATIONS)
    assert verify_password("密码 with ünïcode", stored)


def test_the_same_password_hashes_differently_each_time_but_not_with_the_same_salt():
    first, second = hash_password("secret", iterations=1_000), hash_password("secret", iterations=1_000)
    assert first != second
    assert verify_password("secret", first) and verify_password("secret", second)
    salt = b"0123456789abcdef"
    assert hash_password("secret", iterations=1_000, salt=salt) == hash_password("secret", iterations=1_000, salt=salt)


def test_an_empty_password_is_refused():
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


@pytest.mark.parametrize("stored", [
    "",
    "secret",
    "pbkdf2_sha256$1000$c2FsdA==",  # a part missing
    QUICK_HASH + "$extra",
    QUICK_HASH.replace("pbkdf2_sha256", "pbkdf2_sha1"),
    QUICK_HASH.replace("$1000$", "$abc$"),
    QUICK_HASH.replace("$1000$", "$0$"),
    QUICK_HASH.replace("$1000$", "$-5$"),
    QUICK_HASH[:-4] + "!!!!",  # not base64
    QUICK_HASH.rsplit("$", 1)[0] + "$c2hvcnQ=",  # a digest of the wrong length
    None,
])
def test_a_malformed_stored_hash_never_matches_and_never_raises(stored):
    assert verify_password("secret", stored) is False


# --- roles -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "all_teams", "redacted", "correct", "dispute", "resolve"), [
    ("rep", False, False, False, True, False),
    ("manager", False, False, True, False, True),
    ("trainer", True, True, True, False, False),
    ("admin", True, False, True, False, True),
])
def test_what_each_role_may_do(role, all_teams, redacted, correct, dispute, resolve):
    viewer = Viewer("someone", "Someone", role)
    assert (viewer.sees_all_teams, viewer.redacted, viewer.can_correct_labels, viewer.can_dispute,
            viewer.can_resolve_disputes) == (all_teams, redacted, correct, dispute, resolve)


def test_a_record_never_shows_its_hash():
    record = UserRecord(Viewer("wang.lei", "王磊", "rep", rep="王磊"), QUICK_HASH)
    assert "pbkdf2" not in repr(record)


# --- logging in with the shipped demo accounts -------------------------------------------------

@pytest.mark.parametrize(("username", "expected"), [
    ("admin", Viewer("admin", "管理员", "admin")),
    ("manager.east", Viewer("manager.east", "周经理", "manager", team="华东一组")),
    ("manager.south", Viewer("manager.south", "吴经理", "manager", team="华南二组")),
    ("trainer", Viewer("trainer", "培训师 林老师", "trainer")),
    ("wang.lei", Viewer("wang.lei", "王磊", "rep", team="华东一组", rep="王磊")),
    ("zhang.min", Viewer("zhang.min", "张敏", "rep", team="华东一组", rep="张敏")),
    ("chen.chen", Viewer("chen.chen", "陈晨", "rep", team="华南二组", rep="陈晨")),
    ("emily", Viewer("emily", "Emily Carter", "rep", team="华东一组", rep="Emily Carter", language="en")),
])
def test_each_demo_account_logs_in_with_the_demo_password(shipped_users, username, expected):
    assert authenticate(shipped_users, username, DEMO_PASSWORD) == expected


def test_the_shipped_file_has_exactly_the_demo_accounts_and_matches_the_rep_directory(shipped_users):
    assert set(load_users(SHIPPED_USERS, reps_path=ROOT / "configs" / "reps.yaml")) == set(shipped_users) == {
        "admin", "manager.east", "manager.south", "trainer", "wang.lei", "zhang.min", "chen.chen", "emily"}
    header = SHIPPED_USERS.read_text(encoding="utf-8").split("users:")[0]
    assert "demo" in header and DEMO_PASSWORD in header and "keynode user add" in header


def test_a_username_is_matched_ignoring_case_and_surrounding_spaces(shipped_users):
    assert authenticate(shipped_users, "  Wang.Lei ", DEMO_PASSWORD).username == "wang.lei"


def test_a_wrong_password_or_an_unknown_user_gets_nobody(shipped_users):
    assert authenticate(shipped_users, "wang.lei", "keynode-demo ") is None
    assert authenticate(shipped_users, "wang.lei", "") is None
    assert authenticate(shipped_users, "nobody", DEMO_PASSWORD) is None


def test_an_unknown_user_costs_a_full_password_check(shipped_users, monkeypatch):
    # Otherwise the response time tells which usernames exist.
    checked: list[str] = []
    monkeypatch.setattr(access, "verify_password", lambda password, stored: checked.append(stored) or False)
    assert authenticate(shipped_users, "nobody", DEMO_PASSWORD) is None
    assert len(checked) == 1
    assert int(checked[0].split("$")[1]) == DEFAULT_ITERATIONS
    assert access._parse_hash(checked[0]) is not None


def test_the_users_file_comes_from_the_environment_or_the_default(monkeypatch):
    monkeypatch.delenv("KEYNODE_USERS", raising=False)
    assert users_path() == "configs/users.yaml"
    monkeypatch.setenv("KEYNODE_USERS", "/srv/keynode/users.yaml")
    assert users_path() == "/srv/keynode/users.yaml"


# --- a bad users file --------------------------------------------------------------------------

def _entry(**keys: str) -> str:
    keys.setdefault("password_hash", QUICK_HASH)
    lines = [f"  {name}: {value}" for name, value in keys.items()]
    return "- " + "\n".join(lines)[2:] + "\n"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("users:\n  - username: a\n    role: [admin\n", ["invalid YAML at line 4", "Fix the syntax"],
                 id="broken-yaml"),
    pytest.param("- username: a\n", ["expected one top-level key 'users:'"], id="no-users-key"),
    pytest.param("users:\n" + _entry(username="boss", role="owner"),
                 ["user 1 ('boss')", "unknown role 'owner'", "use one of rep, manager, trainer, admin"],
                 id="unknown-role"),
    pytest.param("users:\n" + _entry(username="admin", role="admin") + _entry(username="Admin", role="admin"),
                 ["user 2 ('Admin')", "duplicate username", "'admin'", "Rename or remove one"], id="duplicate"),
    pytest.param("users:\n" + _entry(username="wang.lei", role="rep", team="华东一组"),
                 ["user 1 ('wang.lei')", "a rep account needs 'rep'", "conversations' rep column"],
                 id="rep-without-rep"),
    pytest.param("users:\n" + _entry(username="boss", role="manager"),
                 ["user 1 ('boss')", "a manager account needs 'team'", "set team to the team they manage"],
                 id="manager-without-team"),
    pytest.param("users:\n" + _entry(username="boss", role="admin", pasword="x", email="b@example.com"),
                 ["user 1 ('boss')", "unknown key(s) pasword, email", "allowed: username, name, role"],
                 id="unknown-keys"),
    pytest.param("users:\n" + _entry(username="wang.lei", role="rep", rep="王磊", team="华东一组",
                                     password_hash="keynode-demo"),
                 ["user 1 ('wang.lei')", "password_hash is not a pbkdf2_sha256",
                  "`keynode user add wang.lei --role rep --team 华东一组 --rep 王磊 --users "],
                 id="plain-password-as-hash"),
    pytest.param("users:\n  - username: boss\n    role: admin\n",
                 ["user 1 ('boss')", "missing password_hash"], id="no-hash"),
    pytest.param("users:\n" + _entry(username="boss", role="manager", team="1"),
                 ["'team' must be a non-empty text, got 1", "quote"], id="number-as-team"),
    pytest.param("users:\n" + _entry(username="boss", role="admin", language="fr"),
                 ["unknown language 'fr'", "zh, en"], id="unknown-language"),
    pytest.param("users:\n" + _entry(username="boss", role="manager", team="华东一组", rep="王磊"),
                 ["only rep accounts have 'rep'", "remove 'rep'"], id="rep-on-a-manager"),
    pytest.param("users:\n" + _entry(username="'wang lei'", role="admin"),
                 ["contains spaces"], id="space-in-username"),
])
def test_a_bad_users_file_names_the_file_and_the_fix(tmp_path, text, expected):
    path = tmp_path / "users.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsersConfigError) as caught:
        load_users(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for fragment in expected:
        assert fragment in message


def test_a_missing_users_file_says_how_to_create_one(tmp_path):
    path = tmp_path / "users.yaml"
    with pytest.raises(UsersConfigError, match="does not exist") as caught:
        load_users(path)
    assert f"keynode user add USERNAME --role admin --users {path}" in str(caught.value)


@pytest.mark.parametrize(("keys", "expected"), [
    ({"rep": "王雷", "team": "华东一组"}, ["rep '王雷' is not in the rep directory", "陈晨", "configs/reps.yaml"]),
    ({"rep": "Emily", "team": "华东一组"}, ["'Emily' is an alias", "'Emily Carter'"]),
    ({"rep": "王磊", "team": "华南二组"}, ["rep '王磊' is in team '华东一组', not '华南二组'"]),
    ({"rep": "王磊", "team": "华东1组"}, ["team '华东1组' is not in the rep directory", "华南二组"]),
])
def test_with_the_rep_directory_a_rep_must_be_a_known_rep_of_that_team(tmp_path, reps_path, keys, expected):
    path = tmp_path / "users.yaml"
    path.write_text("users:\n" + _entry(username="wang.lei", role="rep", **keys), encoding="utf-8")
    load_users(path)  # fine without the directory
    with pytest.raises(UsersConfigError) as caught:
        load_users(path, reps_path=reps_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: user 1 ('wang.lei'): ")
    for fragment in expected:
        assert fragment in message


def test_a_missing_rep_directory_is_an_error_not_an_empty_one(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text("users:\n" + _entry(username="boss", role="admin"), encoding="utf-8")
    with pytest.raises(UsersConfigError, match="rep directory does not exist"):
        load_users(path, reps_path=tmp_path / "reps.yaml")


# --- saving ------------------------------------------------------------------------------------

HEADER = "# Our accounts.\n# Ask Zhou before adding anyone.\n\n"


def test_save_user_adds_and_replaces_keeping_the_others_and_the_header(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text(HEADER + "users:\n" + _entry(username="admin", role="admin", name="管理员")
                    + _entry(username="wang.lei", role="rep", rep="王磊", team="华东一组"), encoding="utf-8")
    newcomer = Viewer("liu.yang", "刘洋", "rep", team="华南二组", rep="刘洋", language="zh")
    save_user(path, UserRecord(newcomer, hash_password("welcome", iterations=1_000)))
    users = load_users(path)
    assert list(users) == ["admin", "wang.lei", "liu.yang"]
    assert users["admin"].viewer == Viewer("admin", "管理员", "admin")
    assert users["admin"].password_hash == QUICK_HASH
    assert authenticate(users, "liu.yang", "welcome") == newcomer
    assert path.read_text(encoding="utf-8").startswith(HEADER + "users:\n")

    # Same username in another case: replaced in place, not added.
    save_user(path, UserRecord(Viewer("Wang.Lei", "王磊", "rep", rep="王磊"), hash_password("new", iterations=1_000)))
    users = load_users(path)
    assert list(users) == ["admin", "wang.lei", "liu.yang"]
    assert authenticate(users, "wang.lei", "new") == Viewer("Wang.Lei", "王磊", "rep", rep="王磊")
    assert authenticate(users, "wang.lei", "secret") is None
    assert path.read_text(encoding="utf-8").startswith(HEADER)
    assert [p.name for p in tmp_path.iterdir()] == ["users.yaml"]  # no temporary file left


def test_save_user_creates_a_missing_file_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "deploy" / "users.yaml"
    save_user(path, UserRecord(Viewer("admin", "Admin", "admin"), QUICK_HASH))
    assert list(load_users(path)) == ["admin"]
    assert path.read_text(encoding="utf-8").startswith("# ")
    assert path.stat().st_mode & 0o077 == 0


def test_save_user_refuses_an_invalid_user_and_leaves_the_file_alone(tmp_path, reps_path):
    path = tmp_path / "users.yaml"
    path.write_text(HEADER + "users:\n" + _entry(username="admin", role="admin"), encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(UsersConfigError, match="a manager account needs 'team'"):
        save_user(path, UserRecord(Viewer("boss", "Boss", "manager"), QUICK_HASH))
    with pytest.raises(UsersConfigError, match="password_hash is not"):
        save_user(path, UserRecord(Viewer("boss", "Boss", "admin"), "hunter2"))
    with pytest.raises(UsersConfigError, match="not in the rep directory"):
        save_user(path, UserRecord(Viewer("x", "X", "rep", rep="Nobody"), QUICK_HASH), reps_path=reps_path)
    assert path.read_bytes() == before


# --- keynode user -------------------------------------------------------------------------------

def test_cli_user_add_then_log_in(tmp_path, reps_path, monkeypatch, capsys):
    path = tmp_path / "users.yaml"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret pass\n"))
    assert main(["user", "add", "wang.lei", "--role", "rep", "--rep", "王磊", "--team", "华东一组",
                 "--name", "王磊", "--language", "zh", "--users", str(path), "--reps", str(reps_path),
                 "--password-stdin"]) == 0
    assert capsys.readouterr().out == f"user wang.lei (rep) saved to {path}\n"
    assert authenticate(load_users(path), "wang.lei", "s3cret pass") == Viewer(
        "wang.lei", "王磊", "rep", team="华东一组", rep="王磊", language="zh")


def test_cli_user_add_asks_twice_and_uses_keynode_users(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.yaml"
    monkeypatch.setenv("KEYNODE_USERS", str(path))
    answers = iter(["first", "second", "same", "same"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["user", "add", "boss", "--role", "admin"]) == 2
    assert capsys.readouterr().err == "error: the two passwords differ; nothing saved\n"
    assert not path.exists()
    assert main(["user", "add", "boss", "--role", "admin"]) == 0
    assert capsys.readouterr().out == f"user boss (admin) saved to {path}\n"
    assert authenticate(load_users(path), "boss", "same").display_name == "boss"


@pytest.mark.parametrize(("arguments", "stdin", "expected"), [
    (["boss", "--role", "manager"], "pw\n", "a manager account needs 'team'"),
    (["boss", "--role", "owner"], "pw\n", "unknown role 'owner'"),
    (["wang.lei", "--role", "rep", "--rep", "王雷"], "pw\n", "rep '王雷' is not in the rep directory"),
    (["boss", "--role", "admin"], "\n", "the password is empty"),
    (["boss", "--role", "admin"], "", "the password is empty"),
])
def test_cli_user_add_errors(tmp_path, reps_path, monkeypatch, capsys, arguments, stdin, expected):
    path = tmp_path / "users.yaml"
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["user", "add", *arguments, "--users", str(path), "--reps", str(reps_path),
                 "--password-stdin"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and expected in err
    assert not path.exists()


def test_cli_user_list_never_prints_a_hash(capsys):
    assert main(["user", "list", "--users", str(SHIPPED_USERS)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "username\trole\tteam\trep"
    assert "wang.lei\trep\t华东一组\t王磊" in lines
    assert "trainer\ttrainer\t-\t-" in lines
    assert len(lines) == 9
    assert "pbkdf2" not in out and "$" not in out


def test_cli_user_list_of_a_missing_file(tmp_path, capsys):
    assert main(["user", "list", "--users", str(tmp_path / "users.yaml")]) == 2
    assert "does not exist. Create it with `keynode user add" in capsys.readouterr().err


def test_every_role_is_accepted_by_the_cli(tmp_path, monkeypatch):
    path = tmp_path / "users.yaml"
    for number, role in enumerate(ROLES):
        monkeypatch.setattr("sys.stdin", io.StringIO("pw\n"))
        team = ["--team", "华东一组"] if role == "manager" else []
        rep = ["--rep", "张敏"] if role == "rep" else []
        assert main(["user", "add", f"user{number}", "--role", role, *team, *rep, "--users", str(path),
                     "--password-stdin"]) == 0
    assert [record.viewer.role for record in load_users(path).values()] == list(ROLES)
