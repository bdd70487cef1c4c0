"""The `shuzhi` command line. Thin: each command parses arguments and calls the library.

Commands live in `pipeline/cli/*_cmd.py`; each module exposes `register(app)`. Expected
failures (`ShuzhiError`) print one line in Chinese and exit with their code; SHUZHI_DEBUG=1 shows
the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

try:  # typer ≥ 0.29 bundles its own copy of click and raises that copy's exceptions
    from typer._click import exceptions as _click_exc
except ImportError:  # pragma: no cover - older typer with click as a dependency
    from click import exceptions as _click_exc

from pipeline.errors import ShuzhiError

COMMAND_MODULES = (
    "pipeline.cli.parse_cmd",
    "pipeline.cli.index_cmd",
    "pipeline.cli.facts_cmd",
    "pipeline.cli.metrics_cmd",
    "pipeline.cli.check_cmd",
    "pipeline.cli.draft_cmd",
    "pipeline.cli.summarize_cmd",
    "pipeline.cli.profiles_cmd",
    "pipeline.cli.batch_cmd",
    "pipeline.cli.serve_cmd",
)

app = typer.Typer(
    name="shuzhi",
    help="述职报告起草与核对工具（离线）。Draft and check annual duty reports offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _debug() -> bool:
    return os.environ.get("SHUZHI_DEBUG", "") not in ("", "0")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` and return the exit code (used by `main` and by tests)."""
    try:
        result = app(args=argv, prog_name="shuzhi", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("已中断。", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 130
    except _click_exc.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ShuzhiError as exc:
        if _debug():
            raise
        print(f"错误：{exc}", file=sys.stderr)
        return exc.exit_code
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
