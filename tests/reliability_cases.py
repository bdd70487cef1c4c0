"""The reliability table: bad inputs, bad outputs and unlucky states, each run as a real `shuzhi`
process, the way a new user would meet them.

Every case states the exit code, a message the user must see, the files that must stay as they
were, the paths that must not appear (no partial output), and a memory bound; each runs under a
timeout. `tests/test_reliability.py` asserts them; `eval/reliability_eval.py` runs the same table
and records time and peak memory per case into `eval/RESULTS.md`.

A case's `argv` and `env` may use `{d}` (the case's own empty folder, also the working directory),
`{metrics}` and `{report}` (a committed metrics file and its report) and `{corpus}`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
METRICS = CORPUS / "metrics" / "lanchuan-2024.yaml"
REPORT = CORPUS / "reports" / "lanchuan-2024.txt"

# The child reports its own peak RSS on exit (atexit runs after sys.exit), into a file named by
# the environment, so stdout and stderr stay exactly what the user sees.
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child of a 1 GB pytest
# would report 1 GB whatever it did itself.
_WRAPPER = (
    "import atexit, os, re, resource\n"
    "def _peak():\n"
    "    try:\n"
    "        kb = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
    "    except (OSError, AttributeError):\n"
    "        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    with open(os.environ['SHUZHI_TEST_RSS'], 'w') as f:\n"
    "        f.write(str(kb))\n"
    "atexit.register(_peak)\n"
    "from pipeline.cli import main\n"
    "main()\n"
)

Setup = Callable[[Path], Callable[[], None] | None]


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int
    message: tuple[str, ...]                 # substrings the user must see (stderr, or stdout)
    setup: Setup | None = None
    stream: str = "err"                      # where the message is: err | out | both
    one_line: bool = True                    # exactly one `错误：` line (for exit codes ≠ 0)
    untouched: tuple[str, ...] = ()          # files (relative to the case folder) left byte-identical
    absent: tuple[str, ...] = ()             # paths that must not exist afterwards
    present: tuple[str, ...] = ()            # paths that must exist afterwards (the right result)
    env: dict[str, str] = field(default_factory=dict)
    max_mb: int = 600                        # peak resident memory of the command
    timeout: float = 120.0                   # seconds; a hang fails the case (generous: CI machines are shared)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


# --------------------------------------------------------------------------- input builders

def _write(d: Path, name: str, data: str | bytes) -> Path:
    path = d / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def alias_bomb() -> str:
    """The 700-byte "billion laughs": ten levels of nine aliases each (10^9 nodes expanded)."""
    lines = ["meta: {year: 2024, region: 青岚县}", "a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    lines.append("metrics: {custom.bomb: *a9}")
    return "\n".join(lines) + "\n"


def _good_yaml(extra: str = "", region: str = "青岚县") -> str:
    return f"meta: {{year: 2024, region: {json.dumps(region, ensure_ascii=False)}}}\nmetrics:\n{extra}"


def _files(named: dict[str, str | bytes]) -> Setup:
    def setup(d: Path) -> None:
        for name, data in named.items():
            _write(d, name, data)
    return setup


def _fifo(name: str) -> Setup:
    def setup(d: Path) -> None:
        os.mkfifo(d / name)
    return setup


def _symlink(name: str, target: str) -> Setup:
    def setup(d: Path) -> None:
        os.symlink(target, d / name)
    return setup


def _copy(name: str, source: Path) -> Setup:
    def setup(d: Path) -> None:
        _write(d, name, source.read_bytes())
    return setup


def _hardlink(name: str, link: str, source: Path) -> Setup:
    def setup(d: Path) -> None:
        _write(d, name, source.read_bytes())
        os.link(d / name, d / link)
    return setup


def _sparse(name: str, size: int) -> Setup:
    def setup(d: Path) -> None:
        with open(d / name, "wb") as handle:
            handle.truncate(size)
            handle.seek(0)
            handle.write("报告".encode())
    return setup


def _zip(name: str, members: dict[str, bytes], *, count: int = 0) -> Setup:
    """A .docx/.xlsx-shaped zip: `members`, plus `count` tiny filler entries."""
    def setup(d: Path) -> None:
        with zipfile.ZipFile(d / name, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, data in members.items():
                archive.writestr(member, data)
            for i in range(count):
                archive.writestr(f"customXml/item{i}.xml", b"<a/>")
    return setup


_DOCX_MIN = {
    "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
    "word/document.xml": ('<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                          'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>一、民兵整组全面完成</w:t></w:r></w:p>'
                          '</w:body></w:document>').encode(),
}


def _far_cell_xlsx(name: str, *, wide: bool = False) -> Setup:
    """A workbook with a sane header and one stray cell at XFD1048576 (the used range explodes)."""
    def setup(d: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        if wide:
            sheet.append(["单位", "conscription.recruits"])
            sheet.append(["青岚县", 10])
        else:
            sheet.append(["key", "label", "value"])
            sheet.append(["meta.year", "年度", 2024])
        sheet["XFD1048576"] = "x"
        book.save(d / name)
    return setup


def _fake_soffice(text: str | None) -> Setup:
    """A stand-in `soffice` on PATH that "converts" any .doc into a .docx holding `text` (None:
    produces nothing), so the plausibility gate is tested without LibreOffice's speed or moods."""
    def setup(d: Path) -> None:
        _write(d, "garbage.doc", b"\xd0\xcf\x11\xe0" + os.urandom(4000))
        body = "" if text is None else text
        script = f"""#!{sys.executable}
import sys, zipfile, pathlib
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--outdir") + 1]); src = pathlib.Path(args[-1])
if {text is not None!r}:
    out.mkdir(parents=True, exist_ok=True)
    xml = ('<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
           'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>' + {body!r} + '</w:t></w:r></w:p></w:body></w:document>')
    with zipfile.ZipFile(out / (src.stem + ".docx"), "w") as z:
        z.writestr("word/document.xml", xml)
"""
        path = _write(d, "bin/soffice", script)
        path.chmod(0o755)
    return setup


def _state(text: str, with_report: bool = True) -> Setup:
    def setup(d: Path) -> None:
        _write(d, "idx/state.json", text)
        if with_report:
            _write(d, "reports/r.txt", REPORT.read_bytes())
    return setup


def _holder(lock: str, *, with_units: bool = False) -> Setup:
    """Another process holding the flock `lock` (an ingest or a batch), with its pid recorded."""
    def setup(d: Path) -> Callable[[], None]:
        path = d / lock
        path.parent.mkdir(parents=True, exist_ok=True)
        if with_units:
            _write(d, "units/a.yaml", METRICS.read_bytes())
        code = ("import fcntl, json, os, sys\n"
                f"f = open({str(path)!r}, 'a+')\n"
                "fcntl.flock(f.fileno(), fcntl.LOCK_EX)\n"
                "f.write(json.dumps({'pid': os.getpid(), 'since': '2026-01-01T08:00:00+08:00'})); f.flush()\n"
                "print('held', flush=True)\n"
                "sys.stdin.read()\n")
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "held"

        def release() -> None:
            proc.stdin.close()
            proc.wait(timeout=10)
        return release
    return setup


def _both(*setups: Setup) -> Setup:
    def setup(d: Path) -> Callable[[], None] | None:
        cleanups = [c for c in (s(d) for s in setups) if c]
        return (lambda: [c() for c in cleanups]) if cleanups else None
    return setup


def _units(named: dict[str, str | bytes]) -> Setup:
    return _files({f"units/{k}": v for k, v in named.items()})


_GOOD = METRICS.read_text(encoding="utf-8")
_BOMB = alias_bomb()
_DEEP_YAML = "[" * 5000 + "]" * 5000 + "\n"
_DEEP_JSON = '{"meta": ' + "[" * 5000 + "]" * 5000 + "}"
_MANY_ALIASES = "meta: {year: 2024, region: 青岚县}\nx: &x 1\nl: [" + ", ".join(["*x"] * 1500) + "]\n"
_ZEROS = b"\0" * 30_000_000
_LONG_REGION = "青岚" * 150 + "县"
_BIDI_REPORT = REPORT.read_text(encoding="utf-8").replace("基干民兵1535人", "基干民兵\u202e1553\u202c人")
_ZW_REPORT = REPORT.read_text(encoding="utf-8").replace("基干民兵1535人", "基干民兵15\u200b53人")
_MOJIBAKE = "ÃÂ¤Ã¥Â½Â¢Ã¦Â€Â§ÂÃ¤Â¸Â­Ã¦" * 40 + "\ufffd" * 30

R, M = "{report}", "{metrics}"

CASES: tuple[Case, ...] = (
    # ---------------------------------------------------------------- YAML / JSON limits
    Case("yaml-alias-bomb-validate", ("metrics", "validate", "{d}/bomb.yaml"), 1, ("别名炸弹", "第"),
         _files({"bomb.yaml": _BOMB}), max_mb=200, timeout=60),
    Case("yaml-alias-bomb-check", ("check", R, "--metrics", "{d}/bomb.yaml"), 1, ("别名炸弹",),
         _files({"bomb.yaml": _BOMB}), max_mb=200, timeout=60),
    Case("yaml-alias-bomb-draft", ("draft", "{d}/bomb.yaml", "-o", "{d}/out"), 1, ("别名炸弹",),
         _files({"bomb.yaml": _BOMB}), absent=("out",), max_mb=200, timeout=60),
    Case("yaml-alias-bomb-batch", ("batch", "{d}/units", "-o", "{d}/out", "-q", "--workers", "1"), 1,
         ("别名炸弹",), _units({"bomb.yaml": _BOMB}), one_line=False, absent=("out/bomb",), timeout=60),
    Case("yaml-many-aliases", ("metrics", "validate", "{d}/m.yaml"), 1, ("别名",),
         _files({"m.yaml": _MANY_ALIASES}), max_mb=200),
    Case("yaml-5000-deep-validate", ("metrics", "validate", "{d}/deep.yaml"), 1, ("嵌套超过",),
         _files({"deep.yaml": _DEEP_YAML}), max_mb=200),
    Case("yaml-5000-deep-check", ("check", R, "--metrics", "{d}/deep.yaml"), 1, ("嵌套超过",),
         _files({"deep.yaml": _DEEP_YAML}), max_mb=200),
    Case("json-5000-deep-validate", ("metrics", "validate", "{d}/deep.json"), 1, ("JSON 嵌套超过",),
         _files({"deep.json": _DEEP_JSON}), max_mb=200),
    Case("json-5000-deep-draft", ("draft", "{d}/deep.json", "-o", "{d}/out"), 1, ("JSON 嵌套超过",),
         _files({"deep.json": _DEEP_JSON}), absent=("out",), max_mb=200),
    Case("yaml-nan-validate", ("metrics", "validate", "{d}/m.yaml"), 1,
         ("militia.primary", ".nan", "不是有效数字"),
         _files({"m.yaml": _good_yaml("  militia.primary: .nan\n")}), stream="out", one_line=False),
    Case("yaml-inf-validate", ("metrics", "validate", "{d}/m.yaml"), 1, ("militia.primary", ".inf"),
         _files({"m.yaml": _good_yaml("  militia.primary: .inf\n")}), stream="out", one_line=False),
    Case("yaml-minus-inf-previous", ("metrics", "validate", "{d}/m.yaml"), 1, ("previous", "-.inf"),
         _files({"m.yaml": _good_yaml("  militia.primary: {value: 10, previous: -.inf}\n")}),
         stream="out", one_line=False),
    Case("yaml-nan-check", ("check", R, "--metrics", "{d}/m.yaml"), 1, ("militia.primary", "不是有效数字"),
         _files({"m.yaml": _good_yaml("  militia.primary: .NaN\n")})),
    Case("json-nan-validate", ("metrics", "validate", "{d}/m.json"), 1, ("militia.primary", "NaN"),
         _files({"m.json": '{"meta": {"year": 2024, "region": "青岚县"}, "metrics": {"militia.primary": NaN}}'}),
         stream="out", one_line=False),
    Case("json-infinity-validate", ("metrics", "validate", "{d}/m.json"), 1, ("militia.primary", "Infinity"),
         _files({"m.json": '{"meta": {"year": 2024, "region": "青岚县"}, "metrics": {"militia.primary": Infinity}}'}),
         stream="out", one_line=False),
    Case("json-minus-infinity-draft", ("draft", "{d}/m.json", "-o", "{d}/out"), 1, ("-Infinity",),
         _files({"m.json": '{"meta": {"year": 2024, "region": "青岚县"}, "metrics": {"militia.primary": -Infinity}}'}),
         absent=("out",)),
    Case("metrics-too-big", ("metrics", "validate", "{d}/big.yaml"), 1, ("文件过大",),
         _sparse("big.yaml", 6_000_000)),
    Case("metrics-fifo", ("metrics", "validate", "{d}/m.yaml"), 1, ("命名管道",), _fifo("m.yaml"), timeout=60),
    Case("metrics-urandom-symlink", ("metrics", "validate", "{d}/m.yaml"), 1, ("字符设备",),
         _symlink("m.yaml", "/dev/urandom"), timeout=60),
    Case("metrics-folder-named-yaml", ("metrics", "validate", "{d}/m.yaml"), 1, ("文件夹",),
         lambda d: (d / "m.yaml").mkdir()),
    Case("metrics-missing", ("metrics", "validate", "{d}/nope.yaml"), 2, ("找不到指标文件",)),
    Case("metrics-wrong-suffix", ("metrics", "validate", "{d}/m.txt"), 1, ("不支持的指标文件类型",),
         _files({"m.txt": _GOOD})),
    Case("metrics-binary", ("metrics", "validate", "{d}/m.yaml"), 1, ("编码",),
         _files({"m.yaml": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8})),
    Case("metrics-empty", ("metrics", "validate", "{d}/m.yaml"), 1, ("文件是空的",),
         _files({"m.yaml": ""}), stream="out", one_line=False),
    Case("metrics-zero-width-region", ("metrics", "validate", "{d}/m.yaml"), 0, ("meta.region", "U+200B", "已删除"),
         _files({"m.yaml": _good_yaml(region="青\u200b岚县")}), stream="out"),
    Case("metrics-bidi-in-honour", ("metrics", "validate", "{d}/m.yaml"), 0, ("honours.0", "U+202E"),
         _files({"m.yaml": _good_yaml() + "honours:\n  - \"\u202e全省先进单位\"\n"}), stream="out"),
    Case("metrics-region-too-long", ("metrics", "validate", "{d}/m.yaml"), 1, ("meta.region", "超过上限"),
         _files({"m.yaml": _good_yaml(region=_LONG_REGION)}), stream="out", one_line=False),
    Case("metrics-control-char", ("metrics", "validate", "{d}/m.yaml"), 1, ("控制字符", "U+0007"),
         _files({"m.yaml": _good_yaml(region="青岚\a县")}), stream="out", one_line=False),
    Case("draft-region-too-long", ("draft", "{d}/m.yaml", "-o", "{d}/out"), 1, ("meta.region", "超过上限"),
         _files({"m.yaml": _good_yaml(region=_LONG_REGION)}), absent=("out",)),
    Case("batch-region-too-long", ("batch", "{d}/units", "-o", "{d}/out", "-q", "--workers", "1"), 1,
         ("超过上限",), _units({"long.yaml": _good_yaml(region=_LONG_REGION)}), one_line=False,
         absent=("out/long",)),
    # ---------------------------------------------------------------- Excel and Word containers
    Case("xlsx-zip-bomb", ("metrics", "validate", "{d}/m.xlsx"), 1, ("压缩",),
         _zip("m.xlsx", {"xl/worksheets/sheet1.xml": _ZEROS}), max_mb=200),
    Case("xlsx-too-many-entries", ("metrics", "validate", "{d}/m.xlsx"), 1, ("部件",),
         _zip("m.xlsx", {}, count=6000), max_mb=300),
    Case("xlsx-far-cell", ("metrics", "validate", "{d}/m.xlsx"), 1, ("范围过大", "1048576"),
         _far_cell_xlsx("m.xlsx"), max_mb=300),
    Case("xlsx-not-a-zip", ("metrics", "validate", "{d}/m.xlsx"), 1, ("不是有效的 .xlsx",),
         _files({"m.xlsx": b"this is not excel at all"})),
    Case("xlsx-fifo", ("metrics", "validate", "{d}/m.xlsx"), 1, ("命名管道",), _fifo("m.xlsx"), timeout=60),
    Case("batch-workbook-far-cell", ("batch", "{d}/book.xlsx", "-o", "{d}/out", "-q"), 1, ("范围过大",),
         _far_cell_xlsx("book.xlsx", wide=True), max_mb=300),
    Case("docx-zip-bomb", ("parse", "{d}/r.docx"), 1, ("压缩",),
         _zip("r.docx", {**_DOCX_MIN, "word/media/x.bin": _ZEROS}), max_mb=200),
    Case("docx-too-many-entries", ("parse", "{d}/r.docx"), 1, ("部件",), _zip("r.docx", _DOCX_MIN, count=6000)),
    Case("docx-not-a-zip", ("parse", "{d}/r.docx"), 1, ("不是有效的 .docx",), _files({"r.docx": b"plain text"})),
    Case("docx-no-document", ("check", "{d}/r.docx", "--metrics", M), 1, ("word/document.xml",),
         _zip("r.docx", {"a.txt": b"x"})),
    Case("doc-mojibake-conversion", ("check", "{d}/garbage.doc", "--metrics", M, "--strict"), 1,
         ("不像中文报告",), _fake_soffice(_MOJIBAKE), env={"PATH": "{d}/bin:" + os.environ.get("PATH", "")}),
    Case("doc-mojibake-ingest", ("ingest", "{d}/garbage.doc", "--index", "{d}/idx"), 1, ("不像中文报告",),
         _fake_soffice(_MOJIBAKE), env={"PATH": "{d}/bin:" + os.environ.get("PATH", "")}, one_line=False,
         absent=("idx",)),
    Case("doc-conversion-fails", ("parse", "{d}/garbage.doc"), 1, ("未能转换",),
         _fake_soffice(None), env={"PATH": "{d}/bin:" + os.environ.get("PATH", "")}),
    # ---------------------------------------------------------------- report files
    Case("report-fifo-parse", ("parse", "{d}/r.txt"), 1, ("命名管道",), _fifo("r.txt"), timeout=60),
    Case("report-urandom-symlink-parse", ("parse", "{d}/r.txt"), 1, ("字符设备",),
         _symlink("r.txt", "/dev/urandom"), timeout=60),
    Case("report-urandom-symlink-check", ("check", "{d}/r.txt", "--metrics", M), 1, ("字符设备",),
         _symlink("r.txt", "/dev/urandom"), timeout=60),
    Case("report-fifo-facts", ("facts", "{d}/r.txt"), 1, ("命名管道",), _fifo("r.txt"), timeout=60),
    Case("report-fifo-in-ingest-folder", ("ingest", "{d}/reports", "--index", "{d}/idx"), 1, ("命名管道",),
         _both(_files({"reports/a.txt": REPORT.read_bytes()}), lambda d: os.mkfifo(d / "reports" / "x.txt")),
         one_line=False, timeout=30),
    Case("report-too-big", ("parse", "{d}/r.txt"), 1, ("文件过大",), _sparse("r.txt", 25_000_000)),
    Case("report-empty", ("parse", "{d}/r.txt"), 1, ("空的",), _files({"r.txt": ""})),
    Case("report-is-png", ("facts", "{d}/r.txt"), 1, ("PNG",), _files({"r.txt": b"\x89PNG\r\n\x1a\n" + b"\0" * 64})),
    Case("report-bidi-figure-strict", ("check", "{d}/r.txt", "--metrics", M, "--strict"), 1,
         ("U+202E", "1553人", "矛盾"), _files({"r.txt": _BIDI_REPORT}), stream="both", one_line=False),
    Case("report-zero-width-figure-strict", ("check", "{d}/r.txt", "--metrics", M, "--strict"), 1,
         ("U+200B", "1553人", "矛盾"), _files({"r.txt": _ZW_REPORT}), stream="both", one_line=False),
    # ---------------------------------------------------------------- the CLI contract: exit 2
    Case("parse-missing", ("parse", "{d}/nope.txt"), 2, ("找不到报告文件",)),
    Case("facts-missing", ("facts", "{d}/nope.txt"), 2, ("找不到报告文件",)),
    Case("summarize-missing", ("summarize", "{d}/nope.txt"), 2, ("找不到报告文件",)),
    Case("diff-missing", ("diff", R, "{d}/nope.txt"), 2, ("找不到报告文件",)),
    Case("check-missing-report", ("check", "{d}/nope.txt", "--metrics", M), 2, ("找不到报告文件",)),
    Case("check-missing-metrics", ("check", R, "--metrics", "{d}/nope.yaml"), 2, ("找不到指标文件",)),
    Case("draft-missing-metrics", ("draft", "{d}/nope.yaml", "-o", "{d}/out"), 2, ("找不到指标文件",),
         absent=("out",)),
    Case("batch-missing-input", ("batch", "{d}/nope", "-o", "{d}/out"), 2, ("找不到批量输入",), absent=("out",)),
    Case("check-bad-format", ("check", R, "--metrics", M, "--format", "xml"), 2, ("不支持的输出格式",)),
    Case("batch-negative-workers", ("batch", "{d}", "-o", "{d}/out", "--workers", "-1"), 2, ("--workers",)),
    Case("shuzhi-index-env-missing", ("check", R, "--metrics", M), 2, ("SHUZHI_INDEX",),
         env={"SHUZHI_INDEX": "{d}/no-index"}),
    Case("check-index-missing", ("check", R, "--metrics", M, "--index", "{d}/no-index"), 2, ("找不到索引目录",)),
    # ---------------------------------------------------------------- outputs
    Case("check-o-is-the-report", ("check", "{d}/r.txt", "--metrics", M, "--format", "json", "-o", "{d}/r.txt"),
         2, ("就是输入文件",), _copy("r.txt", REPORT), untouched=("r.txt",)),
    Case("check-o-is-the-metrics", ("check", R, "--metrics", "{d}/m.yaml", "-o", "{d}/m.yaml"), 2,
         ("就是输入文件",), _copy("m.yaml", METRICS), untouched=("m.yaml",)),
    Case("check-o-hard-link-to-report", ("check", "{d}/r.txt", "--metrics", M, "-o", "{d}/link.txt"), 2,
         ("硬链接",), _hardlink("r.txt", "link.txt", REPORT), untouched=("r.txt",)),
    Case("check-o-symlink-to-metrics", ("check", R, "--metrics", "{d}/m.yaml", "-o", "{d}/out.json"), 2,
         ("就是输入文件",), _both(_copy("m.yaml", METRICS), _symlink("out.json", "m.yaml")), untouched=("m.yaml",)),
    Case("diff-o-is-input", ("diff", "{d}/a.txt", R, "-o", "{d}/a.txt"), 2, ("就是输入文件",),
         _copy("a.txt", REPORT), untouched=("a.txt",)),
    Case("facts-out-is-input", ("facts", "{d}/r.txt", "--out", "{d}/r.txt"), 2, ("就是输入文件",),
         _copy("r.txt", REPORT), untouched=("r.txt",)),
    Case("draft-o-would-overwrite-metrics", ("draft", "{d}/draft.json", "-o", "{d}"), 2, ("就是输入文件",),
         _files({"draft.json": json.dumps({"meta": {"year": 2024, "region": "青岚县"}, "metrics": {}},
                                          ensure_ascii=False)}), untouched=("draft.json",), absent=("draft.docx",)),
    Case("check-o-under-a-file", ("check", R, "--metrics", M, "-o", "{d}/f.txt/x.json"), 1, ("是文件而不是文件夹",),
         _files({"f.txt": "x"}), untouched=("f.txt",)),
    Case("check-o-is-a-folder", ("check", R, "--metrics", M, "-o", "{d}/folder"), 1, ("文件夹",),
         lambda d: (d / "folder").mkdir()),
    Case("draft-o-is-a-file", ("draft", M, "-o", "{d}/f.txt"), 1, ("不是文件夹",), _files({"f.txt": "x"}),
         untouched=("f.txt",)),
    Case("draft-o-under-a-file", ("draft", M, "-o", "{d}/f.txt/out"), 1, ("不是文件夹",), _files({"f.txt": "x"}),
         untouched=("f.txt",)),
    Case("batch-out-is-a-file", ("batch", "{d}/units", "-o", "{d}/f.txt", "-q"), 1, ("输出文件夹",),
         _both(_files({"f.txt": "x"}), _units({"a.yaml": _GOOD})), untouched=("f.txt",)),
    # ---------------------------------------------------------------- index
    Case("index-garbage-state-search", ("search", "民兵", "--index", "{d}/idx"), 1, ("--rebuild",),
         _state("x\n", with_report=False)),
    Case("index-garbage-state-rebuild", ("ingest", "{d}/reports", "--index", "{d}/idx", "--rebuild"), 0,
         ("新增 1",), _state("x\n"), stream="out", timeout=180),
    Case("index-old-format-rebuild", ("ingest", "{d}/reports", "--index", "{d}/idx", "--rebuild"), 0,
         ("新增 1",), _state('{"format": 99, "generation": 3}'), stream="out", timeout=180),
    Case("index-locked-names-holder", ("ingest", "{d}/reports", "--index", "{d}/idx"), 1,
         ("正在使用索引", "进程", "2026-01-01"),
         _both(_holder("idx/.lock"), _files({"reports/r.txt": REPORT.read_text(encoding="utf-8")})),
         env={"SHUZHI_LOCK_TIMEOUT": "0.5"}, absent=("idx/state.json",)),
    Case("search-without-index", ("search", "民兵", "--index", "{d}/idx"), 1, ("索引不存在",)),
    Case("draft-without-index-says-so", ("draft", M, "-o", "{d}/out"), 0, ("未使用往年报告索引",), timeout=180,
         present=("out/draft.docx", "out/draft.json")),
    # ---------------------------------------------------------------- batch
    Case("batch-unit-named-summary-json", ("batch", "{d}/units", "-o", "{d}/out", "-q", "--workers", "1"), 0,
         ("完成 1 个",), _units({"summary.json.yaml": _GOOD}), stream="out", timeout=180,
         present=("out/summary.json-单位/draft.docx",), absent=("out/summary.json/draft.docx",)),
    Case("batch-unit-name-empty-after-sanitising", ("batch", "{d}/units", "-o", "{d}/out", "-q", "--workers", "1"),
         0, ("完成 1 个",), _units({"！！！.yaml": _GOOD}), stream="out", timeout=180, present=("out/unit/draft.docx",)),
    Case("batch-out-locked", ("batch", "{d}/units", "-o", "{d}/out", "-q"), 2, ("正在向这个输出文件夹写入", "进程"),
         _holder("out/.shuzhi-batch.lock", with_units=True), absent=("out/summary.json", "out/a")),
    # ---------------------------------------------------------------- engines
    Case("openai-engine-unreachable", ("draft", M, "-o", "{d}/out", "--engine", "openai:http://127.0.0.1:9/v1#m"), 1,
         ("无法连接生成服务",), env={"SHUZHI_LLM_TIMEOUT": "3", "SHUZHI_LLM_RETRIES": "0"}, absent=("out",),
         timeout=180),
)


# --------------------------------------------------------------------------- running a case

def _fill(text: str, d: Path) -> str:
    return text.format(d=d, metrics=METRICS, report=REPORT, corpus=CORPUS)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def run_case(case: Case, d: Path) -> Outcome:
    """Set the case up in the empty folder `d`, run it as a `shuzhi` process, return what happened."""
    cleanup = case.setup(d) if case.setup else None
    rss = d.parent / f".{d.name}.rss"
    env = {k: v for k, v in os.environ.items() if k not in ("SHUZHI_INDEX", "SHUZHI_DEBUG")}
    env.update({"PYTHONPATH": str(ROOT), "SHUZHI_TEST_RSS": str(rss), "ANONYMIZED_TELEMETRY": "False"})
    env.update({k: _fill(v, d) for k, v in case.env.items()})
    argv = [_fill(a, d) for a in case.argv]
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], cwd=d, env=env, capture_output=True,
                              text=True, timeout=case.timeout, stdin=subprocess.DEVNULL)
    finally:
        if cleanup:
            cleanup()
    seconds = time.perf_counter() - started
    try:
        peak_mb = int(rss.read_text()) / 1024
    except (OSError, ValueError):
        peak_mb = float("nan")
    return Outcome(proc.returncode, proc.stdout, proc.stderr, seconds, peak_mb)


_LEFTOVER = re.compile(r"^(\..+\.tmp|\.tmp-.+|\.\..*tmp.*|\.old-.+)$")


def problems(case: Case, d: Path, outcome: Outcome, before: dict[str, str]) -> list[str]:
    """What is wrong with an outcome (empty: the case passes)."""
    found = []
    both = outcome.stdout + outcome.stderr
    if outcome.code != case.code:
        found.append(f"exit {outcome.code}, expected {case.code}")
    if "Traceback" in both:
        found.append("a traceback reached the user")
    shown = {"err": outcome.stderr, "out": outcome.stdout}.get(case.stream, both)
    missing = [m for m in case.message if m not in shown]
    if missing:
        found.append(f"message lacks {missing}")
    if case.one_line and case.code != 0:
        errors = [line for line in outcome.stderr.splitlines() if line.startswith("错误：")]
        if len(errors) != 1:
            found.append(f"{len(errors)} 错误： lines, expected exactly one")
    for name, digest in before.items():
        if _digest(d / name) != digest:
            found.append(f"{name} was changed")
    for name in case.present:
        if not (d / name).exists():
            found.append(f"{name} is missing")
    for name in case.absent:
        if (d / name).exists():
            found.append(f"{name} exists (partial output)")
    leftovers = [str(p.relative_to(d)) for p in d.rglob("*") if _LEFTOVER.match(p.name)]
    if leftovers:
        found.append(f"temporary files left: {leftovers}")
    if outcome.peak_mb == outcome.peak_mb and outcome.peak_mb > case.max_mb:
        found.append(f"peak memory {outcome.peak_mb:.0f} MB > {case.max_mb} MB")
    return found


def check_case(case: Case, d: Path) -> tuple[Outcome, list[str]]:
    d.mkdir(parents=True, exist_ok=True)
    if case.setup is None and not case.untouched:
        outcome = run_case(case, d)
        return outcome, problems(case, d, outcome, {})
    # The digests of untouched files are taken after setup, so run_case's setup runs here first.
    cleanup = case.setup(d) if case.setup else None
    before = {name: _digest(d / name) for name in case.untouched}
    try:
        plain = Case(**{**case.__dict__, "setup": None})
        outcome = run_case(plain, d)
    finally:
        if cleanup:
            cleanup()
    return outcome, problems(case, d, outcome, before)
