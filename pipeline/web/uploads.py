"""Uploaded files: size and type checked, saved under server-chosen names.

A client's file name is used for two things only: its suffix (checked against an allow-list) and,
escaped, as a label on the page. The saved name is `uuid4().hex + suffix` inside a directory the
server made, so `../../etc/passwd.txt` or `con.docx` can never reach the file system as a path.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from starlette.datastructures import UploadFile

DEFAULT_MAX_UPLOAD = 10 * 1024 * 1024
METRICS_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json", ".xlsx")
REPORT_SUFFIXES: tuple[str, ...] = (".docx", ".txt", ".md")
ZIP_SUFFIXES = frozenset({".docx", ".xlsx"})
COPY_CHUNK = 256 * 1024
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
                max_bytes: int, keep_year: bool = False) -> SavedUpload:
    """Copy `upload` into `directory` under a new name; reject a wrong type (415) or size (413).

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
    target = directory / f"{uuid.uuid4().hex}{year}{suffix}"
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
    return SavedUpload(path=target, label=label, size=size)
