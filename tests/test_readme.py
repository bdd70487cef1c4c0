"""The README documents every CLI command and the two commands a new user needs."""

from __future__ import annotations

from pathlib import Path

import typer.main

from pipeline.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _command_names() -> list[str]:
    group = typer.main.get_command(app)
    names = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            names.extend(f"{name} {sub}" for sub in subcommands)
        else:
            names.append(name)
    return sorted(names)


def test_every_cli_command_is_documented():
    names = _command_names()
    assert len(names) >= 12
    missing = [n for n in names if f"shuzhi {n}" not in README]
    assert not missing, f"README does not show: {missing}"


def test_readme_shows_the_two_commands():
    assert "make demo" in README and "make test" in README


def test_readme_names_every_environment_variable_the_code_reads():
    root = Path(__file__).resolve().parent.parent / "pipeline"
    import re

    used = set()
    for path in root.rglob("*.py"):
        used.update(re.findall(r"[\"'](SHUZHI_[A-Z_]+)[\"']", path.read_text(encoding="utf-8")))
    missing = sorted(v for v in used if v not in README)
    assert not missing, f"README does not explain: {missing}"
