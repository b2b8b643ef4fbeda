"""``keynode redact``: mask the personal data of text lines read on standard input.

Each input line gives exactly one output line (same count, same line ends, empty lines stay
empty), so the command can sit in a pipe and be checked line by line::

    printf '我手机号是13812345678\\nCall me at 415 555 0100\\n' | keynode redact --lang auto
    我手机号是[手机号]
    Call me at [PHONE]

Register it in ``pipeline/cli.py`` with::

    from pipeline.privacy import command as redact_command
    redact_command.add_arguments(commands.add_parser("redact", help=redact_command.HELP))

(:func:`add_arguments` sets ``handler=handle``, the convention of ``pipeline/cli.py``.)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from pipeline.privacy.config import RedactionConfig, RedactionConfigError, load_redaction_config
from pipeline.privacy.kinds import LANGUAGES
from pipeline.privacy.redact import redact_with

HELP = "mask personal data in text lines read on standard input (one output line per input line)"
_MODES = ("mask", "hash")
_SALT_VARIABLE = "KEYNODE_REDACT_SALT"


def _split_line_end(line: str) -> tuple[str, str]:
    for end in ("\r\n", "\n", "\r"):
        if line.endswith(end):
            return line[:-len(end)], end
    return line, ""


def run_redact(lines: Iterable[str], lang: str, mode: str = "mask", *,
               config: RedactionConfig | None = None) -> Iterator[str]:
    """Each line redacted, its line end kept: one output line per input line.

    ``lang``: ``zh``, ``en`` or ``auto`` (per line); ``mode``: ``mask`` or ``hash`` (``off`` passes
    lines through). ``config`` supplies extra patterns and the salt (its own mode and language
    are replaced by ``mode`` and ``lang``).
    """
    base = config or RedactionConfig()
    config = RedactionConfig(mode=mode, lang=lang, patterns=base.patterns, salt=base.salt)
    for line in lines:
        # One item is one line; an item with line breaks inside stays one item, each of its
        # lines redacted on its own.
        pieces = []
        for part in line.splitlines(keepends=True) or [line]:
            body, end = _split_line_end(part)
            pieces.append((redact_with(body, config) if body else body) + end)
        yield "".join(pieces)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``keynode redact``; also sets ``handler=handle``."""
    parser.add_argument("--lang", choices=LANGUAGES,
                        help="placeholder language: zh ([手机号]), en ([PHONE]) or auto, decided per line by "
                             "its share of Chinese (default: the config's, else auto)")
    parser.add_argument("--mode", choices=_MODES,
                        help="mask: placeholders; hash: [kind:8 hex digits], the same for the same value "
                             f"(salt from $KEYNODE_REDACT_SALT or the config) (default: the config's, else mask)")
    parser.add_argument("--config", metavar="FILE",
                        help="YAML or JSON redaction config with extra patterns "
                             "(patterns: [{kind, regex, mask}], salt); --lang and --mode win over it")
    parser.set_defaults(handler=handle)


def _load_config(path: str | None) -> RedactionConfig:
    if not path:
        return RedactionConfig(lang="auto")
    file = Path(path)
    try:
        raw = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RedactionConfigError(f"cannot read redaction config {file}: {exc}") from None
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RedactionConfigError(f"redaction config {file} is not valid JSON: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise RedactionConfigError(f"redaction config {file} is not valid YAML: {exc}") from None
    if isinstance(data, dict) and data.get("lang") is None:
        data = {**data, "lang": "auto"}  # the command's default, not the library's
    try:
        return load_redaction_config(data)
    except RedactionConfigError as exc:
        raise RedactionConfigError(f"{file}: {exc}") from None


def _run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO, salt: str | None) -> int:
    try:
        config = _load_config(getattr(args, "config", None))
    except RedactionConfigError as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    lang = getattr(args, "lang", None) or config.lang
    mode = getattr(args, "mode", None) or config.mode
    config = RedactionConfig(mode=mode, lang=lang, patterns=config.patterns, salt=salt or config.salt)
    try:
        for line in run_redact(stdin, lang, mode, config=config):
            stdout.write(line)
            stdout.flush()  # one line out per line in, also in an interactive pipe
    except BrokenPipeError:  # `keynode redact | head`: the reader has what it wanted
        return 0
    return 0


def handle(args: argparse.Namespace) -> int:
    """Run ``keynode redact`` on the process's standard input and output (UTF-8, line ends kept)."""
    if not (hasattr(sys.stdin, "buffer") and hasattr(sys.stdout, "buffer")):  # already text streams
        return _run(args, sys.stdin, sys.stdout, sys.stderr, os.environ.get(_SALT_VARIABLE))
    sys.stdout.flush()
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        return _run(args, stdin, stdout, sys.stderr, os.environ.get(_SALT_VARIABLE))
    finally:
        for stream in (stdin, stdout):
            try:
                stream.detach()  # leave sys.stdin/sys.stdout usable and open
            except (ValueError, OSError):
                pass


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """``keynode redact [--lang zh|en|auto] [--mode mask|hash] [--config FILE]`` on the given
    streams (default: the process's). Returns the exit status: 0, or 2 for a bad config."""
    parser = argparse.ArgumentParser(prog="keynode redact", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if stdin is None and stdout is None:
        return handle(args)
    return _run(args, stdin if stdin is not None else sys.stdin, stdout if stdout is not None else sys.stdout,
                sys.stderr, os.environ.get(_SALT_VARIABLE))


if __name__ == "__main__":
    sys.exit(main())
