"""The third pass of reading-stage speedups changes no output.

* Every report of the corpus and of the eval sets parses and chunks to what it did before the pass:
  `fixtures/parse/speed3_digests.json` holds a digest of each file's `Report` (sections with their
  offsets, title, year, region, working copy, doc id) and of its `ChunkBlock` columns, recorded with
  the code before the pass (commit 2d49aa6). A deliberate change of the parser's output changes
  digests: re-record them with `SHUZHI_UPDATE_GOLDEN=1` and say why in the commit.
* Each shortcut of the pass is checked against the straightforward computation it stands for, on
  seeded random inputs built from the characters it depends on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
import warnings
from pathlib import Path

from pipeline.errors import InputError
from pipeline.index.retrieval import chunk_block
from pipeline.reading import parse
from pipeline.reading.headings import _CN_NUM
from pipeline.reading.parse import parse_file, parse_text
from pipeline.reading.readers import read_document, read_document_plain
from pipeline.reading.report_meta import TRADITIONAL_CHARS

ROOT = Path(__file__).resolve().parent.parent
DIGESTS = Path(__file__).resolve().parent / "fixtures" / "parse" / "speed3_digests.json"
# Report-like files of the corpus and the eval sets (read only). Not the eval sets' gold files.
_SETS = ("corpus/reports", "corpus/shuangyong/reports", "corpus/township/reports", "corpus/tools/src",
         "eval/parse_set", "eval/holdout", "eval/holdout2", "eval/holdout3", "eval/holdout4", "eval/check_set",
         "eval/extract_set", "eval/reading/kit", "tests/fixtures/check", "tests/fixtures/web")
_SUFFIXES = (".txt", ".md", ".docx")


def _report_files() -> list[str]:
    found = []
    for folder in _SETS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in _SUFFIXES and path.is_file() and path.name != "README.md":
                found.append(path.relative_to(ROOT).as_posix())
    return found


def _digest(relative: str) -> str:
    """sha256 of what parsing and chunking the file gives (the refusal message for a refused file)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = parse_file(ROOT / relative)
    except Exception as exc:  # noqa: BLE001 - a refusal is an output too
        return hashlib.sha256(f"{type(exc).__name__}: {exc}".replace(str(ROOT), "<root>").encode()).hexdigest()
    fields = dataclasses.asdict(report)
    fields.pop("source")                  # the absolute path differs between checkouts
    block = chunk_block(report, path=relative)
    columns = (block.doc_id, block.path, block.region, block.year, block.texts, block.section_of, block.keys,
               block.headings)
    return hashlib.sha256(f"{fields!r}\x00{columns!r}".encode()).hexdigest()


def test_corpus_and_eval_reports_parse_and_chunk_as_before() -> None:
    files = _report_files()
    assert len(files) > 150
    got = {relative: _digest(relative) for relative in files}
    if os.environ.get("SHUZHI_UPDATE_GOLDEN"):
        DIGESTS.write_text(json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(DIGESTS.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(expected)
    changed = [name for name in got if got[name] != expected[name]]
    assert not changed, changed



# --------------------------------------------------------------------------- the shortcuts

def _random_texts(pool: list[str], count: int, longest: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, longest))) for _ in range(count)]


def test_one_scan_finds_every_character_a_later_step_scans_for() -> None:
    # `_decode` says "plain" only for a text none of the later scans would stop in.
    from pipeline.reading.limits import INVISIBLE
    from pipeline.reading.parse import _UNSETTLED_RE
    from pipeline.reading.readers import _CONTROL_RE, UNUSUAL_CHARS, _decode
    from pipeline.reading.textview import _SPECIAL_RE

    for c in map(chr, range(0x3100)):
        if _CONTROL_RE.match(c) or _SPECIAL_RE.match(c) or _UNSETTLED_RE.match(c) or c in INVISIBLE:
            assert c in UNUSUAL_CHARS, hex(ord(c))
    assert all(_UNSETTLED_RE.match(c) for c in TRADITIONAL_CHARS)
    pool = ["党管武装", "一、", "（二）", "2023年", "職", "。", " ", "\t", "\u3000", "\r", "\n", "\x0b", "#", "*", "\u200b",
            "\u202e", "\xa0", "\x01"]
    for text in _random_texts(pool, 20000, 8, seed=11):
        try:
            got, plain = _decode(text.encode("utf-8"), "t")
        except InputError:          # control characters: no text
            assert _CONTROL_RE.search(text)
            continue
        assert got == text
        assert plain == (not any(c in UNUSUAL_CHARS for c in text)), repr(text)


def test_a_plain_report_parses_as_parse_text_parses_it(tmp_path: Path) -> None:
    # parse_file takes the plain path (no scan of its own); parse_text scans: the same report.
    lines = [line for path in sorted((ROOT / "corpus" / "reports").glob("*.txt"))
             for line in read_document(path)[0].split("\n")]
    rng = random.Random(12)
    plain = 0
    for i in range(300):
        picked = rng.sample(lines, rng.randint(1, 12))
        text = rng.choice(["\n", "\n\n", " \n"]).join(picked) + rng.choice(["", "\n", "\n\n"])
        path = tmp_path / f"r{i}.txt"
        path.write_bytes(text.encode("utf-8"))
        try:
            report = parse_file(path)
        except InputError:
            continue
        plain += read_document_plain(path)[2]
        expected = parse_text(read_document(path)[0], source=str(path))
        assert dataclasses.replace(report, doc_id="") == expected, text
    assert plain > 100


def test_s_spelled_out_is_the_regex_s() -> None:
    from pipeline.reading.textview import OTHER_SPACES

    every = "".join(map(chr, range(0x110000)))
    assert "".join(re.findall(r"\s", every)) == "".join(sorted(" \n" + OTHER_SPACES))


_LOOKBEHIND_INLINE = {
    "l1": re.compile(rf"(?<=[。！？；：:”\s])\s*(?P<num>[{_CN_NUM}]{{1,3}})\s*、"),
    "chapter": re.compile(rf"(?<=[。！？；：:”\s])\s*第(?P<num>[{_CN_NUM}]{{1,3}})(?:章|部分)"),
}


def test_inline_heading_patterns_find_what_the_lookbehind_forms_find() -> None:
    # Searched from one position earlier, the patterns that match the character before a heading
    # find the lookbehind forms' matches, start() one less; the chapter hint misses none.
    pool = list("一二三十是第章部分、。！？；：:” \u3000\t\nx（）(2") + ["部分", "一、", "第二章", "。三、"]
    rng = random.Random(13)
    for text in _random_texts(pool, 20000, 12, seed=13):
        pos = rng.randint(1, max(1, len(text)))
        for name, new in (("l1", parse._INLINE_L1_RE), ("chapter", parse._INLINE_CHAPTER_RE)):
            old = _LOOKBEHIND_INLINE[name].search(text, pos)
            got = new.search(text, pos - 1)
            assert (got and (got.start() + 1, got.end(), got.group("num"))) == (
                old and (old.start(), old.end(), old.group("num"))), (name, text, pos)
        if parse._CHAPTER_HINT_RE.search(text, pos) is None:
            assert _LOOKBEHIND_INLINE["chapter"].search(text, pos) is None


def test_paren_and_plans_patterns_find_what_the_lookbehind_forms_find() -> None:
    old_paren = re.compile(rf"(?<=[。！？；])\s*[（(](?P<num>[{_CN_NUM}]{{1,3}})[）)]")
    old_plans = re.compile("(?<=[。！；])" + parse._GLUED_PLANS_RE.pattern[len("[。！；]"):])
    pool = list("（）()一二三。！？；，x \n") + ["一年来", "下步", "回顾全年一年", "虽然", "今后"]
    for text in _random_texts(pool, 20000, 10, seed=14):
        assert [(m.start("num"), m.group("num")) for m in parse._INLINE_PAREN_RE.finditer(text)] == [
            (m.start("num"), m.group("num")) for m in old_paren.finditer(text)], text
        assert [m.start() + 1 for m in parse._GLUED_PLANS_RE.finditer(text)] == [
            m.start() for m in old_plans.finditer(text)], text


def test_glued_page_entries_need_a_numeral_before_a_dun() -> None:
    pool = list("一二三四、，。2 3x立足岗位）") + ["12", "一、", "二、"]
    for text in _random_texts(pool, 20000, 12, seed=15):
        marker = parse._L1_RE.match(text)
        if marker and not parse._numeral_before_dun(text, marker.end()):
            assert not list(parse._GLUED_PAGE_RE.finditer(text)), text


def test_marker_prechecks_refuse_only_lines_no_pattern_matches() -> None:
    from pipeline.reading.headings import _CHAPTER_RE, _is_closing, _is_marker_line

    def marker_line(line: str) -> bool:
        return bool(parse._L1_RE.match(line) or _CHAPTER_RE.match(line) or parse._PAREN_RE.match(line)
                    or parse._ARABIC_RE.match(line) or parse._SHI_RE.match(line) or _is_closing(line))

    pool = list("一二三十是第章（）()12３、.．，x 以上述职完毕请批评指正") + ["三是", "（二）", "2、", "第一章"]
    for line in _random_texts(pool, 20000, 8, seed=16):
        assert _is_marker_line(line) == marker_line(line), line
        if not parse._could_mark(line):
            assert not any(p.match(line) for p in (parse._PAREN_RE, parse._ARABIC_RE, parse._SHI_RE)), line


def test_line_start_points_try_only_the_patterns_a_line_can_open() -> None:
    from pipeline.reading.subpoints import _line_start_points

    def plain(lines: list[str], allow_mid_start: bool) -> list[tuple[int, int, int]]:
        for pattern in (parse._PAREN_RE, parse._ARABIC_RE, parse._L1_RE):
            found, expect, offset = [], None, 0
            for line in lines:
                m = pattern.match(line)
                if m:
                    num = m.group("num")
                    number = int(num) if num.isdigit() else parse.cn_numeral(num)
                    if number is not None and (expect is None and (number == 1 or allow_mid_start) or number == expect):
                        found.append((offset, offset + m.end(), number))
                        expect = number + 1
                offset += len(line) + 1
            if found:
                return found
        return []

    pool = ["（一）", "（二）", "(三)", "1、", "2.", "３、", "一、", "二、", "工作", "x", ""]
    rng = random.Random(17)
    for _ in range(20000):
        lines = _random_texts(pool, rng.randint(0, 5), 3, seed=rng.random())
        mid = rng.random() < 0.3
        assert _line_start_points(lines, mid) == plain(lines, mid), lines


def test_body_openers_are_looked_up_by_first_character() -> None:
    from pipeline.reading.headings import _BODY_OPENERS, _WORD_GLUE, _find_opener

    def plain(rest: str, start: int, stop: int) -> int | None:
        for pos in range(start, stop):
            if rest[pos].isdigit():
                return pos
            for word in _BODY_OPENERS:
                if rest.startswith(word, pos) and not (len(word) == 1 and rest[pos - 1] in _WORD_GLUE):
                    return pos
        return None

    pool = list(_BODY_OPENERS) + list("存所在我为把将1，。工作")
    rng = random.Random(18)
    for rest in _random_texts(pool, 20000, 10, seed=18):
        start = rng.randint(1, max(1, len(rest)))
        stop = rng.randint(start, max(start, len(rest)))
        assert _find_opener(rest, start, stop) == plain(rest, start, stop), rest


def test_non_region_words_are_looked_up_by_their_last_two_characters() -> None:
    from pipeline.reading import report_meta

    pool = list(report_meta._NOT_REGION) + ["澄浦", "县", "区", "市", "全", "**", "委"]
    for text in _random_texts(pool, 20000, 5, seed=19):
        for j in range(1, len(text)):
            grouped = report_meta._NOT_REGION_BY_END.get(text[j - 1: j + 1], ())
            assert text.endswith(grouped, 0, j + 1) == text.endswith(report_meta._NOT_REGION, 0, j + 1), (text, j)


def test_one_run_spans_are_the_position_spans() -> None:
    from pipeline.reading.textview import TextView

    rng = random.Random(20)
    for _ in range(5000):
        source = "x" * rng.randint(0, 30)
        shift = rng.randint(0, len(source))
        view = TextView(source=source, text=source[shift:], runs=((0, shift),))
        start = rng.randint(0, len(view.text) + 2)
        end = rng.randint(0, len(view.text) + 2)
        expected = ((view.position(start),) * 2 if end <= start
                    else (view.position(start), view.position(end - 1) + 1))
        assert view.span(start, end) == expected, (source, shift, start, end)


def test_paragraph_passages_and_table_rows_are_the_plain_loops() -> None:
    from pipeline.index.retrieval import (
        _is_table_row,
        _merge_table_rows,
        _paragraph_passages,
        _strip_enum_tail,
    )

    def passages(paragraph: str, subpoints: list[str]) -> list[str]:
        found = sorted((paragraph.find(point[:40]), point) for point in subpoints
                       if point and paragraph.find(point[:40]) >= 0)
        if not found:
            return [paragraph.strip()]
        out = [lead] if len(lead := _strip_enum_tail(paragraph[: found[0][0]])) >= 8 else []
        for i, (at, point) in enumerate(found):
            end = found[i + 1][0] if i + 1 < len(found) else len(paragraph)
            piece = point if point in paragraph[at:end] or at + len(point) <= end else paragraph[at:end]
            out.append(_strip_enum_tail(piece) if i + 1 < len(found) else piece.strip())
        return [p for p in out if p]

    def merged(paragraphs: list[str]) -> list[str]:
        out, run = [], []
        for paragraph in [*paragraphs, ""]:
            if _is_table_row(paragraph):
                run.append(paragraph.strip())
                continue
            if run:
                out.append("\n".join(run))
                run = []
            if paragraph:
                out.append(paragraph)
        return out

    pool = ["一是", "二是", "抓好", "民兵", "训练", "。", "（三）", " ", "\t", "|", "1176人", "全年专题学习4次"]
    rng = random.Random(21)
    for paragraph in _random_texts(pool, 20000, 10, seed=21):
        points = [paragraph[a:a + rng.randint(0, 8)] for a in (rng.randint(0, len(paragraph)) for _ in range(3))]
        points.append(rng.choice(["", "抓好民兵", "x"]))
        assert _paragraph_passages(paragraph, points) == passages(paragraph, points), (paragraph, points)
        rows = paragraph.split("。")
        assert _merge_table_rows(rows) == merged(rows), rows
