"""Input limits shared by every loader (CLI, batch and web alike), checked before parsing.

A hostile or broken input must be refused quickly, with a one-line Chinese message, before a
parser spends memory or time on it: a 700-byte YAML alias bomb expands to billions of nodes, a
5000-deep `[[[…]]]` overflows the recursion of every YAML/JSON parser, a zip of zeros inflates a
thousandfold, a FIFO or `/dev/urandom` never ends. Each function here raises `InputError` naming
the file (and the line, key or sheet) and what to do; none of them reads more than it must.

Public functions (the web upload checks reuse them): `require_regular_file`, `read_regular_bytes`,
`check_zip_archive`, `check_yaml_limits`, `check_json_limits`, `check_sheet_size`,
`strip_invisible`, `describe_invisible`, `check_plausible_text`.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass

from pipeline.errors import InputError

# --------------------------------------------------------------------------- the limits

MAX_REPORT_BYTES = 20_000_000          # a report file (.txt/.md/.docx/.doc) on disk
MAX_METRICS_BYTES = 5_000_000          # a metrics file (.yaml/.json); a real one is a few KB
MAX_NESTING = 64                       # YAML/JSON nesting depth; a metrics file needs 4
MAX_YAML_ALIASES = 1_000               # alias uses in one YAML file
MAX_YAML_NODES = 200_000               # nodes after expanding every alias (a metrics file: < 2,000)
MAX_ZIP_ENTRIES = 5_000                # members of a .docx/.xlsx
MAX_DOCX_EXPANDED = 200_000_000        # all members of a .docx, uncompressed
MAX_XLSX_EXPANDED = 50_000_000         # all members of a .xlsx, uncompressed
MAX_ZIP_RATIO = 1_000                  # uncompressed / compressed size of one member
MAX_SHEET_ROWS = 100_000
MAX_SHEET_COLUMNS = 1_000
MAX_SHEET_CELLS = 2_000_000            # rows × columns of one sheet


@dataclass(frozen=True)
class Limits:
    """The limits as one value, for display (README, `eval/RESULTS.md`) and for the web."""

    report_bytes: int = MAX_REPORT_BYTES
    metrics_bytes: int = MAX_METRICS_BYTES
    nesting: int = MAX_NESTING
    yaml_aliases: int = MAX_YAML_ALIASES
    yaml_nodes: int = MAX_YAML_NODES
    zip_entries: int = MAX_ZIP_ENTRIES
    docx_expanded: int = MAX_DOCX_EXPANDED
    xlsx_expanded: int = MAX_XLSX_EXPANDED
    zip_ratio: int = MAX_ZIP_RATIO
    sheet_rows: int = MAX_SHEET_ROWS
    sheet_columns: int = MAX_SHEET_COLUMNS
    sheet_cells: int = MAX_SHEET_CELLS


LIMITS = Limits()


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


# --------------------------------------------------------------------------- files

_KINDS = ((stat.S_ISFIFO, "命名管道（FIFO）"), (stat.S_ISCHR, "字符设备"), (stat.S_ISBLK, "块设备"),
          (stat.S_ISSOCK, "套接字"), (stat.S_ISDIR, "文件夹"))


def require_regular_file(path: str | os.PathLike, shown: str | None = None) -> os.stat_result:
    """The file's stat after following symlinks; refuses anything that is not a regular file
    (a FIFO would block the reader forever, `/dev/urandom` never ends)."""
    shown = shown if shown is not None else str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise InputError("文件不存在。请检查路径是否正确。", path=shown) from exc
    except PermissionError as exc:
        raise InputError("没有读取该文件的权限。请检查文件权限。", path=shown) from exc
    except OSError as exc:
        raise InputError(f"无法读取文件：{exc.strerror or exc}。", path=shown) from exc
    return _regular(info, path, shown)


def _regular(info: os.stat_result, path: str | os.PathLike, shown: str) -> os.stat_result:
    """`info` (the stat of `path`) when it is a regular file's; else the refusal."""
    if not stat.S_ISREG(info.st_mode):
        what = next((name for test, name in _KINDS if test(info.st_mode)), "特殊文件")
        link = "（经符号链接指向）" if os.path.islink(path) else ""
        raise InputError(f"这不是普通文件，而是{link}{what}，不能读取。请给出一个普通的报告或指标文件。", path=shown)
    return info


def read_regular_bytes(path: str | os.PathLike, max_bytes: int, shown: str | None = None, *,
                       known: os.stat_result | None = None) -> bytes:
    """All bytes of a regular file of at most `max_bytes`. Opened non-blocking and checked again
    on the open descriptor, so a file swapped for a FIFO between the checks cannot hang us.
    `known`: the caller's `os.stat(path)`, taken just before (it saves a stat a file)."""
    shown = shown if shown is not None else str(path)
    if known is None:
        require_regular_file(path, shown)
    else:
        _regular(known, path, shown)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError as exc:
        raise InputError("没有读取该文件的权限。请检查文件权限（或以有权限的用户运行）。", path=shown) from exc
    except OSError as exc:
        raise InputError(f"无法读取文件：{exc.strerror or exc}。", path=shown) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError("这不是普通文件，不能读取。请给出一个普通文件。", path=shown)
        _check_size(info.st_size, max_bytes, shown)
        # A read of n bytes allocates n bytes up front: asking for `max_bytes + 1` (20 MB) costs
        # a small report more than reading it. Ask for the size fstat gave, one byte more to
        # see a file that grew since; only then read on, up to the same `max_bytes + 1`.
        want = min(info.st_size, max_bytes) + 1
        data = _read_fd(fd, want)
        if len(data) == want and want < max_bytes + 1:
            data += _read_fd(fd, max_bytes + 1 - want)
    except OSError as exc:
        raise InputError(f"无法读取文件：{exc.strerror or exc}。", path=shown) from exc
    finally:
        os.close(fd)
    _check_size(len(data), max_bytes, shown)
    return data


def _read_fd(fd: int, size: int) -> bytes:
    """`size` bytes from `fd`, fewer only at the end of the file: what a buffered file's `read(size)`
    returns, without making the file object (a few µs a file, as much as reading a small report)."""
    pieces: list[bytes] = []
    while size > 0:
        piece = os.read(fd, size)
        if not piece:
            break
        pieces.append(piece)
        size -= len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _check_size(size: int, max_bytes: int, shown: str) -> None:
    if size > max_bytes:
        raise InputError(f"文件过大：{_mb(size)}，超过上限 {_mb(max_bytes)}（{max_bytes} 字节）。"
                         "请确认是否选错了文件，或拆分后再处理。", path=shown)


# --------------------------------------------------------------------------- zip containers

def check_zip_archive(archive: zipfile.ZipFile, shown: str, *, kind: str, max_expanded: int,
                      max_entries: int = MAX_ZIP_ENTRIES, max_ratio: int = MAX_ZIP_RATIO) -> None:
    """Refuse a .docx/.xlsx whose members are too many, expand too far in total, or one of which
    inflates more than `max_ratio` times (a zip bomb), from the central directory alone."""
    infos = archive.infolist()
    if len(infos) > max_entries:
        raise InputError(f"该 {kind} 文件包含 {len(infos)} 个部件，超过上限 {max_entries}；"
                         "文件可能已损坏或不是正常文档。请在 Word/WPS/Excel 中另存后再试。", path=shown)
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1_000_000 and info.file_size > max_ratio * max(info.compress_size, 1):
            raise InputError(f"该 {kind} 文件的部件 {info.filename} 压缩比异常（{_mb(info.compress_size)} 解压为 "
                             f"{_mb(info.file_size)}），疑似压缩炸弹，已拒绝。请确认文件来源。", path=shown)
    if total > max_expanded:
        raise InputError(f"该 {kind} 文件解压后过大（{_mb(total)}，上限 {_mb(max_expanded)}）。"
                         "请确认文件是否正常，或拆分后再处理。", path=shown)


def open_zip_checked(path: str | os.PathLike, shown: str, *, kind: str, max_expanded: int) -> zipfile.ZipFile:
    """`zipfile.ZipFile(path)` after `require_regular_file` and `check_zip_archive`."""
    require_regular_file(path, shown)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        app = "Excel/WPS" if kind == ".xlsx" else "Word/WPS"
        raise InputError(f"不是有效的 {kind} 文件（ZIP 结构无法读取：{exc}）。请用 {app} 打开后另存为 {kind}。",
                         path=shown) from exc
    try:
        check_zip_archive(archive, shown, kind=kind, max_expanded=max_expanded)
    except BaseException:
        archive.close()
        raise
    return archive


def check_sheet_size(rows: int | None, columns: int | None, shown: str, sheet: str) -> None:
    """Refuse a worksheet whose used range is larger than any metrics sheet or batch workbook."""
    rows, columns = rows or 0, columns or 0
    if rows > MAX_SHEET_ROWS or columns > MAX_SHEET_COLUMNS or rows * columns > MAX_SHEET_CELLS:
        raise InputError(f"工作表“{sheet}”的范围过大（{rows} 行 × {columns} 列，上限 {MAX_SHEET_ROWS} 行、"
                         f"{MAX_SHEET_COLUMNS} 列、共 {MAX_SHEET_CELLS} 格）。请删除表格末尾的空行空列"
                         "（或远处误填的单元格）后另存。", path=shown, location=f"工作表 {sheet}")


# --------------------------------------------------------------------------- YAML and JSON

def check_yaml_limits(text: str, shown: str) -> None:
    """Walk the YAML event stream once (no node tree, no recursion) and refuse deep nesting, too
    many aliases, or more nodes than `MAX_YAML_NODES` once every alias is expanded. A file the
    parser rejects is left to the loader, whose message names the line."""
    import yaml

    fast = getattr(yaml, "CSafeLoader", None)
    try:
        _scan_yaml_events(fast(text) if fast else yaml.SafeLoader(text), shown)
        return
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):
            # libyaml's scanner reads ahead and stops at its own limit (1000) before our count
            # sees the events; the pure-Python parser would take quadratic time to get there.
            mark = getattr(exc, "problem_mark", None)
            raise InputError(f"YAML 嵌套超过 {MAX_NESTING} 层，已拒绝。指标文件只需几层（meta、metrics、键、字段）；"
                             "请检查文件是否正确。", path=shown,
                             location=f"第 {mark.line + 1} 行" if mark else None) from None
        if fast is None:
            return
    # libyaml stops at its own nesting limit (1000) with a scanner error; the pure-Python parser
    # (a state machine, no recursion) reaches ours first, or finds the real syntax error.
    try:
        _scan_yaml_events(yaml.SafeLoader(text), shown)
    except yaml.YAMLError:
        return                     # a syntax error: the loader reports it with its line


def _scan_yaml_events(loader, shown: str) -> None:  # noqa: ANN001 - a PyYAML loader
    import yaml

    anchors: dict[str, int] = {}
    stack: list[list] = []          # per open collection: [node count, anchor]
    aliases = 0
    total = 0

    def add(size: int, line: int, own: int | None = None) -> None:
        # `size` nodes join the parent collection; `own` of them are new to the running total
        # (a closing collection adds only itself: its members were counted as they came).
        nonlocal total
        total += size if own is None else own
        if stack:
            stack[-1][0] += size
        if total > MAX_YAML_NODES:
            raise InputError(f"YAML 展开后超过 {MAX_YAML_NODES} 个节点（别名 & / * 层层引用，疑似“别名炸弹”），"
                             "已拒绝。指标文件不需要别名，请删去 & 和 * 后直接填写。",
                             path=shown, location=f"第 {line} 行")

    try:
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                break
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if len(stack) >= MAX_NESTING:
                    raise InputError(f"YAML 嵌套超过 {MAX_NESTING} 层，已拒绝。指标文件只需几层（meta、metrics、键、字段）；"
                                     "请检查文件是否正确。", path=shown, location=f"第 {line} 行")
                stack.append([0, event.anchor])
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                count, anchor = stack.pop()
                if anchor:
                    anchors[anchor] = count + 1
                add(count + 1, line, own=1)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    anchors[event.anchor] = 1
                add(1, line)
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_YAML_ALIASES:
                    raise InputError(f"YAML 别名（*引用）超过 {MAX_YAML_ALIASES} 处，已拒绝。请删去别名后直接填写。",
                                     path=shown, location=f"第 {line} 行")
                add(anchors.get(event.anchor, 1), line)
    finally:
        loader.dispose()


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def check_json_limits(text: str, shown: str) -> None:
    """Refuse JSON nested deeper than `MAX_NESTING` (json.loads would overflow its recursion)."""
    stripped = _JSON_STRING.sub('""', text)
    depth = 0
    for match in _JSON_BRACKET.finditer(stripped):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = stripped.count("\n", 0, match.start()) + 1
                raise InputError(f"JSON 嵌套超过 {MAX_NESTING} 层，已拒绝。指标文件只需几层；请检查文件是否正确。",
                                 path=shown, location=f"第 {line} 行")
        else:
            depth -= 1


# --------------------------------------------------------------------------- invisible characters

# Zero-width characters and bidirectional controls: invisible on screen, yet they split a figure
# from its unit (`15\u200b35人`) or reorder it on display (U+202E), so a reader would see one text
# and the checker another.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
BIDI_CONTROLS = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INVISIBLE = ZERO_WIDTH + BIDI_CONTROLS
_INVISIBLE_TABLE = {ord(c): None for c in INVISIBLE}
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")


@dataclass(frozen=True)
class InvisibleChar:
    line: int        # 1-based
    column: int      # 1-based, in the original text
    char: str

    @property
    def code(self) -> str:
        return f"U+{ord(self.char):04X}"


def strip_invisible(text: str) -> tuple[str, list[InvisibleChar]]:
    """The text without zero-width and bidi control characters, and where each one was."""
    if not _INVISIBLE_RE.search(text):
        return text, []
    found = []
    for match in _INVISIBLE_RE.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        found.append(InvisibleChar(text.count("\n", 0, match.start()) + 1, match.start() - line_start + 1,
                                   match.group()))
    return text.translate(_INVISIBLE_TABLE), found


def describe_invisible(found: list[InvisibleChar], *, limit: int = 3) -> str:
    """`第 3 行第 5 列（U+202E）、第 9 行第 1 列（U+200B）等 7 处`."""
    parts = [f"第 {f.line} 行第 {f.column} 列（{f.code}）" for f in found[:limit]]
    more = f"等 {len(found)} 处" if len(found) > limit else ""
    return "、".join(parts) + more


# --------------------------------------------------------------------------- converted text

def check_plausible_text(text: str, shown: str, *, what: str = "转换结果") -> None:
    """Refuse text that is not a Chinese report: replacement characters (bytes that decoded to
    nothing), control characters, or too little CJK for a 述职报告. Used on what LibreOffice made
    of a .doc, which happily "converts" random bytes into mojibake."""
    body = "".join(text.split())
    if not body:
        raise InputError(f"{what}中没有文字。请在 Word/WPS 中另存为 .docx 后再试。", path=shown)
    bad = body.count("\ufffd") + sum(1 for c in body if ord(c) < 32 or 0xE000 <= ord(c) <= 0xF8FF)
    cjk = sum(1 for c in body if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef")
    if bad > max(3, len(body) // 100) or cjk < max(10, len(body) // 5):
        raise InputError(f"{what}不像中文报告（共 {len(body)} 字，汉字及中文标点 {cjk} 个，乱码 {bad} 处），"
                         "文件可能已损坏或不是 Word 文档。请在 Word/WPS 中打开确认后另存为 .docx。", path=shown)
