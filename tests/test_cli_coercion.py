"""The CLI's option values without pydantic (pipeline.cli.coercion) against typer's own coercion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.core
from typer import _coercion

from pipeline.cli import coercion

ROOT = Path(__file__).resolve().parent.parent


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def main(
        where: Path = typer.Argument(...),
        count: int = typer.Option(0, "--count"),
        maybe: int | None = typer.Option(None, "--maybe"),
        share: float = typer.Option(0.5, "--share"),
        name: str = typer.Option("template", "--name"),
        label: str | None = typer.Option(None, "--label"),
        out: Path | None = typer.Option(None, "--out"),
        bounded: int = typer.Option(1, "--bounded", min=1, max=9),
        flag: bool = typer.Option(False, "--flag"),
    ) -> dict:
        return {"where": where, "count": count, "maybe": maybe, "share": share, "name": name, "label": label,
                "out": out, "bounded": bounded, "flag": flag}

    return app


def _outcome(args: list[str]) -> object:
    try:
        return _app()(args, standalone_mode=False)
    except Exception as exc:  # noqa: BLE001 - the error is part of what is compared
        return (type(exc).__name__, str(exc))


CASES = [
    ["x"], ["a/b", "--count", "7"], ["x", "--count", "007"], ["x", "--count", "-3"], ["x", "--count", "+5"],
    ["x", "--count", " 5"], ["x", "--count", "5.0"], ["x", "--count", "1e3"], ["x", "--count", "abc"],
    ["x", "--maybe", "12"], ["x", "--share", "1.5"], ["x", "--share", "3"], ["x", "--share", ".5"],
    ["x", "--share", "nan"], ["x", "--share", "x"], ["x", "--name", "模板"], ["x", "--name", ""],
    ["x", "--label", "县"], [""], ["x", "--out", ""], ["x", "--bounded", "5"], ["x", "--bounded", "12"],
    ["x", "--flag"], [str(ROOT / "README.md")], [str(ROOT / "corpus")],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(a) or "empty" for a in CASES])
def test_plain_options_convert_as_typer_converts_them(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert coercion.install()
    ours = _outcome(args)
    monkeypatch.setattr(typer.core, "build_runtime_param", _coercion.build_runtime_param)
    theirs = _outcome(args)
    assert repr(ours) == repr(theirs)      # repr: nan is not equal to itself
    if isinstance(ours, dict):
        assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}


def test_an_unreadable_path_is_refused_as_typer_refuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("x", encoding="utf-8")
    monkeypatch.setattr("os.access", lambda path, mode: False)
    ours = _outcome([str(locked)])
    monkeypatch.setattr(typer.core, "build_runtime_param", _coercion.build_runtime_param)
    assert ours == _outcome([str(locked)]) and "not readable" in str(ours)


def test_check_and_draft_start_without_pydantic_or_an_unused_index() -> None:
    """`shuzhi check` without an index imports neither pydantic nor the index stage (numpy)."""
    code = ("import sys; from pipeline.cli import run; rc = run(sys.argv[1:]); "
            "print(rc, 'pydantic' in sys.modules, 'pipeline.index.hybrid' in sys.modules)")
    done = subprocess.run(
        [sys.executable, "-c", code, "check", str(ROOT / "corpus" / "reports" / "lanchuan-2024.txt"),
         "--metrics", str(ROOT / "corpus" / "metrics" / "lanchuan-2024.yaml"), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=False)
    assert done.stdout.strip().splitlines()[-1] == "0 False False", done.stderr


def test_the_cli_knows_where_an_index_lives_as_the_index_stage_does() -> None:
    from pipeline.cli import inputs
    from pipeline.index import hybrid

    assert (inputs.DEFAULT_INDEX_DIR, inputs.STATE_FILE) == (hybrid.DEFAULT_INDEX_DIR, hybrid.STATE_FILE)
