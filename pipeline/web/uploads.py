"""Uploaded files: size, type and shape checked, saved under server-chosen names.

Shape limits run before any parser sees the file, each in well under a second whatever the file:
a .docx/.xlsx is a zip whose central directory gives every member's expanded size and the entry
count (zipfile never inflates a member past its declared size, so the declared sum bounds the
work); an .xlsx's sheets are scanned for rows and columns; a YAML file's event stream (libyaml,
nothing constructed) is checked for aliases, nesting depth and NaN/Inf numbers, a JSON file for
depth and NaN/Infinity. Every refusal is an `UploadRejected` with a Chinese message.

A client's file name is used for two things only: its suffix (checked against an allow-list) and,
escaped, as a label on the page. The saved name is `uuid4().hex + suffix` inside a directory the
server made, so `../../etc/passwd.txt` or `con.docx` can never reach the file system as a path.
"""

from __future__ import annotations

import os
import re
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from starlette.datastructures import UploadFile

DEFAULT_MAX_UPLOAD = 10 * 1024 * 1024
METRICS_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json", ".xlsx")
REPORT_SUFFIXES: tuple[str, ...] = (".docx", ".txt", ".md")
ZIP_SUFFIXES = frozenset({".docx", ".xlsx"})
COPY_CHUNK = 256 * 1024
# Shape limits (a real report's document.xml is 0.1–2 MB; a metrics workbook is a few KB).
MAX_ZIP_ENTRIES = 2000
MAX_DOCX_XML = 16 * 1024 * 1024          # all .xml parts of a .docx, expanded
MAX_ZIP_EXPANDED = 128 * 1024 * 1024     # every member of a .docx/.xlsx, expanded (images included)
MAX_XLSX_XML = 8 * 1024 * 1024           # all .xml parts of an .xlsx, expanded
MAX_XLSX_ROWS = 5000
MAX_XLSX_COLUMNS = 60
MAX_TEXT_METRICS = 2 * 1024 * 1024       # a .yaml/.json metrics file
MAX_YAML_ALIASES = 1000
MAX_YAML_EXPANDED = 100_000            # nodes once every alias is expanded
MAX_NESTING = 40
MAX_SHOWN_PROBLEMS = 30                  # problems listed on a page; the rest are counted
_YEAR_IN_NAME = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")


class UploadRejected(Exception):
    """An upload the server refuses: `status` is the HTTP status, the message is for the user."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SavedUpload:
    path: Path          # server-chosen
    label: str          # the client's base name, for display only (escape it)
    size: int


def max_upload_bytes() -> int:
    """The per-file limit: SHUZHI_MAX_UPLOAD (bytes, or with a K/M suffix), default 10 MB."""
    raw = os.environ.get("SHUZHI_MAX_UPLOAD", "").strip().upper()
    if not raw:
        return DEFAULT_MAX_UPLOAD
    match = re.fullmatch(r"(\d+)\s*([KM]?)B?", raw)
    if not match:
        return DEFAULT_MAX_UPLOAD
    return int(match.group(1)) * {"": 1, "K": 1024, "M": 1024 * 1024}[match.group(2)]


def size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n // 1024} KB"
    return f"{n} 字节"


def client_label(filename: str | None) -> str:
    """The base name the browser sent (either slash style), trimmed; only ever displayed."""
    name = filename or ""
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:120] or "（未命名）"


def is_present(upload: object) -> bool:
    """A file input the user filled (browsers send an empty part with no name for an empty input)."""
    return isinstance(upload, UploadFile) and bool(upload.filename)


def save_upload(upload: UploadFile, directory: Path, *, allowed: tuple[str, ...], what: str,
                max_bytes: int, keep_year: bool = False, name: str | None = None) -> SavedUpload:
    """Copy `upload` into `directory` under a new name (`name` + the suffix, or a uuid); reject a
    wrong type (415) or size (413).

    `keep_year` keeps a year written in the client's name (`lanchuan-2023.txt` → `<uuid>-2023.txt`):
    the index reads a report's year from its file name when the text does not say it.
    """
    label = client_label(upload.filename)
    suffix = PurePosixPath(label).suffix.lower()
    if suffix not in allowed:
        shown = suffix or "无扩展名"
        raise UploadRejected(
            f"{what}“{label}”的类型（{shown}）不支持；允许的类型：{'、'.join(allowed)}。"
            "请另存为其中一种格式后重新上传。",
            status=415,
        )
    year = ""
    if keep_year:
        match = _YEAR_IN_NAME.search(label)
        year = f"-{match.group(1)}" if match else ""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name or uuid.uuid4().hex}{year}{suffix}"
    size = 0
    upload.file.seek(0)
    with open(target, "xb") as out:
        while chunk := upload.file.read(COPY_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                target.unlink(missing_ok=True)
                raise UploadRejected(
                    f"{what}“{label}”太大：超过 {size_text(max_bytes)} 的上限。"
                    "请上传更小的文件（报告和指标文件通常不到 1 MB）；管理员可用环境变量 SHUZHI_MAX_UPLOAD 调整上限。",
                    status=413,
                )
            out.write(chunk)
    if size == 0:
        target.unlink(missing_ok=True)
        raise UploadRejected(f"{what}“{label}”是空文件；请确认选对了文件。")
    if suffix in ZIP_SUFFIXES:
        with open(target, "rb") as handle:
            magic = handle.read(4)
        if magic != b"PK\x03\x04":
            target.unlink(missing_ok=True)
            raise UploadRejected(
                f"{what}“{label}”的扩展名是 {suffix}，但内容不是 {suffix} 文件（可能是改了扩展名的旧版 "
                f"{'.doc' if suffix == '.docx' else '.xls'} 或其他文件）；请用 Word/WPS/Excel 另存为 {suffix} 后重新上传。",
                status=415,
            )
    try:
        check_shape(target, suffix, label, what)
    except UploadRejected:
        target.unlink(missing_ok=True)
        raise
    return SavedUpload(path=target, label=label, size=size)


# ---------------------------------------------------------------------- shape limits

def _mb(n: int) -> str:
    return size_text(n)


def check_shape(path: Path, suffix: str, label: str, what: str) -> None:
    """Refuse a file whose parsing would cost far more than its size suggests (zip/alias bombs,
    giant sheets, NaN figures). Cheap: reads the zip directory, scans XML bytes, walks YAML events."""
    if suffix in ZIP_SUFFIXES:
        _check_zip(path, suffix, label, what)
    elif suffix in (".yaml", ".yml", ".json"):
        size = path.stat().st_size
        if size > MAX_TEXT_METRICS:
            raise UploadRejected(f"{what}“{label}”太大（{_mb(size)}）：指标文件不应超过 {_mb(MAX_TEXT_METRICS)}。"
                                 "请检查是否选错了文件。", status=413)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                return              # the loader reports the encoding in its own words
        if suffix == ".json":
            _check_json(text, label, what)
        else:
            _check_yaml(text, label, what)


def _check_zip(path: Path, suffix: str, label: str, what: str) -> None:
    bad = UploadRejected(f"{what}“{label}”已损坏，无法打开；请用 Word/WPS/Excel 重新另存为 {suffix} 后上传。",
                         status=400)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise UploadRejected(
                    f"{what}“{label}”内部包含 {len(infos)} 个部件，超过 {MAX_ZIP_ENTRIES} 个的上限，"
                    "不像正常的 Word/Excel 文件；请重新另存后上传。", status=413)
            total = sum(i.file_size for i in infos)
            xml = sum(i.file_size for i in infos if i.filename.lower().endswith((".xml", ".rels")))
            xml_limit = MAX_DOCX_XML if suffix == ".docx" else MAX_XLSX_XML
            if total > MAX_ZIP_EXPANDED or xml > xml_limit:
                shown, limit = (total, MAX_ZIP_EXPANDED) if total > MAX_ZIP_EXPANDED else (xml, xml_limit)
                raise UploadRejected(
                    f"{what}“{label}”解压后过大（{_mb(shown)}，上限 {_mb(limit)}）：文件虽小，展开后的内容却极大，"
                    "不像正常的文件；请用 Word/WPS/Excel 打开后另存为新文件再上传。", status=413)
            if suffix == ".xlsx":
                _check_sheets(archive, infos, label, what)
    except UploadRejected:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError) as exc:
        raise bad from exc


_ROW_REF = re.compile(rb"<(?:\w+:)?row\b[^>]*?\br=\"(\d+)\"")
_CELL_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\br=\"([A-Z]{1,3})\d+\"")
_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b")


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _check_sheets(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], label: str, what: str) -> None:
    """Rows and columns actually present in each worksheet (not the `<dimension>` it claims)."""
    for info in infos:
        name = info.filename.lower()
        if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
            continue
        data = archive.read(info)          # bounded by MAX_XLSX_XML above
        rows = max((int(m) for m in _ROW_REF.findall(data)), default=0)
        rows = max(rows, len(_ROW_TAG.findall(data)))
        columns = max((_column_number(m) for m in set(_CELL_REF.findall(data))), default=0)
        if rows > MAX_XLSX_ROWS or columns > MAX_XLSX_COLUMNS:
            raise UploadRejected(
                f"{what}“{label}”的工作表太大（{rows} 行 × {columns} 列，上限 {MAX_XLSX_ROWS} 行 × "
                f"{MAX_XLSX_COLUMNS} 列）：指标表通常不到 200 行、6 列。请删去多余的行列，"
                "或用“下载 Excel 模板”重新填写。", status=413)


def _check_yaml(text: str, label: str, what: str) -> None:
    """Walk the event stream once (nothing is constructed): the size the document would have once
    every alias is expanded (an anchor's subtree counted again at each `*alias`), its depth, NaN."""
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    nan = re.compile(r"[-+]?\.(?:nan|inf)", re.IGNORECASE)
    anchored: dict[str, int] = {}
    frames: list[list[Any]] = [[None, 0]]           # [anchor, expanded size so far]
    aliases = 0
    loader = loader_cls(text)

    def add(n: int) -> None:
        frames[-1][1] += n
        if sum(f[1] for f in frames) > MAX_YAML_EXPANDED:
            raise UploadRejected(
                f"{what}“{label}”使用的 YAML 引用（&锚点 和 *别名）展开后极大（超过 {MAX_YAML_EXPANDED} 项），"
                "不像正常的指标文件；指标文件不需要引用，请把数字直接写出来。", status=413)

    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_YAML_ALIASES:
                    raise UploadRejected(
                        f"{what}“{label}”使用了过多的 YAML 引用（*别名，超过 {MAX_YAML_ALIASES} 个）；"
                        "指标文件不需要引用，请把数字直接写出来。", status=413)
                add(anchored.get(event.anchor, 1))
            elif isinstance(event, yaml.CollectionStartEvent):
                frames.append([event.anchor, 0])
                if len(frames) - 1 > MAX_NESTING:
                    raise UploadRejected(
                        f"{what}“{label}”第 {event.start_mark.line + 1} 行嵌套过深（超过 {MAX_NESTING} 层）；"
                        "指标文件只有两三层，请检查缩进。", status=400)
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size = frames.pop()
                if anchor:
                    anchored[anchor] = size + 1
                add(size + 1)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    anchored[event.anchor] = 1
                add(1)
                if event.implicit[0] and not event.style and nan.fullmatch(event.value):
                    raise UploadRejected(
                        f"{what}“{label}”第 {event.start_mark.line + 1} 行的“{event.value}”不是数字"
                        "（非数/无穷大）；请填写实际数字，不知道的写 null。", status=400)
    except yaml.YAMLError:
        return                      # the loader names the line in its own words
    finally:
        loader.dispose()


_JSON_CONSTANT = re.compile(r"(?<![\w.])-?(?:NaN|Infinity)(?![\w])")


def _check_json(text: str, label: str, what: str) -> None:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    if deepest > MAX_NESTING:
        raise UploadRejected(f"{what}“{label}”嵌套过深（超过 {MAX_NESTING} 层）；指标文件只有两三层，请检查括号。",
                             status=400)
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    match = _JSON_CONSTANT.search(stripped)
    if match:
        line = stripped.count("\n", 0, match.start()) + 1
        raise UploadRejected(f"{what}“{label}”第 {line} 行的“{match.group(0)}”不是数字（非数/无穷大）；"
                             "请填写实际数字，不知道的写 null。", status=400)
