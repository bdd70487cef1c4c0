"""Benchmark dispatcher: `python eval/bench.py NAME [args]` runs `eval/bench_NAME.py:main(args)`.

Each benchmark writes `eval/results/bench_NAME.json` (figures) and `.md` (a short section) and
prints a human table. `python eval/bench.py --list` shows the benchmarks available.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EVAL = Path(__file__).resolve().parent
ROOT = EVAL.parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in EVAL.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    names = available()
    if not args or args[0] in ("-h", "--help", "--list"):
        print("用法：python eval/bench.py NAME [参数…]；可用：" + "、".join(names))
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in names:
        print(f"没有名为“{name}”的基准；可用：{'、'.join(names)}", file=sys.stderr)
        return 2
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", EVAL / f"bench_{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
