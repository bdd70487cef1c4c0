from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.reading import readers
from pipeline.reading.readers import SUPPORTED_SUFFIXES, chinese_counting, format_number, read_text
from pipeline.reading.textview import clean_view

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
SAMPLE = "青岚县党管武装工作述职报告\n一、立足岗位，提升能力\n全年输送合格青年126人，比例达到98％。"

# --------------------------------------------------------------------------- plain text encodings


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("utf8", SAMPLE.encode("utf-8")),
        ("utf8_bom", b"\xef\xbb\xbf" + SAMPLE.encode("utf-8")),
        ("utf16_bom_le", SAMPLE.encode("utf-16")),
        ("utf16_bom_be", b"\xfe\xff" + SAMPLE.encode("utf-16-be")),
        ("gb18030", SAMPLE.encode("gb18030")),
        ("gbk", SAMPLE.encode("gbk")),
        ("utf16_le_no_bom", SAMPLE.encode("utf-16-le")),
    ],
)
def test_text_encodings(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / f"{name}.txt"
    path.write_bytes(data)
    assert read_text(path) == SAMPLE


def test_text_is_the_file_as_read_and_the_clean_view_tidies_it(tmp_path: Path) -> None:
    raw = ("\u3000\u3000一、\u00a0立足岗位\r\n\r\n\u3000\u3000全年\u3000共计\u200b3次。  \r"
           "\ufeff二、坚持制度\r\n")
    path = tmp_path / "crlf.txt"
    path.write_bytes(raw.encode("utf-8"))
    # read_text: only line ends change (as Python's text mode reads them); offsets index this.
    text = read_text(path)
    assert text == raw.replace("\r\n", "\n").replace("\r", "\n")
    # The working copy: edge indentation goes, NBSP becomes a space, an interior ideographic space
    # stays, zero-width marks and empty lines go.
    assert clean_view(text).text == "一、 立足岗位\n全年\u3000共计3次。\n二、坚持制度"


def test_full_width_punctuation_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("比例达到９８％，“五率”考评（全市）：第一。", encoding="utf-8")
    assert read_text(path) == "比例达到９８％，“五率”考评（全市）：第一。"


def test_markdown_marks_stay_in_the_text_and_leave_the_clean_view(tmp_path: Path) -> None:
    raw = "# 青岚县述职报告\n\n## 一、立足岗位\n> 引文\n**二、坚持制度**\n正文**加粗**。\n"
    path = tmp_path / "r.md"
    path.write_text(raw, encoding="utf-8")
    assert read_text(path) == raw
    assert clean_view(raw).text == "青岚县述职报告\n一、立足岗位\n引文\n二、坚持制度\n正文**加粗**。"


def test_lenient_gb18030_with_a_little_damage(tmp_path: Path) -> None:
    data = ("正文" * 400).encode("gb18030") + b"\xff" + ("结尾。" * 10).encode("gb18030")
    path = tmp_path / "damaged.txt"
    path.write_bytes(data)
    text = read_text(path)
    assert text.startswith("正文正文") and text.endswith("结尾。")


# --------------------------------------------------------------------------- bad input


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _zip_bytes(tmp_path: Path, members: dict[str, str]) -> bytes:
    path = tmp_path / "_tmp.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize(
    ("name", "make", "needles"),
    [
        ("empty.txt", lambda t: b"", ["空"]),
        ("blank.txt", lambda t: " \n\u3000\n\r\n".encode(), ["空"]),
        ("picture.txt", lambda t: PNG, ["PNG", "不是文本文件"]),
        ("archive.txt", lambda t: _zip_bytes(t, {"a.txt": "x"}), ["ZIP"]),
        ("binary.txt", lambda t: bytes(range(256)) * 20, ["不是文本文件"]),
        ("renamed.docx", lambda t: _zip_bytes(t, {"a.txt": "x"}), ["word/document.xml", "不是 Word"]),
        ("picture.docx", lambda t: PNG, ["不是有效的 .docx"]),
        ("broken.docx", lambda t: _zip_bytes(t, {"word/document.xml": "<x/>" * 200})[:120], ["损坏"]),
        ("old.docx", lambda t: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, [".doc", "另存为 .docx"]),
        ("badxml.docx", lambda t: _zip_bytes(t, {"word/document.xml": "<w:document"}), ["损坏"]),
        ("blank.docx", lambda t: _zip_bytes(t, {"word/document.xml": _document("")}), ["没有文字"]),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(tmp_path: Path, name, make, needles) -> None:
    path = _write(tmp_path, name, make(tmp_path))
    with pytest.raises(InputError) as info:
        read_text(path)
    message = str(info.value)
    assert info.value.path == str(path)
    assert str(path) in message
    for needle in needles:
        assert needle in message


def test_docx_whose_text_part_inflates_too_far(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(readers, "_MAX_DOCX_XML", 1000)
    path = make_docx(tmp_path / "bomb.docx", _p("正文" * 2000))
    with pytest.raises(InputError, match="解压后过大"):
        read_text(path)


def test_docx_with_a_corrupt_compressed_stream(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", _document("".join(_p(f"第{i}段正文。") for i in range(300))))
    data = bytearray(path.read_bytes())
    start = data.index(b"word/document.xml") + len("word/document.xml")
    for k in range(start + 40, start + 240, 7):      # inside the deflate stream
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="损坏"):
        read_text(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="文件不存在"):
        read_text(tmp_path / "nope.txt")


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.txt").mkdir()
    with pytest.raises(InputError, match="文件夹"):
        read_text(tmp_path / "d.txt")


def test_unsupported_extension_lists_supported_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "report.pdf", b"%PDF-1.4")
    with pytest.raises(InputError) as info:
        read_text(path)
    assert ".pdf" in str(info.value)
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in str(info.value)


def test_file_over_the_size_limit_names_limit_and_size(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.txt", "正文。".encode() * 1000)
    with pytest.raises(InputError) as info:
        read_text(path, max_bytes=2000)
    message = str(info.value)
    assert "2000 字节" in message and "0.0 MB" in message and "过大" in message
    assert read_text(path, max_bytes=10_000).startswith("正文。")


def test_unreadable_file_simulated(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path, "locked.txt", "正文。".encode())

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    from pipeline.reading import limits

    monkeypatch.setattr(limits.os, "open", refuse)   # the one open of every report read
    with pytest.raises(InputError, match="没有读取该文件的权限"):
        read_text(path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads a chmod 000 file anyway; the simulated test covers the message")
def test_unreadable_file_chmod(tmp_path: Path) -> None:
    path = _write(tmp_path, "locked.txt", "正文。".encode())
    path.chmod(0)
    try:
        with pytest.raises(InputError, match="权限"):
            read_text(path)
    finally:
        path.chmod(0o600)


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, "picture.txt", PNG)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError):
        read_text(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# --------------------------------------------------------------------------- .docx

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = (f'xmlns:w="{W}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
      'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
      'xmlns:v="urn:schemas-microsoft-com:vml"')


def _document(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><w:document {NS}><w:body>{body}<w:sectPr/></w:body></w:document>'


def _p(text: str = "", num: tuple[int, int] | None = None, style: str | None = None, runs: str = "") -> str:
    ppr = ""
    if num or style:
        inner = f'<w:pStyle w:val="{style}"/>' if style else ""
        if num:
            inner += f'<w:numPr><w:ilvl w:val="{num[1]}"/><w:numId w:val="{num[0]}"/></w:numPr>'
        ppr = f"<w:pPr>{inner}</w:pPr>"
    run = f"<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r>" if text else ""
    return f"<w:p>{ppr}{run}{runs}</w:p>"


def _lvl(ilvl: int, fmt: str, text: str, start: int = 1) -> str:
    return (f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="{start}"/><w:numFmt w:val="{fmt}"/>'
            f'<w:lvlText w:val="{text}"/></w:lvl>')


NUMBERING = (
    f'<?xml version="1.0" encoding="UTF-8"?><w:numbering {NS}>'
    '<w:abstractNum w:abstractNumId="0">'
    + _lvl(0, "chineseCounting", "%1、") + _lvl(1, "chineseCounting", "（%2）") + _lvl(2, "decimal", "%3.")
    + "</w:abstractNum>"
    '<w:abstractNum w:abstractNumId="1">' + _lvl(0, "ideographTraditional", "%1、") + "</w:abstractNum>"
    '<w:abstractNum w:abstractNumId="2">' + _lvl(0, "bullet", "•") + "</w:abstractNum>"
    '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>'
    '<w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>'
    '<w:num w:numId="3"><w:abstractNumId w:val="2"/></w:num>'
    '<w:num w:numId="4"><w:abstractNumId w:val="0"/>'
    '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="4"/></w:lvlOverride></w:num>'
    "</w:numbering>"
)

STYLES = (
    f'<?xml version="1.0" encoding="UTF-8"?><w:styles {NS}>'
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:pPr><w:numPr><w:numId w:val="1"/>'
    '<w:ilvl w:val="0"/></w:numPr></w:pPr></w:style>'
    '<w:style w:type="paragraph" w:styleId="MyHeading"><w:basedOn w:val="Heading1"/></w:style>'
    "</w:styles>"
)


def make_docx(path: Path, body: str, numbering: str | None = NUMBERING, styles: str | None = STYLES) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", _document(body))
        if numbering:
            archive.writestr("word/numbering.xml", numbering)
        if styles:
            archive.writestr("word/styles.xml", styles)
    return path


def test_docx_numbering_labels_are_resolved(tmp_path: Path) -> None:
    body = (
        _p("立足岗位，提升能力", num=(1, 0))
        + _p("带头学习", num=(1, 1))
        + _p("带头研究", num=(1, 1))
        + _p("第一条", num=(1, 2))
        + _p("第二条", num=(1, 2))
        + _p("坚持制度，推动落实", num=(1, 0))
        + _p("民兵工作", num=(1, 1))       # level 2 restarts after level 1 advances
        + _p("夯实基础，强化保障", style="MyHeading")   # numbering inherited via basedOn
        + _p("甲项", num=(2, 0))
        + _p("乙项", num=(2, 0))
        + _p("要点", num=(3, 0))           # bullets carry no label
        + _p("另起", num=(4, 0))           # startOverride 4
        + _p("", num=(1, 0))               # empty numbered paragraph: no stray label
    )
    text = read_text(make_docx(tmp_path / "n.docx", body))
    assert text.split("\n") == [
        "一、立足岗位，提升能力", "（一）带头学习", "（二）带头研究", "1.第一条", "2.第二条",
        "二、坚持制度，推动落实", "（一）民兵工作", "三、夯实基础，强化保障", "甲、甲项", "乙、乙项", "要点",
        "四、另起", "",     # an empty paragraph is an empty line: line N is the N-th paragraph
    ]


def test_docx_tables_text_boxes_controls_revisions_breaks(tmp_path: Path) -> None:
    cell = lambda t: f"<w:tc>{_p(t)}</w:tc>"  # noqa: E731
    table = (f"<w:tbl><w:tr>{cell('项目')}{cell('数量')}</w:tr>"
             f"<w:tr>{cell('基干民兵')}{cell('860人')}</w:tr></w:tbl>")
    box = ('<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent>'
           + _p("文本框内容") + '</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict>'
           '<v:textbox><w:txbxContent>' + _p("文本框内容") + "</w:txbxContent></v:textbox></w:pict>"
           "</mc:Fallback></mc:AlternateContent></w:r>")
    revisions = ('<w:ins w:id="1"><w:r><w:t>新增的话</w:t></w:r></w:ins>'
                 '<w:del w:id="2"><w:r><w:delText>删掉的话</w:delText></w:r></w:del>')
    soft_break = "<w:r><w:t>第一行</w:t><w:br/><w:t>第二行</w:t><w:br w:type=\"page\"/><w:t>续</w:t></w:r>"
    sdt = f"<w:sdt><w:sdtPr/><w:sdtContent>{_p('内容控件中的段落')}</w:sdtContent></w:sdt>"
    inline_sdt = "<w:sdt><w:sdtContent><w:r><w:t>行内控件</w:t></w:r></w:sdtContent></w:sdt>"
    body = (_p("开头。") + table + _p("锚点段落", runs=box) + _p("修订：", runs=revisions)
            + _p("", runs=soft_break) + sdt + _p("前", runs=inline_sdt))
    text = read_text(make_docx(tmp_path / "t.docx", body))
    assert text.split("\n") == [
        "开头。", "项目\t数量", "基干民兵\t860人", "锚点段落", "文本框内容", "修订：新增的话",
        "第一行", "第二行续", "内容控件中的段落", "前行内控件",
    ]
    assert text.count("文本框内容") == 1
    assert "删掉的话" not in text


def test_docx_vml_only_text_box_is_read_from_the_fallback(tmp_path: Path) -> None:
    box = ('<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing/></mc:Choice><mc:Fallback>'
           '<w:pict><v:textbox><w:txbxContent>' + _p("旧式文本框") + "</w:txbxContent></v:textbox>"
           "</w:pict></mc:Fallback></mc:AlternateContent></w:r>")
    text = read_text(make_docx(tmp_path / "v.docx", _p("锚", runs=box), numbering=None, styles=None))
    assert text == "锚\n旧式文本框"


def test_docx_written_by_python_docx(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("青岚县党管武装工作述职报告")
    document.add_paragraph("一、立足岗位，提升能力")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "征兵"
    table.cell(0, 1).text = "126人"
    document.add_paragraph("我的述职完毕。")
    path = tmp_path / "real.docx"
    document.save(path)
    assert read_text(path) == "青岚县党管武装工作述职报告\n一、立足岗位，提升能力\n征兵\t126人\n我的述职完毕。"


def test_docx_numbering_through_a_numbering_style_link(tmp_path: Path) -> None:
    numbering = (f'<?xml version="1.0" encoding="UTF-8"?><w:numbering {NS}>'
                 '<w:abstractNum w:abstractNumId="0">' + _lvl(0, "chineseCounting", "%1、") + "</w:abstractNum>"
                 '<w:abstractNum w:abstractNumId="1"><w:numStyleLink w:val="ReportList"/></w:abstractNum>'
                 '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>'
                 '<w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num></w:numbering>')
    styles = (f'<?xml version="1.0" encoding="UTF-8"?><w:styles {NS}><w:style w:type="numbering" w:styleId="ReportList">'
              '<w:pPr><w:numPr><w:numId w:val="1"/></w:numPr></w:pPr></w:style></w:styles>')
    body = _p("立足岗位", num=(2, 0)) + _p("坚持制度", num=(2, 0))
    assert read_text(make_docx(tmp_path / "s.docx", body, numbering=numbering, styles=styles)) == "一、立足岗位\n二、坚持制度"


def test_docx_legal_numbering_shows_decimals(tmp_path: Path) -> None:
    numbering = (f'<?xml version="1.0" encoding="UTF-8"?><w:numbering {NS}><w:abstractNum w:abstractNumId="0">'
                 + _lvl(0, "chineseCounting", "%1、")
                 + '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:isLgl/>'
                 '<w:lvlText w:val="%1.%2"/></w:lvl></w:abstractNum>'
                 '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>')
    body = _p("总体", num=(1, 0)) + _p("细目", num=(1, 1)) + _p("细目", num=(1, 1))
    assert read_text(make_docx(tmp_path / "l.docx", body, numbering=numbering)) == "一、总体\n1.1细目\n1.2细目"


@pytest.mark.parametrize(
    ("n", "fmt", "expected"),
    [
        (1, "chineseCounting", "一"), (10, "chineseCounting", "十"), (11, "chineseCounting", "十一"),
        (20, "chineseCountingThousand", "二十"), (23, "chineseCounting", "二十三"),
        (105, "chineseCounting", "一百零五"), (110, "chineseCounting", "一百一十"),
        (3, "decimal", "3"), (3, "ideographTraditional", "丙"), (2, "decimalEnclosedCircle", "②"),
        (4, "upperRoman", "IV"), (2, "lowerLetter", "b"), (12, "decimalFullWidth", "１２"), (5, "bullet", ""),
    ],
)
def test_number_formats(n: int, fmt: str, expected: str) -> None:
    assert format_number(n, fmt) == expected
    if fmt.startswith("chinese"):
        assert chinese_counting(n) == expected


# --------------------------------------------------------------------------- .doc


def test_doc_without_libreoffice_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "old.doc"
    shutil.copy(FIXTURES / "legacy.doc", path)
    monkeypatch.setattr(readers.shutil, "which", lambda name: None)
    with pytest.raises(InputError) as info:
        read_text(path)
    message = str(info.value)
    assert str(path) in message and "另存为 .docx" in message and "LibreOffice" in message


@pytest.mark.skipif(not (shutil.which("soffice") or shutil.which("libreoffice")),
                    reason="LibreOffice is not installed here")
def test_doc_is_converted_with_libreoffice(tmp_path: Path) -> None:
    path = tmp_path / "old.doc"
    shutil.copy(FIXTURES / "legacy.doc", path)
    text = read_text(path)
    assert text.split("\n")[:3] == ["青岚县党管武装工作述职报告",
                                    "一年来，我认真履行党管武装职责。现将履职情况报告如下：",
                                    "一、立足岗位，提升履职能力"]
    assert text.endswith("我的述职完毕，请批评指正。")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.doc"]   # nothing left beside it
