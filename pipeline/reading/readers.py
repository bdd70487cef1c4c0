"""Readers: any report file → its text as read, one paragraph per line (offsets the user sees index it).

`.txt`/`.md` in UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK, or — after the strict
attempts fail — a small restricted detector (UTF-16 without BOM, Big5, lenient GB18030 with the
damage counted). `.docx` is read from its XML in document order so that list labels that live in
Word's numbering definitions (`一、` typed by Word, not by the author), tables, text boxes, content
controls and tracked insertions all reach the text once. `.doc` goes through LibreOffice when it
is installed.

Every bad input raises `InputError` with a Chinese message naming the file and the fix; nothing
is written anywhere except a temporary directory for the `.doc` conversion.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

from lxml import etree

from pipeline.errors import InputError, InputWarning
from pipeline.reading.limits import (
    INVISIBLE,
    MAX_DOCX_EXPANDED,
    MAX_REPORT_BYTES,
    check_plausible_text,
    check_zip_archive,
    describe_invisible,
    read_regular_bytes,
    strip_invisible,
)
from pipeline.reading.report_meta import TRADITIONAL_CHARS
from pipeline.reading.textview import OTHER_SPACES, SPECIAL_CHARS, clean_view, has_text

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".docx", ".doc")
DEFAULT_MAX_BYTES = MAX_REPORT_BYTES
_MAX_DOCX_XML = MAX_DOCX_EXPANDED

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _w(tag: str) -> str:
    return f"{{{_W}}}{tag}"


# --------------------------------------------------------------------------- entry point

def read_text(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The document's text as read: every offset the tool reports (`facts`, `check`, `parse`) indexes it.

    `.txt`/`.md`: the decoded file, byte-order mark dropped and line ends (`\\r\\n`, `\\r`) read as
    `\\n`, as Python's text mode reads a file; blank lines, indentation, tabs, odd and full-width
    spaces and Markdown marks stay where they are. `.docx` (and `.doc` through LibreOffice): one
    line per paragraph, empty paragraphs included, joined by `\\n` (a soft line break starts a new
    line; a table row is one line with its cells joined by tabs; a text box's lines follow its
    paragraph; a list label that Word draws, `一、`, is part of its paragraph's line).
    The tidy working copy the parser and the checker use is `pipeline.reading.textview.clean_view`,
    which maps its spans back to this text.
    """
    return read_document(path, max_bytes=max_bytes)[0]


def content_digest(data: bytes) -> str:
    """A document's id: the first 16 hex digits of the sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def read_document(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, str]:
    """`read_text` and the file's content digest, from one read of the file."""
    text, digest, _ = read_document_plain(path, max_bytes=max_bytes, stacklevel=3)
    return text, digest


def read_document_plain(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
                        stacklevel: int = 2) -> tuple[str, str, bool]:
    """`read_document`, and whether the text is plain: True when it holds none of `UNUSUAL_CHARS`
    (no `\\r`, no tab or odd space, no invisible or control character, no Markdown mark, no
    traditional character the parser maps), so what reads it next can skip its own scan for them
    (`parse.parse_file` does); False when it holds some, or when that is not known. `stacklevel`:
    of the warning about invisible characters, to name the caller's caller."""
    p = path if isinstance(path, Path) else Path(path)
    shown = str(path)
    # One stat answers "does it exist", "is it a folder" and the reader's "is it a regular file"
    # (three stats before: ~6 µs of the ~45 µs a small report took to read). A stat that fails
    # sends the questions through pathlib one by one, as before, for the same answers and messages.
    try:
        info: os.stat_result | None = os.stat(p)
    except (OSError, ValueError):
        info = None
    if info is None:
        if not p.exists() and not p.is_symlink():
            raise InputError("文件不存在。请检查路径是否正确。", path=shown)
        is_dir = p.is_dir()
    else:
        is_dir = stat.S_ISDIR(info.st_mode)
    if is_dir:
        raise InputError("这是一个文件夹，不是文件。请给出报告文件的路径。", path=shown)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"不支持的文件类型“{p.suffix or '（无扩展名）'}”。支持的类型：{'、'.join(SUPPORTED_SUFFIXES)}；"
            "其他格式请先另存为 .docx 或 .txt。",
            path=shown,
        )
    # Refuses FIFOs, devices (a symlink to /dev/urandom) and oversize files before reading.
    data = read_regular_bytes(p, max_bytes, shown, known=info)
    if not data or data.isspace():      # (`not data.strip()` without copying the bytes)
        raise InputError("文件是空的（或只有空白）。请确认选对了文件。", path=shown)
    if suffix == ".docx":
        text, plain = _read_docx(p, data, shown), False
    elif suffix == ".doc":
        text, plain = _read_doc(p, data, shown), False
    else:
        text, plain = _decode(data, shown)
    if not plain:           # (a plain text has no `\r` and no invisible character)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        _, invisible = strip_invisible(text)
        if invisible:
            # Zero-width and bidi controls can hide or reorder a figure on screen. The text returned keeps
            # them (offsets index the file as read); the working copy every stage parses and checks
            # (`textview.clean_view`) drops them, so the text checked is the text a reader sees. The user
            # is told where they were.
            warnings.warn(InputWarning(f"{shown}：含 {len(invisible)} 个不可见字符（零宽或双向控制符），核对时已忽略："
                                       f"{describe_invisible(invisible)}。"), stacklevel=stacklevel)
    if not has_text(text):
        raise InputError("文件中没有文字内容（或只有空白）。请确认选对了文件。", path=shown)
    return text, content_digest(data), plain


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


# --------------------------------------------------------------------------- plain text

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "PNG 图片"),
    (b"\xff\xd8\xff", "JPEG 图片"),
    (b"GIF8", "GIF 图片"),
    (b"%PDF", "PDF 文件"),
    (b"PK\x03\x04", "ZIP 压缩包（或 .docx/.xlsx）"),
    (b"\xd0\xcf\x11\xe0", "旧版 Office 文件（.doc/.xls）"),
    (b"\x7fELF", "可执行程序"),
    (b"MZ", "可执行程序"),
    (b"Rar!", "RAR 压缩包"),
    (b"\x1f\x8b", "GZIP 压缩包"),
    (b"7z\xbc\xaf", "7z 压缩包"),
)


# Control characters but \t \n \x0c \r: many of them mean the bytes are no text (`_checked`).
_CONTROLS = "".join(map(chr, [*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20)]))
_CONTROL_RE = re.compile(f"[{re.escape(_CONTROLS)}]")
# Every character some step of reading a text has work to do for: a control character (`_checked`),
# an invisible one (`strip_invisible`), a line end but `\n`, a Markdown mark, an odd or zero-width
# space (`textview.clean_view`), any whitespace but the space and `\n`, a traditional character
# (`parse._settled`). Each step scanned the whole text for its own (~8 µs a report each); most
# reports hold none of them, and one scan of the decoded text says so for all (`_decode`).
UNUSUAL_CHARS = "".join(sorted(set(_CONTROLS + INVISIBLE + SPECIAL_CHARS + OTHER_SPACES + TRADITIONAL_CHARS)))
_UNUSUAL_RE = re.compile(f"[{re.escape(UNUSUAL_CHARS)}]")


_MAGIC_PREFIXES = tuple(magic for magic, _ in _MAGIC)


def decode_text_bytes(data: bytes, shown: str = "") -> str:
    """Decode a plain-text report: BOM, strict UTF-8, strict GB18030, then a restricted detector."""
    return _decode(data, shown)[0]


def _decode(data: bytes, shown: str) -> tuple[str, bool]:
    """`decode_text_bytes`, and whether the text is plain (`read_document_plain`); only a UTF-8 text
    without BOM, the usual report, is looked at for that (the others say False)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", shown, "UTF-8（带 BOM）"), False
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16", shown, "UTF-16（带 BOM）"), False
    for magic, what in _MAGIC if data.startswith(_MAGIC_PREFIXES) else ():     # (one test for all first)
        if data.startswith(magic):
            raise InputError(
                f"这不是文本文件，看起来是{what}。请打开原文件另存为 .txt（UTF-8）或 .docx 后再试。",
                path=shown,
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        unusual = _UNUSUAL_RE.search(text)
        if unusual is None:         # plain, and no control character for `_checked` to count
            return text, True
        return _checked(text, shown, unusual.start()), False
    utf16 = _guess_utf16(data)
    if utf16:
        try:
            return _checked(data.decode(utf16), shown), False
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise _binary_error(shown)
    try:
        return _checked(data.decode("gb18030"), shown), False
    except UnicodeDecodeError:
        pass
    try:
        return _checked(data.decode("big5"), shown), False
    except UnicodeDecodeError:
        pass
    # Last resort: lenient GB18030, refusing when the damage shows it is not text at all.
    text = data.decode("gb18030", errors="replace")
    bad = text.count("\ufffd")
    if bad > max(3, len(text) // 200):
        raise InputError(
            f"无法识别文件编码（按 GB18030 解码有 {bad} 处乱码）。请用记事本或 WPS 打开后另存为 UTF-8 编码的 .txt。",
            path=shown,
        )
    return _checked(text, shown), False


def _strict(data: bytes, encoding: str, shown: str, label: str) -> str:
    try:
        return _checked(data.decode(encoding), shown)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"文件声明为 {label}，但第 {exc.start} 字节处无法解码。请重新另存为 UTF-8 编码的 .txt。",
            path=shown,
        ) from exc


def _guess_utf16(data: bytes) -> str | None:
    # UTF-16 without BOM: CJK text has few NULs, but every ASCII character in it (digits, line
    # ends) puts a NUL on one byte parity and rarely on the other. Accept that pattern only when
    # the decoded text is mostly CJK, punctuation and printable ASCII.
    sample = data[:8000]
    if len(sample) < 4:
        return None
    sample = sample[: len(sample) - len(sample) % 2]
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    for encoding, zeros, other in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros >= 2 and zeros >= 3 * other:
            try:
                text = sample.decode(encoding)
            except UnicodeDecodeError:
                continue
            good = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
            cjk = sum(1 for c in text if "\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef")
            if good >= 0.97 * len(text) and cjk >= 0.2 * len(text):
                return encoding
    return None


def _checked(text: str, shown: str, start: int = 0) -> str:
    """`text`, unless it holds too many control characters; none is before `start` (the caller knows)."""
    controls = len(_CONTROL_RE.findall(text, start))
    if controls > max(2, len(text) // 100):
        raise _binary_error(shown)
    return text


def _binary_error(shown: str) -> InputError:
    return InputError(
        "这不是文本文件（内容像二进制数据）。请确认选对了文件；Word 文档请保存为 .docx。",
        path=shown,
    )


# --------------------------------------------------------------------------- .docx

def _read_docx(p: Path, data: bytes, shown: str) -> str:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError("扩展名是 .docx，但文件实为旧版 Word（.doc）格式。请改名为 .doc 或在 Word 中另存为 .docx。",
                         path=shown)
    if not data.startswith(b"PK"):
        raise InputError("不是有效的 .docx 文件（不是 ZIP 格式）。请在 Word/WPS 中打开后另存为 .docx。", path=shown)
    try:
        with zipfile.ZipFile(p) as archive:
            check_zip_archive(archive, shown, kind=".docx", max_expanded=MAX_DOCX_EXPANDED)
            names = set(archive.namelist())
            if "word/document.xml" not in names:
                raise InputError(
                    "这是一个 ZIP 压缩包，但不是 Word 文档（缺少 word/document.xml）。请给出 .docx 报告文件。",
                    path=shown,
                )
            # A compressed part can expand a thousandfold: bound what we inflate.
            unpacked = archive.getinfo("word/document.xml").file_size
            if unpacked > _MAX_DOCX_XML:
                raise InputError(f"该 .docx 的正文部分解压后过大（{_mb(unpacked)}，上限 {_mb(_MAX_DOCX_XML)}）。"
                                 "请确认文件是否正常，或拆分后再处理。", path=shown)
            document = archive.read("word/document.xml")
            numbering = archive.read("word/numbering.xml") if "word/numbering.xml" in names else None
            styles = archive.read("word/styles.xml") if "word/styles.xml" in names else None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InputError("该 .docx 文件已损坏（ZIP 结构无法读取）。请在 Word/WPS 中打开修复后另存为 .docx。",
                         path=shown) from exc
    except (OSError, KeyError, ValueError, NotImplementedError, zipfile.LargeZipFile, RuntimeError) as exc:
        raise InputError(f"该 .docx 文件无法读取：{exc}。请在 Word/WPS 中另存为 .docx 后再试。", path=shown) from exc
    try:
        return docx_xml_to_text(document, numbering, styles)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"该 .docx 文件内容已损坏（XML 无法解析：{exc}）。请在 Word/WPS 中另存为 .docx。",
                         path=shown) from exc


# --------------------------------------------------------------------------- .doc

def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _read_doc(p: Path, data: bytes, shown: str) -> str:
    binary = _soffice()
    if not binary:
        raise InputError(
            "旧版 Word（.doc）文件需要 LibreOffice 才能读取，本机未安装。"
            "请在 Word/WPS 中将文件另存为 .docx，或安装 LibreOffice（soffice 命令）后再试。",
            path=shown,
        )
    with tempfile.TemporaryDirectory(prefix="shuzhi-doc-") as tmp:
        tmp_path = Path(tmp)
        # A private profile directory: a running LibreOffice (or a parallel conversion) holding the
        # default profile lock would otherwise make the headless call exit silently.
        profile = (tmp_path / "profile").as_uri()
        command = [binary, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "docx",
                   "--outdir", str(tmp_path / "out"), str(p.resolve())]
        try:
            subprocess.run(command, capture_output=True, timeout=180, check=False,
                           env={**os.environ, "HOME": tmp})
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"用 LibreOffice 转换 .doc 失败：{exc}。请在 Word/WPS 中另存为 .docx 后再试。",
                             path=shown) from exc
        converted = tmp_path / "out" / (p.stem + ".docx")
        if not converted.exists():
            raise InputError("LibreOffice 未能转换该 .doc 文件（文件可能已损坏或不是 Word 文档）。"
                             "请在 Word/WPS 中另存为 .docx 后再试。", path=shown)
        text = _read_docx(converted, converted.read_bytes(), shown)
        # LibreOffice "converts" random bytes too; mojibake must not pass as a clean report.
        check_plausible_text(clean_view(text).text, shown, what="LibreOffice 对该 .doc 的转换结果")
        return text


# --------------------------------------------------------------------------- .docx XML walk

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


def _xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, _PARSER)


_CN_SMALL = "〇一二三四五六七八九"
_TIANGAN = "甲乙丙丁戊己庚辛壬癸"
_DIZHI = "子丑寅卯辰巳午未申酉戌亥"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def chinese_counting(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (Word's chineseCounting)."""
    if n <= 0:
        return str(n)
    if n < 10:
        return _CN_SMALL[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _CN_SMALL[tens]) + "十" + (_CN_SMALL[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        if rest == 0:
            return _CN_SMALL[hundreds] + "百"
        tail = chinese_counting(rest) if rest >= 10 else _CN_SMALL[rest]
        if 10 <= rest < 20:
            tail = "一" + tail
        return _CN_SMALL[hundreds] + "百" + ("零" if rest < 10 else "") + tail
    return str(n)


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                           (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += letters
            n -= value
    return out


def format_number(n: int, fmt: str) -> str:
    """A list counter in one of Word's `w:numFmt` formats."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified", "japaneseCounting",
               "taiwaneseCounting", "taiwaneseCountingThousand", "ideographLegalTraditional"):
        return chinese_counting(n)
    if fmt == "ideographTraditional":
        return _TIANGAN[(n - 1) % 10]
    if fmt == "ideographZodiac":
        return _DIZHI[(n - 1) % 12]
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= len(_CIRCLED):
        return _CIRCLED[n - 1]
    if fmt == "decimalFullWidth":
        return "".join(chr(ord(c) + 0xFEE0) for c in str(n))
    if fmt == "upperLetter":
        return chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
    if fmt == "lowerLetter":
        return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
    if fmt == "upperRoman":
        return _roman(n)
    if fmt == "lowerRoman":
        return _roman(n).lower()
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("none", "bullet"):
        return ""
    return str(n)


class _Level:
    __slots__ = ("start", "fmt", "text", "restart", "legal")

    def __init__(self, start: int, fmt: str, text: str, restart: int | None, legal: bool = False):
        self.start, self.fmt, self.text, self.restart, self.legal = start, fmt, text, restart, legal


class _Numbering:
    """Word list numbering: num → abstractNum levels, with counters kept per list instance."""

    def __init__(self, numbering: bytes | None, styles: bytes | None):
        self.abstract: dict[str, dict[int, _Level]] = {}
        self.style_link: dict[str, str] = {}      # abstractNum → numbering style it defers to
        self.num_abstract: dict[str, str] = {}
        self.start_override: dict[tuple[str, int], int] = {}
        self.style_num: dict[str, tuple[str | None, int | None]] = {}
        self.style_based: dict[str, str] = {}
        self.counters: dict[str, dict[int, int]] = {}
        if numbering:
            self._load_numbering(_xml(numbering))
        if styles:
            self._load_styles(_xml(styles))

    def _load_numbering(self, root: etree._Element) -> None:
        for absn in root.iter(_w("abstractNum")):
            levels: dict[int, _Level] = {}
            for lvl in absn.findall(_w("lvl")):
                ilvl = int(lvl.get(_w("ilvl"), "0"))
                levels[ilvl] = _Level(
                    start=int(_val(lvl.find(_w("start")), "1") or 1),
                    fmt=_val(lvl.find(_w("numFmt")), "decimal") or "decimal",
                    text=_val(lvl.find(_w("lvlText")), "") or "",
                    restart=_int_or_none(_val(lvl.find(_w("lvlRestart")), None)),
                    # isLgl ("legal numbering"): every level shows as a decimal, `一、` → `1.1`.
                    legal=lvl.find(_w("isLgl")) is not None,
                )
            abstract_id = absn.get(_w("abstractNumId"), "")
            self.abstract[abstract_id] = levels
            link = _val(absn.find(_w("numStyleLink")), None)
            if link:
                self.style_link[abstract_id] = link
        for num in root.iter(_w("num")):
            num_id = num.get(_w("numId"), "")
            self.num_abstract[num_id] = _val(num.find(_w("abstractNumId")), "") or ""
            for override in num.findall(_w("lvlOverride")):
                ilvl = int(override.get(_w("ilvl"), "0"))
                start = override.find(_w("startOverride"))
                if start is not None:
                    self.start_override[(num_id, ilvl)] = int(_val(start, "1") or 1)

    def _load_styles(self, root: etree._Element) -> None:
        for style in root.iter(_w("style")):
            style_id = style.get(_w("styleId"), "")
            based = style.find(_w("basedOn"))
            if based is not None:
                self.style_based[style_id] = _val(based, "") or ""
            ppr = style.find(_w("pPr"))
            numpr = ppr.find(_w("numPr")) if ppr is not None else None
            if numpr is not None:
                self.style_num[style_id] = (_val(numpr.find(_w("numId")), None),
                                            _int_or_none(_val(numpr.find(_w("ilvl")), None)))

    def _style_numpr(self, style_id: str | None) -> tuple[str | None, int | None]:
        seen: set[str] = set()
        while style_id and style_id not in seen:
            seen.add(style_id)
            if style_id in self.style_num:
                return self.style_num[style_id]
            style_id = self.style_based.get(style_id)
        return None, None

    def _levels(self, num_id: str) -> dict[int, _Level]:
        # A list may defer its levels to a numbering style (`w:numStyleLink`), whose numPr names
        # the list that really holds them.
        abstract_id = self.num_abstract.get(num_id, "")
        for _ in range(3):
            levels = self.abstract.get(abstract_id, {})
            link = self.style_link.get(abstract_id)
            if levels or not link:
                return levels
            linked_num, _lvl = self._style_numpr(link)
            abstract_id = self.num_abstract.get(linked_num or "", "")
        return {}

    def label(self, paragraph: etree._Element) -> str:
        """The list label Word would show before this paragraph, or ""; advances the counters."""
        ppr = paragraph.find(_w("pPr"))
        num_id: str | None = None
        ilvl: int | None = None
        style_id = None
        if ppr is not None:
            style_id = _val(ppr.find(_w("pStyle")), None)
            numpr = ppr.find(_w("numPr"))
            if numpr is not None:
                num_id = _val(numpr.find(_w("numId")), None)
                ilvl = _int_or_none(_val(numpr.find(_w("ilvl")), None))
        if num_id is None or ilvl is None:
            style_num, style_lvl = self._style_numpr(style_id)
            num_id = num_id if num_id is not None else style_num
            ilvl = ilvl if ilvl is not None else style_lvl
        if not num_id or num_id == "0":
            return ""
        ilvl = ilvl or 0
        levels = self._levels(num_id)
        level = levels.get(ilvl)
        if level is None:
            return ""
        counters = self.counters.setdefault(num_id, {})
        if ilvl in counters:
            counters[ilvl] += 1
        else:
            counters[ilvl] = self.start_override.get((num_id, ilvl), level.start)
        # A deeper level restarts when a shallower one advances (unless lvlRestart says otherwise).
        for deeper in [k for k in counters if k > ilvl]:
            restart = levels.get(deeper).restart if levels.get(deeper) else None
            if restart is None or restart == 0 or restart > ilvl:
                if restart != 0:
                    del counters[deeper]
        if level.fmt == "bullet" or level.fmt == "none":
            return ""

        def substitute(match: re.Match[str]) -> str:
            k = int(match.group(1)) - 1
            lv = levels.get(k)
            value = counters.get(k, lv.start if lv else 1)
            return format_number(value, "decimal" if level.legal or not lv else lv.fmt)

        return re.sub(r"%([1-9])", substitute, level.text)


def _val(element: etree._Element | None, default: str | None) -> str | None:
    if element is None:
        return default
    return element.get(_w("val"), default)


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


# A piece of a line: its text, the Word element it came from (`w:t`, `w:tab`… or None for a list
# label Word draws) and where in that element's text it starts. The review copy
# (`pipeline.output.review_docx`) anchors comments through these.
Piece = tuple[str, "etree._Element | None", int]


def docx_xml_to_text(document: bytes, numbering: bytes | None = None, styles: bytes | None = None) -> str:
    """Text of `word/document.xml`, one paragraph (or table row) per line, in document order."""
    root = _xml(document)
    body = root.find(_w("body"))
    if body is None:
        return ""
    return "\n".join(_line_text(line) for line in docx_body_lines(body, numbering, styles))


def docx_body_lines(body: etree._Element, numbering: bytes | None = None,
                    styles: bytes | None = None) -> list[list[Piece]]:
    """The lines of `read_text` for a `.docx` body, each a list of pieces that name their source
    element: `"\\n".join` of the line texts is exactly what `read_text` returns."""
    lists = _Numbering(numbering, styles)
    lines: list[list[Piece]] = []
    _walk_blocks(body, lists, lines)
    return lines


def _line_text(line: list[Piece]) -> str:
    return "".join(piece[0] for piece in line)


def _split_pieces(pieces: list[Piece]) -> list[list[Piece]]:
    """Pieces cut into lines at every `\\n` (soft line breaks)."""
    lines: list[list[Piece]] = [[]]
    for text, element, offset in pieces:
        if "\n" not in text:
            lines[-1].append((text, element, offset))
            continue
        at = 0
        for part in text.split("\n"):
            if part:
                lines[-1].append((part, element, offset + at))
            at += len(part) + 1
            lines.append([])
        lines.pop()
    return lines


def _strip_pieces(pieces: list[Piece], *, left: bool = True, right: bool = True) -> list[Piece]:
    """`str.strip` across pieces, keeping each remaining piece's place in its element."""
    out = [p for p in pieces if p[0]]
    while left and out:
        text, element, offset = out[0]
        trimmed = text.lstrip()
        if trimmed:
            out[0] = (trimmed, element, offset + len(text) - len(trimmed))
            break
        out.pop(0)
    while right and out:
        text, element, offset = out[-1]
        trimmed = text.rstrip()
        if trimmed:
            out[-1] = (trimmed, element, offset)
            break
        out.pop()
    return out


def _walk_blocks(container: etree._Element, lists: _Numbering, lines: list[list[Piece]]) -> None:
    for child in container:
        tag = child.tag
        if tag == _w("p"):
            _paragraph(child, lists, lines)
        elif tag == _w("tbl"):
            _table(child, lists, lines)
        elif tag == _w("sdt"):
            content = child.find(_w("sdtContent"))
            if content is not None:
                _walk_blocks(content, lists, lines)
        elif tag in (_w("customXml"), _w("ins"), _w("smartTag")):
            _walk_blocks(child, lists, lines)


def _paragraph(p: etree._Element, lists: _Numbering, lines: list[list[Piece]]) -> None:
    parts: list[Piece] = []
    boxes: list[list[Piece]] = []
    _inline(p, parts, boxes, lists)
    label = lists.label(p)
    if label and _line_text(parts).strip():
        parts = [(label, None, 0), *_strip_pieces(parts, right=False)]
    lines.extend(_split_pieces(parts))
    lines.extend(boxes)


_SKIP = {_w("del"), _w("delText"), _w("instrText"), _w("pPr"), _w("rPr"), _w("moveFrom"),
         _w("commentReference"), _w("footnoteReference"), _w("endnoteReference")}


def _inline(node: etree._Element, parts: list[Piece], boxes: list[list[Piece]], lists: _Numbering) -> None:
    for child in node:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == _w("t"):
            parts.append((child.text or "", child, 0))
        elif tag == _w("tab"):
            parts.append(("\t", child, 0))
        elif tag in (_w("br"), _w("cr")):
            # Soft line breaks split the paragraph; page and column breaks are layout only.
            if child.get(_w("type")) in (None, "textWrapping"):
                parts.append(("\n", child, 0))
        elif tag == _w("noBreakHyphen"):
            parts.append(("-", child, 0))
        elif tag == _w("txbxContent"):
            _walk_blocks(child, lists, boxes)
        elif tag == f"{{{_MC}}}AlternateContent":
            # Text boxes come twice: a DrawingML Choice and a VML Fallback. Read the Choice, and
            # the Fallback only when the Choice carried no text at all.
            choice = child.find(f"{{{_MC}}}Choice")
            before = (len(parts), len(boxes))
            if choice is not None:
                _inline(choice, parts, boxes, lists)
            if (len(parts), len(boxes)) == before:
                fallback = child.find(f"{{{_MC}}}Fallback")
                if fallback is not None:
                    _inline(fallback, parts, boxes, lists)
        else:
            _inline(child, parts, boxes, lists)


def _table(tbl: etree._Element, lists: _Numbering, lines: list[list[Piece]]) -> None:
    for row in tbl.iter(_w("tr")):
        if row.getparent() is not tbl and _ancestor_table(row) is not tbl:
            continue
        cells: list[list[Piece]] = []
        for cell in row.findall(_w("tc")) + [c for sdt in row.findall(_w("sdt"))
                                             for c in sdt.iter(_w("tc"))]:
            cell_lines: list[list[Piece]] = []
            _walk_blocks(cell, lists, cell_lines)
            cells.append([piece for line in cell_lines for piece in _strip_pieces(line)])
        if any(cells):
            row_pieces: list[Piece] = []
            for k, cell_pieces in enumerate(cells):
                if k:
                    row_pieces.append(("\t", None, 0))
                row_pieces.extend(cell_pieces)
            lines.append(_strip_pieces(row_pieces))


def _ancestor_table(node: etree._Element) -> etree._Element | None:
    parent = node.getparent()
    while parent is not None and parent.tag != _w("tbl"):
        parent = parent.getparent()
    return parent
