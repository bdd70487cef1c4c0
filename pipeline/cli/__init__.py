"""The `shuzhi` command line. Thin: each command parses arguments and calls the library.

Commands live in `pipeline/cli/*_cmd.py`; each module exposes `register(app)`. Expected
failures (`ShuzhiError`) print one line in Chinese and exit with their code; SHUZHI_DEBUG=1 shows
the traceback instead.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import warnings

import typer

try:  # typer ≥ 0.29 bundles its own copy of click and raises that copy's exceptions
    from typer._click import exceptions as _click_exc
except ImportError:  # pragma: no cover - older typer with click as a dependency
    from click import exceptions as _click_exc

from pipeline.cli import coercion
from pipeline.errors import InputWarning, OutputError, ShuzhiError

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

# Plain option values without importing pydantic (`pipeline.cli.coercion`).
coercion.install()

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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that every `finally` runs (locks released, staging
    folders removed, a batch's summary written) exactly as for Ctrl-C."""


_signals: dict[str, bool] = {"terminated": False}


def _on_sigterm(signum, frame) -> None:  # noqa: ANN001 - signal handler signature
    _signals["terminated"] = True
    runner = sys.modules.get("pipeline.batch.runner")       # loaded only when a batch runs
    if runner is not None and runner.request_stop():
        return          # the batch's pool loop stops itself, in plain code, within a second
    raise Terminated()


def _interrupted() -> int:
    # typer turns KeyboardInterrupt (and so our SIGTERM) into exit code 130 before we see it.
    if _signals["terminated"]:
        print("已终止（收到 SIGTERM）：没有留下写了一半的文件。", file=sys.stderr)
        return 143
    print("已中断：没有留下写了一半的文件。", file=sys.stderr)
    return 130


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    # Input warnings (invisible characters removed…) are one line for the user; any other
    # warning keeps Python's format, shown only with SHUZHI_DEBUG=1.
    if issubclass(category, InputWarning):
        print(f"提示：{message}", file=sys.stderr)
    elif _debug():
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` and return the exit code (used by `main` and by tests).

    The contract: 0 success, 1 findings or a failed input/output, 2 usage, 130 interrupted (143
    for SIGTERM); every error is one line `错误：…` unless SHUZHI_DEBUG=1."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        warnings.simplefilter("always", InputWarning)
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    try:
        result = app(args=argv, prog_name="shuzhi", standalone_mode=False)
    except typer.Exit as exc:
        return _interrupted() if exc.exit_code == 130 else exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except _click_exc.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ShuzhiError as exc:
        if _debug():
            raise
        print(f"错误：{exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # A write or read the command did not anticipate (disk full mid-way, a vanished folder).
        if _debug():
            raise
        where = exc.filename or ""
        error = OutputError(f"读写失败：{exc.strerror or exc}。请检查路径、权限和磁盘空间后重试。",
                            path=str(where) if where else None)
        print(f"错误：{error}", file=sys.stderr)
        return 1
    except (RecursionError, MemoryError) as exc:
        if _debug():
            raise
        print(f"错误：输入过大或嵌套过深（{type(exc).__name__}），已停止。请检查输入文件。", file=sys.stderr)
        return 1
    except Exception as exc:
        if _caused_by_interrupt(exc):
            # Ctrl-C or SIGTERM landed inside machinery that wraps exceptions (a dataclass being
            # built while a module is imported turns it into RuntimeError): still an interruption.
            return _interrupted()
        # A bug, not an expected failure: still one line, and the way to see the details.
        if _debug():
            raise
        text = " ".join(str(exc).split())[:200]
        print(f"错误：内部错误 {type(exc).__name__}：{text}。请加 SHUZHI_DEBUG=1 重新运行查看详情，并报告此问题。",
              file=sys.stderr)
        return 1
    if result == 130:
        return _interrupted()
    return result if isinstance(result, int) else 0


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 10:
        if isinstance(cause, KeyboardInterrupt):
            return True
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return False


def main() -> None:
    with contextlib.suppress(ValueError):      # not the main thread (embedded use): keep the default
        signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(run())


if __name__ == "__main__":
    main()
