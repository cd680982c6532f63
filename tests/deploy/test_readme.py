"""README.md names only commands that exist and links nothing outside the repository."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from s3front.cli import build_parser
from s3front.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _commands() -> list[str]:
    """Every `s3front ...` command line in code blocks and inline code."""
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S):
        joined = block.replace("\\\n", " ")
        found += [ln.strip() for ln in joined.splitlines() if ln.strip().startswith("s3front ")]
    found += [c for c in re.findall(r"`(s3front [^`]+)`", README)]
    return found


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@pytest.mark.parametrize("line", sorted(set(_commands())))
def test_every_command_in_the_readme_exists(line: str) -> None:
    words = shlex.split(line.split("#")[0].replace("|", " "))[1:]
    parser = build_parser()
    path = []
    for word in words:
        sub = _choices(parser)
        if not sub:
            break
        if word.startswith(("-", "[")) and word not in ("--help", "--version"):
            break
        if word in ("--help", "--version", "COMMAND"):
            return
        assert word in sub, f"`{line}`: no command `{' '.join([*path, word])}`"
        parser, path = sub[word], [*path, word]
    options = {o for a in parser._actions for o in a.option_strings}
    for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line):
        assert flag in options or flag in ("--help", "--version"), f"`{line}`: no option {flag}"


def test_the_readme_mentions_the_commands_it_documents() -> None:
    commands = {" ".join(shlex.split(c)[:2]) for c in _commands()}
    assert {"s3front serve", "s3front schema", "s3front keys", "s3front gc"} <= commands


def test_no_link_points_outside_the_repository() -> None:
    links = re.findall(r"\]\(([^)]+)\)", README)
    for target in links:
        assert "://" not in target, target
        assert (ROOT / target.split("#")[0]).resolve().is_relative_to(ROOT), target
    assert "../" not in README
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", README)


def test_settings_and_variables_in_the_readme_exist() -> None:
    names = {f.name for f in Settings.__dataclass_fields__.values()}
    extra = {"S3FRONT_CONFIG", "S3FRONT_CASSANDRA_PASSWORD", "S3FRONT_TEST_CASSANDRA"}
    for var in set(re.findall(r"S3FRONT_[A-Z_]+", README)) - extra:
        assert var.removeprefix("S3FRONT_").lower() in names, var
