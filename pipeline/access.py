"""Who may see what on the review board: accounts, roles and password checks.

Accounts live in ``configs/users.yaml`` (or the file ``$KEYNODE_USERS`` names), one entry per
person: ``users: [{username, name, role, team, rep, language, password_hash}]``. Roles:

- ``rep``: their own conversations (``rep`` is their name as in the conversations' rep column);
  may dispute a label or score;
- ``manager``: their ``team``'s conversations; may correct labels and resolve disputes;
- ``trainer``: every team's conversations with personal data masked; may correct labels;
- ``admin``: everything, unmasked.

Passwords are stored only as salted PBKDF2-SHA256 hashes (standard library, no extra
dependency). Loading is strict like ``configs/sop.yaml``: a typo in a role or a team must not
silently hand someone another team's conversations, so every problem raises
:class:`UsersConfigError` naming the file, the user and the fix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.ingest.errors import IngestError
from pipeline.ingest.metadata import RepDirectory, load_rep_directory
from pipeline.models import LANGUAGES

ROLES: tuple[str, ...] = ("rep", "manager", "trainer", "admin")
DEFAULT_USERS = "configs/users.yaml"
USERS_ENV = "KEYNODE_USERS"

#: OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256. The count is stored in every hash, so
#: raising it later leaves existing hashes valid.
DEFAULT_ITERATIONS = 600_000
_ALGORITHM = "pbkdf2_sha256"
_SALT_BYTES = 16

# Hash of a random password nobody knows, with DEFAULT_ITERATIONS: an unknown username is
# checked against it so that it costs the same PBKDF2 work as a wrong password and the
# response time does not tell which usernames exist.
_DUMMY_HASH = ("pbkdf2_sha256$600000$4rNRT7J+ELcd4Lx4ly85eQ==$"
               "4Lpr+mk1+UHrUvuyjUqV6Ia/xejOutTaU6BhakjYFzM=")

# YAML key → Viewer field; the YAML says `name` because that is what people write.
_FIELDS = {"username": "username", "name": "display_name", "role": "role", "team": "team",
           "rep": "rep", "language": "language"}
_KEYS = (*_FIELDS, "password_hash")
_REQUIRED = ("username", "role", "password_hash")

_NEW_FILE_HEADER = ("# Review-board accounts (docs: pipeline/access.py). Add or replace one with\n"
                    "# `keynode user add USERNAME --role rep|manager|trainer|admin`; passwords are\n"
                    "# stored only as PBKDF2-SHA256 hashes.\n")


class UsersConfigError(ValueError):
    """The users file cannot be used; the message names the file, the user and the fix."""


@dataclass(frozen=True)
class Viewer:
    """A logged-in person and what their role lets them see and do."""

    username: str
    display_name: str
    role: str
    team: str | None = None
    #: For role ``rep``: the rep's name exactly as in the conversations' ``rep`` column ("王磊").
    rep: str | None = None
    #: Preferred UI language ("zh" or "en"); None means the board's default.
    language: str | None = None

    @property
    def sees_all_teams(self) -> bool:
        return self.role in ("trainer", "admin")

    @property
    def redacted(self) -> bool:
        """Trainers coach from every team's calls but need no customer's personal data."""
        return self.role == "trainer"

    @property
    def can_correct_labels(self) -> bool:
        return self.role in ("manager", "trainer", "admin")

    @property
    def can_dispute(self) -> bool:
        return self.role == "rep"

    @property
    def can_resolve_disputes(self) -> bool:
        return self.role in ("manager", "admin")


@dataclass(frozen=True)
class UserRecord:
    """A stored account: the viewer plus their password hash."""

    viewer: Viewer
    # Kept out of repr so that a logged record or a failing test never prints a hash.
    password_hash: str = field(repr=False)


def users_path() -> str:
    """The users file: ``$KEYNODE_USERS`` if set, else ``configs/users.yaml``."""
    return os.environ.get(USERS_ENV) or DEFAULT_USERS


# --- passwords -------------------------------------------------------------------------------

def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """Hash a password as ``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>``.

    A random 16-byte salt is drawn unless ``salt`` is given (tests). Raises ValueError for an
    empty password or an iteration count below 1.
    """
    if not password:
        raise ValueError("the password is empty")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{_ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches the stored hash; False for a wrong password or a stored
    value that is not a valid hash (never raises)."""
    parsed = _parse_hash(stored)
    if parsed is None:
        return False
    iterations, salt, expected = parsed
    try:
        actual = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    except (AttributeError, UnicodeEncodeError):  # not a str, or a lone surrogate
        return False
    return hmac.compare_digest(actual, expected)


def authenticate(users: Mapping[str, UserRecord], username: str, password: str) -> Viewer | None:
    """The viewer whose username (compared after strip and casefold) and password match, else None.

    ``users`` is what :func:`load_users` returns (keyed by the casefolded username).
    """
    record = users.get(_key(username))
    if record is None:
        verify_password(password, _DUMMY_HASH)  # same work as a wrong password: no timing oracle
        return None
    return record.viewer if verify_password(password, record.password_hash) else None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _parse_hash(stored: Any) -> tuple[int, bytes, bytes] | None:
    """(iterations, salt, digest) of a well-formed stored hash, else None."""
    if not isinstance(stored, str):
        return None
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != _ALGORITHM or not re.fullmatch(r"[1-9][0-9]{0,8}", parts[1]):
        return None
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return None
    if not salt or len(digest) != hashlib.sha256().digest_size:
        return None
    return int(parts[1]), salt, digest


def _key(username: str) -> str:
    return username.strip().casefold()


# --- the users file --------------------------------------------------------------------------

def load_users(path: str | Path, reps_path: str | Path | None = None) -> dict[str, UserRecord]:
    """Read and validate a users file; keys are the casefolded usernames.

    With ``reps_path`` (``configs/reps.yaml``), rep names and teams must also be the
    directory's. Raises :class:`UsersConfigError` on any problem.
    """
    path = Path(path)
    _header, document = _read(path)
    return _parse(document, path, _rep_directory(reps_path))


def check_viewer(viewer: Viewer, path: str | Path, reps_path: str | Path | None = None) -> None:
    """Raise :class:`UsersConfigError` if ``viewer`` could not be stored in the users file at
    ``path`` (the same rules as :func:`load_users`, without the password hash)."""
    _check_viewer(viewer, Path(path), f"user '{viewer.username}'", _rep_directory(reps_path))


def save_user(path: str | Path, record: UserRecord, *, reps_path: str | Path | None = None) -> None:
    """Add or replace (same username, any case) one user in the users file.

    The file's other users and its header comment are kept; a missing file is created. The new
    file is written beside the old one and moved over it, so a crash never leaves half a file.
    Raises :class:`UsersConfigError` if the record, or the file as it is, is not valid.
    """
    path = Path(path)
    _check_record(record, path, f"user '{record.viewer.username}'", _rep_directory(reps_path))
    if path.exists():
        header, document = _read(path)
        users = _parse(document, path, None)
    else:
        header, users = _NEW_FILE_HEADER, {}
    users[_key(record.viewer.username)] = record  # a replaced user keeps its place in the file
    body = yaml.safe_dump({"users": [_entry(user) for user in users.values()]},
                          allow_unicode=True, sort_keys=False, width=1000)
    _write_atomically(path, header + body)


def _read(path: Path) -> tuple[str, Any]:
    """The file's header comment and its parsed YAML."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise UsersConfigError(
            f"{path}: the users file does not exist. Create it with "
            f"`keynode user add USERNAME --role admin --users {path}`.") from exc
    except OSError as exc:
        raise UsersConfigError(f"{path}: cannot read the users file ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise UsersConfigError(f"{path}: the users file is not UTF-8 ({exc.reason}). Save it as UTF-8.") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UsersConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}. "
                               "Fix the syntax (indentation, quotes, colons).") from exc
    lines = text.splitlines(keepends=True)
    body_start = next((n for n, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")),
                      len(lines))
    return "".join(lines[:body_start]), document


def _rep_directory(reps_path: str | Path | None) -> RepDirectory | None:
    if reps_path is None:
        return None
    if not Path(reps_path).exists():  # load_rep_directory treats a missing file as "no reps"
        raise UsersConfigError(f"{reps_path}: the rep directory does not exist. "
                               "Pass an existing file or restore configs/reps.yaml.")
    try:
        return load_rep_directory(reps_path)
    except IngestError as exc:
        raise UsersConfigError(str(exc)) from exc


def _parse(document: Any, path: Path, directory: RepDirectory | None) -> dict[str, UserRecord]:
    if not isinstance(document, dict) or set(document) != {"users"} or not isinstance(document["users"], list):
        raise UsersConfigError(f"{path}: expected one top-level key 'users:' with a list of accounts "
                               f"({', '.join(_KEYS)}). Fix the file's layout.")
    users: dict[str, UserRecord] = {}
    for number, entry in enumerate(document["users"], start=1):
        record = _parse_entry(entry, number, path, directory)
        key = _key(record.viewer.username)
        if key in users:
            raise UsersConfigError(
                f"{path}: user {number} ('{record.viewer.username}'): duplicate username (also used by "
                f"'{users[key].viewer.username}'; usernames are compared ignoring case). Rename or remove one.")
        users[key] = record
    return users


def _parse_entry(entry: Any, number: int, path: Path, directory: RepDirectory | None) -> UserRecord:
    username = entry.get("username") if isinstance(entry, dict) else None
    where = f"user {number}" + (f" ('{username}')" if isinstance(username, str) else "")
    if not isinstance(entry, dict):
        raise _error(path, where, "expected a mapping", f"write it as '- username: ...' with {', '.join(_KEYS)}")
    unknown = [str(key) for key in entry if key not in _KEYS]
    if unknown:
        raise _error(path, where, f"unknown key(s) {', '.join(unknown)}",
                     f"remove or rename them (allowed: {', '.join(_KEYS)})")
    missing = [key for key in _REQUIRED if entry.get(key) is None]
    if missing:
        raise _error(path, where, f"missing {', '.join(missing)}", "add the missing key(s)")
    for key, value in entry.items():
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _error(path, where, f"'{key}' must be a non-empty text, got {value!r}", "quote or fill it in")
    values = {_FIELDS[key]: entry.get(key) for key in _FIELDS}
    values["display_name"] = values["display_name"] or entry["username"]
    record = UserRecord(Viewer(**values), entry["password_hash"])
    _check_record(record, path, where, directory)
    return record


def _check_record(record: UserRecord, path: Path, where: str, directory: RepDirectory | None) -> None:
    _check_viewer(record.viewer, path, where, directory)
    if _parse_hash(record.password_hash) is None:
        viewer = record.viewer
        team = f" --team {viewer.team}" if viewer.team else ""
        rep = f" --rep {viewer.rep}" if viewer.rep else ""
        raise _error(path, where, f"password_hash is not a {_ALGORITHM}$ITERATIONS$SALT$HASH value",
                     f"set the password with `keynode user add {viewer.username} --role {viewer.role}{team}{rep} "
                     f"--users {path}`")


def _check_viewer(viewer: Viewer, path: Path, where: str, directory: RepDirectory | None) -> None:
    if not viewer.username or re.search(r"\s", viewer.username):
        raise _error(path, where, f"username {viewer.username!r} is empty or contains spaces",
                     "use a login name like 'wang.lei'")
    if viewer.role not in ROLES:
        raise _error(path, where, f"unknown role {viewer.role!r}", f"use one of {', '.join(ROLES)}")
    if viewer.role == "rep" and not viewer.rep:
        raise _error(path, where, "a rep account needs 'rep'",
                     "set rep to the rep's name exactly as in the conversations' rep column (configs/reps.yaml)")
    if viewer.role != "rep" and viewer.rep:
        # Only a rep account is scoped by rep name; elsewhere the key would look meaningful and not be.
        raise _error(path, where, f"only rep accounts have 'rep' (this one is a {viewer.role})", "remove 'rep'")
    if viewer.role == "manager" and not viewer.team:
        raise _error(path, where, "a manager account needs 'team'", "set team to the team they manage")
    if viewer.language is not None and viewer.language not in LANGUAGES:
        raise _error(path, where, f"unknown language {viewer.language!r}", f"use one of {', '.join(LANGUAGES)}")
    if directory is not None:
        _check_against_directory(viewer, path, where, directory)


def _check_against_directory(viewer: Viewer, path: Path, where: str, directory: RepDirectory) -> None:
    """Rep names and teams must be the rep directory's: conversations carry the directory's
    canonical names, so any other spelling would show a rep or manager nothing at all."""
    if viewer.rep:
        if not directory.is_rep(viewer.rep):
            known = sorted(set(directory.canonical_names.values()))
            raise _error(path, where, f"rep {viewer.rep!r} is not in the rep directory (known: {', '.join(known)})",
                         "fix the name or add the rep to configs/reps.yaml")
        if directory.canonical(viewer.rep) != viewer.rep:
            raise _error(path, where, f"{viewer.rep!r} is an alias",
                         f"use the rep's name {directory.canonical(viewer.rep)!r}")
    if viewer.team:
        teams = sorted({team for team in directory.teams_by_name.values() if team})
        if viewer.team not in teams:
            raise _error(path, where, f"team {viewer.team!r} is not in the rep directory (known: {', '.join(teams)})",
                         "fix the team's name")
        if viewer.rep and directory.team_of(viewer.rep) != viewer.team:
            raise _error(path, where, f"rep {viewer.rep!r} is in team {directory.team_of(viewer.rep)!r}, "
                         f"not {viewer.team!r}", "fix the team (or the rep's team in configs/reps.yaml)")


def _error(path: Path, where: str, problem: str, fix: str) -> UsersConfigError:
    return UsersConfigError(f"{path}: {where}: {problem}. Fix: {fix}.")


def _entry(record: UserRecord) -> dict[str, str]:
    """One user as written to the file, unset keys left out."""
    viewer = record.viewer
    values = {yaml_key: getattr(viewer, attribute) for yaml_key, attribute in _FIELDS.items()}
    return {key: value for key, value in {**values, "password_hash": record.password_hash}.items()
            if value is not None}


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp creates the file readable by its owner only, which suits a new file of password
        # hashes; an existing file keeps the mode its owner gave it (the board may run as another user).
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
