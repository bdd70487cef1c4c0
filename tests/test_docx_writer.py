"""The Word writer: layout read back from the saved XML, not from python-docx's own objects."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from pipeline.models import WordBlock
from pipeline.output.docx_writer import format_cn_date, write_docx

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W}


def _a(name: str) -> str:
    return f"{{{W}}}{name}"


_BODY = "一年来，全县向部队输送合格青年215人，基干民兵1800人。"


def _span(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


BLOCKS = (
    WordBlock("title", "2024年度党管武装工作述职报告"),
    WordBlock("subtitle", "青岚县委书记 林某某"),
    WordBlock(
        "body",
        _BODY,
        comments=((*_span(_BODY, "215人"), "来源：conscription.recruits = 215人（输送合格青年）"),
                  (*_span(_BODY, "1800人"), "来源：militia.primary = 1800人（基干民兵）")),
    ),
    WordBlock("h1", "一、立足岗位，不断提升党管武装工作能力素质"),
    WordBlock("h2", "（一）坚持理论武装"),
    WordBlock("h3", "1. 抓好专题学习"),
    WordBlock("body", "一是推进民兵改革训练。"),
    WordBlock("signature", "青岚县委书记"),
    WordBlock("signature", "林某某"),
    WordBlock("date", "2025-01-10"),
)


def _write(tmp_path: Path, *, annotate: bool, blocks=BLOCKS) -> zipfile.ZipFile:
    path = write_docx(blocks, tmp_path / "out" / "draft.docx", annotate=annotate, author="核稿")
    assert path == tmp_path / "out" / "draft.docx"
    return zipfile.ZipFile(path)


def _xml(archive: zipfile.ZipFile, name: str) -> etree._Element:
    return etree.fromstring(archive.read(name))


def _style(styles: etree._Element, style_id: str) -> etree._Element:
    found = styles.find(f"w:style[@w:styleId='{style_id}']", NS)
    assert found is not None, style_id
    return found


@pytest.fixture
def plain(tmp_path):
    return _write(tmp_path, annotate=False)


@pytest.fixture
def annotated(tmp_path):
    return _write(tmp_path, annotate=True)


def test_page_size_and_margins_in_twips(plain):
    sect = _xml(plain, "word/document.xml").find(".//w:body/w:sectPr", NS)
    size = sect.find("w:pgSz", NS)
    assert (size.get(_a("w")), size.get(_a("h"))) == ("11906", "16838")
    margins = sect.find("w:pgMar", NS)
    got = {k: margins.get(_a(k)) for k in ("top", "bottom", "left", "right")}
    assert got == {"top": "2098", "bottom": "1984", "left": "1587", "right": "1474"}
    grid = sect.find("w:docGrid", NS)
    assert (grid.get(_a("type")), grid.get(_a("linePitch"))) == ("linesAndChars", "579")
    # 28 characters a line: (442.25 pt / 28 − 16 pt) × 4096
    assert grid.get(_a("charSpace")) == str(round((8845 / 20 / 28 - 16) * 4096))


@pytest.mark.parametrize(
    ("style_id", "east_asia", "size", "bold", "align", "first_line_chars"),
    [
        ("ShuzhiTitle", "方正小标宋简体", "44", False, "center", "0"),
        ("ShuzhiSubtitle", "楷体_GB2312", "32", False, "center", "0"),
        ("Normal", "仿宋_GB2312", "32", False, "both", "200"),
        ("ShuzhiHeading1", "黑体", "32", False, "both", "200"),
        ("ShuzhiHeading2", "楷体_GB2312", "32", False, "both", "200"),
        ("ShuzhiHeading3", "仿宋_GB2312", "32", True, "both", "200"),
        ("ShuzhiSignature", "仿宋_GB2312", "32", False, "right", "0"),
        ("ShuzhiDate", "仿宋_GB2312", "32", False, "right", "0"),
    ],
)
def test_style_fonts_spacing_and_indent(plain, style_id, east_asia, size, bold, align, first_line_chars):
    style = _style(_xml(plain, "word/styles.xml"), style_id)
    fonts = style.find("w:rPr/w:rFonts", NS)
    assert fonts.get(_a("eastAsia")) == east_asia
    assert style.find("w:rPr/w:sz", NS).get(_a("val")) == size
    assert (style.find("w:rPr/w:b", NS) is not None) is bold
    spacing = style.find("w:pPr/w:spacing", NS)
    assert (spacing.get(_a("line")), spacing.get(_a("lineRule"))) == ("579", "exact")
    assert style.find("w:pPr/w:jc", NS).get(_a("val")) == align
    ind = style.find("w:pPr/w:ind", NS)
    assert ind.get(_a("firstLineChars")) == first_line_chars
    assert ind.get(_a("firstLine")) == ("640" if first_line_chars == "200" else "0")


def test_every_run_carries_its_east_asian_font(plain):
    document = _xml(plain, "word/document.xml")
    expected = {
        "ShuzhiTitle": "方正小标宋简体", "ShuzhiSubtitle": "楷体_GB2312", None: "仿宋_GB2312",
        "ShuzhiHeading1": "黑体", "ShuzhiHeading2": "楷体_GB2312", "ShuzhiHeading3": "仿宋_GB2312",
        "ShuzhiSignature": "仿宋_GB2312", "ShuzhiDate": "仿宋_GB2312",
    }
    paragraphs = document.findall(".//w:body/w:p", NS)
    assert len(paragraphs) == len(BLOCKS)
    for paragraph in paragraphs:
        style = paragraph.find("w:pPr/w:pStyle", NS)
        style_id = style.get(_a("val")) if style is not None else None
        runs = paragraph.findall("w:r", NS)
        assert runs
        for run in runs:
            assert run.find("w:rPr/w:rFonts", NS).get(_a("eastAsia")) == expected[style_id]
    texts = ["".join(p.itertext()) for p in paragraphs]
    assert texts[:2] == ["2024年度党管武装工作述职报告", "青岚县委书记 林某某"]
    assert texts[-1] == "2025年1月10日"


def test_defaults_set_east_asian_font_and_chinese_language(plain):
    styles = _xml(plain, "word/styles.xml")
    rpr = styles.find("w:docDefaults/w:rPrDefault/w:rPr", NS)
    assert rpr.find("w:rFonts", NS).get(_a("eastAsia")) == "仿宋_GB2312"
    assert rpr.find("w:lang", NS).get(_a("eastAsia")) == "zh-CN"


def test_body_characters_tightened_to_28_per_line(plain):
    # 28 glyphs of 16 pt minus 0.25 pt each fit the 156 mm (442 pt) line; the title is not tightened
    styles = _xml(plain, "word/styles.xml")
    normal = _style(styles, "Normal").find("w:rPr/w:spacing", NS)
    assert normal is not None and int(normal.get(_a("val"))) == -5
    assert 28 * (16 - 0.25) <= 156 / 25.4 * 72 < 29 * (16 - 0.25)
    assert _style(styles, "ShuzhiTitle").find("w:rPr/w:spacing", NS) is None


def test_title_group_and_signature_spacing(plain):
    paragraphs = _xml(plain, "word/document.xml").findall(".//w:body/w:p", NS)
    subtitle, signature, date_line = paragraphs[1], paragraphs[7], paragraphs[9]
    assert subtitle.find("w:pPr/w:spacing", NS).get(_a("after")) == "579"   # 标题下空一行
    assert paragraphs[0].find("w:pPr/w:spacing", NS) is None
    assert signature.find("w:pPr/w:spacing", NS).get(_a("before")) == "579"  # 正文下空一行
    assert date_line.find("w:pPr/w:ind", NS).get(_a("rightChars")) == "200"  # 右空二字
    # 署名以成文日期为准居中: "2025年1月10日" is 6.5 characters wide (7 half-width digits),
    # so "青岚县委书记" (6) sits 2 + 0.25 characters from the right and "林某某" (3) 2 + 1.75
    assert signature.find("w:pPr/w:ind", NS).get(_a("rightChars")) == "225"
    assert paragraphs[8].find("w:pPr/w:ind", NS).get(_a("rightChars")) == "375"


def test_even_and_odd_footers_carry_page_fields(plain):
    settings = _xml(plain, "word/settings.xml")
    assert settings.find("w:evenAndOddHeaders", NS) is not None
    sect = _xml(plain, "word/document.xml").find(".//w:body/w:sectPr", NS)
    rels = etree.fromstring(plain.read("word/_rels/document.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels}
    refs = {r.get(_a("type")): targets[r.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")]
            for r in sect.findall("w:footerReference", NS)}
    assert set(refs) == {"default", "even"}
    for kind, align, side in (("default", "right", "right"), ("even", "left", "left")):
        footer = _xml(plain, f"word/{refs[kind]}")
        paragraph = footer.find("w:p", NS)
        assert paragraph.find("w:pPr/w:jc", NS).get(_a("val")) == align
        assert paragraph.find("w:pPr/w:ind", NS).get(_a(side)) == "280"   # one 14 pt character
        instr = "".join(t.text for t in paragraph.iter(_a("instrText")))
        assert instr.strip() == "PAGE"
        kinds = [f.get(_a("fldCharType")) for f in paragraph.iter(_a("fldChar"))]
        assert kinds == ["begin", "separate", "end"]
        text = "".join(t.text for t in paragraph.iter(_a("t")))
        assert text == "— 1 —"
        for run in paragraph.findall("w:r", NS):
            assert run.find("w:rPr/w:rFonts", NS).get(_a("eastAsia")) == "宋体"
            assert run.find("w:rPr/w:sz", NS).get(_a("val")) == "28"


def test_no_comments_part_without_annotate(plain):
    assert "word/comments.xml" not in plain.namelist()
    assert b"commentRangeStart" not in plain.read("word/document.xml")


def test_comments_anchor_exactly_their_spans(annotated):
    comments = _xml(annotated, "word/comments.xml")
    by_id = {c.get(_a("id")): "".join(c.itertext()) for c in comments.findall("w:comment", NS)}
    assert sorted(by_id.values()) == sorted(
        ["来源：conscription.recruits = 215人（输送合格青年）", "来源：militia.primary = 1800人（基干民兵）"]
    )
    assert {c.get(_a("author")) for c in comments.findall("w:comment", NS)} == {"核稿"}
    body = _xml(annotated, "word/document.xml").findall(".//w:body/w:p", NS)[2]
    anchored: dict[str, str] = {}
    open_ids: list[str] = []
    for child in body:
        if child.tag == _a("commentRangeStart"):
            open_ids.append(child.get(_a("id")))
        elif child.tag == _a("commentRangeEnd"):
            open_ids.remove(child.get(_a("id")))
        elif child.tag == _a("r"):
            text = "".join(t.text or "" for t in child.findall("w:t", NS))
            for cid in open_ids:
                anchored[cid] = anchored.get(cid, "") + text
    assert {by_id[cid]: text for cid, text in anchored.items()} == {
        "来源：conscription.recruits = 215人（输送合格青年）": "215人",
        "来源：militia.primary = 1800人（基干民兵）": "1800人",
    }
    # splitting into runs must not change the paragraph's text
    assert "".join(t.text for t in body.iter(_a("t"))) == BLOCKS[2].text


def test_overlapping_comment_spans(tmp_path):
    block = WordBlock("body", "输送合格青年215人。", comments=((0, 9, "整句"), (6, 10, "数字")))
    archive = _write(tmp_path, annotate=True, blocks=(block,))
    texts = ["".join(c.itertext()) for c in _xml(archive, "word/comments.xml").findall("w:comment", NS)]
    assert sorted(texts) == sorted(["整句", "数字"])


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ((WordBlock("caption", "图一"),), "unknown WordBlock style"),
        ((WordBlock("body", "输送215人", comments=((3, 40, "越界"),)),), "outside text"),
    ],
)
def test_bad_blocks_raise_and_leave_no_file(tmp_path, blocks, message):
    with pytest.raises(ValueError, match=message):
        write_docx(blocks, tmp_path / "bad.docx", annotate=True)
    assert not (tmp_path / "bad.docx").exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2025-01-10", "2025年1月10日"),
        ("2024/12/31", "2024年12月31日"),
        ("2025年1月10日", "2025年1月10日"),
        ("二〇二五年一月十日", "二〇二五年一月十日"),
    ],
)
def test_format_cn_date(given, expected):
    assert format_cn_date(given) == expected


def test_rewrite_replaces_atomically(tmp_path):
    target = tmp_path / "draft.docx"
    target.write_bytes(b"old")
    write_docx((WordBlock("body", "一年来。"),), target)
    assert zipfile.is_zipfile(target)
    assert [p.name for p in tmp_path.iterdir()] == ["draft.docx"]


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    # Comment dates are the write time; nothing else in the package may differ between writes.
    if "word/comments.xml" in parts:
        parts["word/comments.xml"] = re.sub(rb'w:date="[^"]*"', b'w:date=""', parts["word/comments.xml"])
    # So are the created/modified dates of the core properties (the draft's time).
    parts["docProps/core.xml"] = re.sub(rb"<dcterms:(created|modified)([^>]*)>[^<]*<", rb"<dcterms:\1\2><",
                                        parts["docProps/core.xml"])
    return parts


def test_writes_in_one_process_share_no_state(tmp_path):
    # The styled base document is prepared once per process; a write must not leave anything
    # (paragraphs, comments, core properties) behind in it for the next write.
    first = _parts(write_docx(BLOCKS, tmp_path / "a.docx", annotate=True, author="核稿"))
    other = (WordBlock("title", "另一份报告"), WordBlock("body", "输送合格青年9人。", comments=((6, 8, "批注"),)))
    write_docx(other, tmp_path / "b.docx", annotate=True, author="另一人")
    plain = _parts(write_docx(BLOCKS, tmp_path / "c.docx"))
    second = _parts(write_docx(BLOCKS, tmp_path / "d.docx", annotate=True, author="核稿"))
    assert list(second) == list(first)
    for name in ("word/document.xml", "word/styles.xml", "word/comments.xml", "docProps/core.xml",
                 "word/footer1.xml", "word/footer2.xml", "word/settings.xml"):
        assert second[name] == first[name], name
    assert second == first
    assert "word/comments.xml" not in plain
    assert b"\xe5\x8f\xa6\xe4\xb8\x80" not in plain["word/document.xml"]    # 「另一」 from the other write
    assert plain["word/styles.xml"] == first["word/styles.xml"]


def test_paragraph_styles_are_written_as_ids(plain):
    # pStyle carries the style id directly; Normal paragraphs carry none (Word's default style)
    paragraphs = _xml(plain, "word/document.xml").findall(".//w:body/w:p", NS)
    ids = [p.find("w:pPr/w:pStyle", NS) for p in paragraphs]
    got = [i.get(_a("val")) if i is not None else None for i in ids]
    assert got == ["ShuzhiTitle", "ShuzhiSubtitle", None, "ShuzhiHeading1", "ShuzhiHeading2", "ShuzhiHeading3",
                   None, "ShuzhiSignature", "ShuzhiSignature", "ShuzhiDate"]
    styles = _xml(plain, "word/styles.xml")
    for style_id in filter(None, got):
        _style(styles, style_id)


def test_core_properties_name_the_reporter_and_the_draft_time(tmp_path):
    from datetime import datetime

    when = datetime(2025, 1, 13, 9, 30)
    path = write_docx(BLOCKS, tmp_path / "a.docx", author="林某某", created=when)
    core = _xml(zipfile.ZipFile(path), "docProps/core.xml")
    ns = {"dc": "http://purl.org/dc/elements/1.1/", "dcterms": "http://purl.org/dc/terms/",
          "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"}
    assert core.find("dc:creator", ns).text == "林某某"
    assert core.find("cp:lastModifiedBy", ns).text == "林某某"
    assert core.find("dcterms:created", ns).text.startswith("2025-01-13T09:30")
    assert core.find("dcterms:modified", ns).text.startswith("2025-01-13T09:30")
    assert core.find("cp:lastPrinted", ns) is None
    assert b"shuzhi" not in zipfile.ZipFile(path).read("docProps/core.xml")


def test_font_table_names_fallbacks_for_the_official_fonts(plain):
    fonts = {f.get(_a("name")): f for f in _xml(plain, "word/fontTable.xml").findall("w:font", NS)}
    for name, alt in (("方正小标宋简体", "宋体"), ("仿宋_GB2312", "仿宋"), ("楷体_GB2312", "楷体"), ("黑体", "SimHei")):
        assert fonts[name].find("w:altName", NS).get(_a("val")) == alt, name


@pytest.mark.parametrize("signature, sig_chars, date_chars", [
    # a signature longer than the date keeps 右空二字 and the date is centred under it
    ("县委书记、县人武部党委第一书记", "200", str(round((2 + (15 - 6.5) / 2) * 100))),
    # a shorter one is centred over the date, which keeps 右空二字
    ("林某某", str(round((2 + (6.5 - 3) / 2) * 100)), "200"),
])
def test_signature_and_date_placed_per_gbt9704(tmp_path, signature, sig_chars, date_chars):
    blocks = (WordBlock("title", "报告"), WordBlock("body", "一年来。"), WordBlock("signature", signature),
              WordBlock("date", "2025-01-10"))
    paragraphs = _xml(_write(tmp_path, annotate=False, blocks=blocks), "word/document.xml").findall(".//w:body/w:p", NS)
    assert paragraphs[2].find("w:pPr/w:ind", NS).get(_a("rightChars")) == sig_chars
    assert paragraphs[3].find("w:pPr/w:ind", NS).get(_a("rightChars")) == date_chars


def test_line_grid_only_when_asked(tmp_path, monkeypatch):
    from pipeline.output import docx_writer

    monkeypatch.setenv("SHUZHI_DOCX_CHAR_GRID", "0")
    docx_writer._prepared_template.cache_clear()
    try:
        archive = _write(tmp_path, annotate=False)
        grid = _xml(archive, "word/document.xml").find(".//w:body/w:sectPr/w:docGrid", NS)
        assert grid.get(_a("type")) == "lines" and grid.get(_a("charSpace")) is None
    finally:
        monkeypatch.delenv("SHUZHI_DOCX_CHAR_GRID")
        docx_writer._prepared_template.cache_clear()
