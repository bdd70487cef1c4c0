"""Option values without pydantic for the plain options of this CLI.

typer ≥ 0.29 turns every command-line value into its Python type through a pydantic `TypeAdapter`
built per option, which imports pydantic and builds a schema for each option: about 0.1 s of every
`shuzhi` command's start, for options that are all `str`, `bool`, `int`, `float` or `Path`.
`install()` puts a shortcut in front of typer's own builder: the everyday values (`7`, `-3`, `0.5`,
a path string, a flag's True/False) are converted here exactly as typer converts them (`Path(value)` followed by typer's own path
checks), and anything else (another type, bounds, a parser, an unusual spelling such as `+5` or
`1e3`) goes to typer's pydantic coercion, built only then. `tests/test_cli_coercion.py` holds the
two side by side. With another typer (no `typer.core.build_runtime_param`) nothing is changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def install() -> bool:
    """Route typer's coercion of plain options through `_plain_param`; False when this typer has no
    such hook (coercion stays typer's own)."""
    try:
        from typer import core
        from typer._coercion import RuntimeParam
        from typer._param_types import coerce_cli_path
    except ImportError:
        return False
    original = getattr(core, "build_runtime_param", None)
    if original is None or getattr(original, "_shuzhi_plain", False):
        return original is not None

    @dataclass(frozen=True)
    class PlainParam(RuntimeParam):
        """A str, bool, int, float or Path option: common values here, the rest through typer."""

        descriptor: Any = None
        fallback: list[Any] = field(default_factory=list)   # typer's runtime param, built on first need

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = self.annotation
            if kind is str and isinstance(value, str) or kind is bool and type(value) is bool:
                return value
            if kind is int and (type(value) is int or isinstance(value, str) and _INT.fullmatch(value)):
                return int(value)
            if kind is float and (type(value) is float or isinstance(value, str) and _FLOAT.fullmatch(value)):
                return float(value)
            if isinstance(kind, type) and issubclass(kind, Path) and isinstance(value, str | Path):
                info = self.parameter_info
                path_type = info.path_type or kind
                if path_type is kind:
                    return coerce_cli_path(value if isinstance(value, kind) else kind(value), info,
                                           path_type=path_type, param=param, ctx=ctx)
            if not self.fallback:
                self.fallback.append(original(self.descriptor))
            return self.fallback[0]._coerce_value(value, param=param, ctx=ctx)

    def build(descriptor: Any) -> Any:
        if _plain(descriptor):
            return PlainParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                              descriptor=descriptor)
        return original(descriptor)

    build._shuzhi_plain = True      # type: ignore[attr-defined]
    core.build_runtime_param = build
    return True


def _plain(descriptor: Any) -> bool:
    """An option this module converts: a bare str/bool/int/float/Path, no parser, bounds or file type."""
    info = descriptor.parameter_info
    kind = descriptor.annotation
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return False
    if kind in (int, float):
        return getattr(info, "min", None) is None and getattr(info, "max", None) is None
    return kind in (str, bool) or (isinstance(kind, type) and issubclass(kind, Path))
