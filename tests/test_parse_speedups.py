"""The reading stage's shortcuts give what the plain computations they stand for give.

Each shortcut in `parse`, `report_meta`, `textview`, `limits` answers a question faster than the
straightforward way (a regex over every character, a copy per candidate, a 20 MB read buffer). Here
each is checked against that straightforward way on seeded random inputs built from the characters
the shortcut depends on, and on the corpus.
"""

from __future__ import annotations

import random
import threading
import unicodedata
from pathlib import Path

import pytest

from pipeline.reading import parse, report_meta
from pipeline.reading.limits import read_regular_bytes
from pipeline.reading.parse import _SHI_RE, _settled, _shi_markers, normalise_text, parse_text
from pipeline.reading.readers import read_text
from pipeline.reading.report_meta import TRADITIONAL_CHARS, simplified_pieces, to_simplified
from pipeline.reading.textview import _line_view, _plain_view, clean_view, has_text

REPORTS = sorted(p for p in (Path(__file__).resolve().parent.parent / "corpus" / "reports").iterdir() if p.is_file())


def _random_texts(pool: list[str], count: int, longest: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, longest))) for _ in range(count)]


def test_shi_markers_are_the_matches_of_the_pattern() -> None:
    pool = list("一二三四五六七八九十是是是，。；、：,;: \n\t\u3000\u2028年工作x")
    for text in _random_texts(pool, 20000, 14, seed=1) + ["一二三四是工作", "十二是一是", "是一是。二是 三是x"]:
        expected = [(m.start(), m.end(), m.group("num")) for m in _SHI_RE.finditer(text)]
        assert _shi_markers(text) == expected, text


def test_has_text_is_whether_the_clean_view_has_text() -> None:
    pool = ["a", "一", " ", "\t", "\u3000", "\n", "\r\n", "\u2028", "\x0c", "\u200b", "\u202e", "\u00a0", "#", "## ",
            "> ", "*", "**", "__", "_", "\\", "\x0b", "\x85"]
    for text in _random_texts(pool, 20000, 8, seed=2):
        assert has_text(text) == bool(clean_view(text).text.strip()), repr(text)


def test_plain_view_is_the_line_by_line_view() -> None:
    pool = ["党管武装", "一、", "县", " ", "  ", "\t", "\u3000", "\n", "\n", "\n\n", "。", "x y"]
    plain = 0
    for text in _random_texts(pool, 20000, 12, seed=3):
        fast = _plain_view(text)
        if fast is None:
            continue
        plain += 1
        slow = _line_view(text, special=False)
        assert (fast.text, fast.runs) == (slow.text, slow.runs), repr(text)
    assert plain > 5000          # the shortcut was exercised, not only refused


def test_plain_view_maps_every_character_back() -> None:
    for path in REPORTS:
        source = read_text(path)
        view = clean_view(source)
        for i, ch in enumerate(view.text):
            if ch != "\n":
                assert source[view.position(i)] == ch


def test_settled_copies_are_what_normalise_text_returns() -> None:
    pool = ["党", "職", "县", " ", "\t", "\u3000", "\u00a0", "\u2009", "\u200b", "\ufeff", "\n", "\r", "\x0b", "\x1c",
            "\x85", "\u1680", "\u2000", "。", "**", "**\u200b "]
    settled = 0
    # A bold line whose text starts with a zero-width mark then a space: the copy's line starts with a space.
    for text in _random_texts(pool, 20000, 8, seed=4) + ["**\u200b 党**", "党\n**\u200b 党**", "**党 \u200b**\n党", "党\n**\u200b**"]:
        copy = clean_view(text).text
        if _settled(copy):
            settled += 1
            assert normalise_text(copy) == copy, repr(copy)
            assert to_simplified(copy) == copy, repr(copy)
    assert settled > 1000


def test_other_spaces_are_all_whitespace_but_space_and_newline() -> None:
    import sys

    expected = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c not in " \n")
    assert parse._OTHER_SPACES == expected


def test_year_normalisation_is_nfkc() -> None:
    pool = list("，。：；（）！？２０２３年度以来\u3000ａＢ①⒛㋀\u0301\u0308e한\u1100\u1161ｶﾞ\uff9e\uff9fか\u3099＄ﾟ一二〇")
    for text in _random_texts(pool, 30000, 12, seed=5):
        assert report_meta._nfkc(text) == unicodedata.normalize("NFKC", text), repr(text)


def test_lead_words_are_cut_as_the_word_list_says() -> None:
    def cut_by_list(simple: str, i: int, j: int) -> int:
        changed = True
        while changed and i < j:
            changed = False
            for word in report_meta._LEAD_WORDS:
                if simple.startswith(word, i) and i + len(word) <= j:
                    i += len(word)
                    changed = True
                    break
        return i

    words = list(report_meta._LEAD_WORDS[:40]) + ["澄", "浦", "县", "委", "团结", "带"]
    rng = random.Random(6)
    for _ in range(20000):
        simple = "".join(rng.choice(words) for _ in range(rng.randint(1, 5)))
        i, j = rng.randint(0, len(simple)), rng.randint(0, len(simple))
        got = i
        while got < j and (lead := report_meta._LEAD_WORDS_RE.match(simple, got, j)):
            got = lead.end()
        assert got == cut_by_list(simple, i, j), (simple, i, j)


def test_traditional_reports_are_simplified_inside_the_parse() -> None:
    simple_to_traditional = {ord(s): t for t, s in ((c, to_simplified(c)) for c in TRADITIONAL_CHARS)}
    for path in REPORTS:
        text = read_text(path)
        traditional = text.translate(simple_to_traditional)
        if traditional == text:
            continue
        simple, trad = parse_text(text), parse_text(traditional)
        assert [s.key for s in trad.sections] == [s.key for s in simple.sections], path.name
        assert [s.heading.translate(simple_to_traditional) for s in simple.sections] == [s.heading for s in trad.sections]
        assert (trad.year, trad.region and to_simplified(trad.region)) == (simple.year, simple.region)


def test_simplified_pieces_is_per_block_and_per_thread() -> None:
    assert to_simplified("述職") == "述职"
    with simplified_pieces("述职报告"):
        assert to_simplified("述職") == "述職"          # the promise: only pieces of the text are asked
        seen: list[str] = []
        worker = threading.Thread(target=lambda: seen.append(to_simplified("述職")))
        worker.start()
        worker.join()
        assert seen == ["述职"]                          # another thread is not inside the block
    with simplified_pieces("述職报告"):
        assert to_simplified("述職") == "述职"
    assert to_simplified("述職") == "述职"


def test_read_regular_bytes_reads_to_the_limit(tmp_path: Path) -> None:
    from pipeline.errors import InputError

    path = tmp_path / "r.txt"
    path.write_bytes(b"x" * 100)
    assert read_regular_bytes(path, 100) == b"x" * 100
    assert read_regular_bytes(path, 10_000) == b"x" * 100
    with pytest.raises(InputError):
        read_regular_bytes(path, 99)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs a file whose size stat does not know")
def test_read_regular_bytes_reads_past_a_stale_size() -> None:
    # /proc files report size 0: the read must go on past the size fstat gave.
    data = read_regular_bytes("/proc/self/status", 1_000_000)
    assert len(data) > 100 and data.startswith(b"Name:")


def test_parse_of_the_corpus_is_unchanged_by_the_context() -> None:
    # The shortcuts hold per text: parsing the reports in any order gives the same reports.
    texts = [read_text(p) for p in REPORTS]
    first = [parse_text(t) for t in texts]
    again = [parse_text(t) for t in reversed(texts)][::-1]
    assert first == again
    assert not report_meta._NO_TRADITIONAL.get()     # the block is left behind each parse


def test_heading_keys_are_the_keyword_scores() -> None:
    # The plain scoring: every keyword looked up, the first clause found by splitting.
    def plain(heading: str) -> tuple[str, int]:
        text = to_simplified(parse._strip_marker(heading)).rstrip("。：:")
        if not text:
            return "other", 0
        first = parse._FIRST_CLAUSE_END_RE.split(text, maxsplit=1)[0]
        best, best_key = (0, 0), "other"
        for key, words in parse._KEYWORDS.items():
            hits = [(text.find(word), weight * (2 if word in first else 1)) for word, weight in words if word in text]
            score = sum(points for _, points in hits)
            if score > 0 and (score, -min(pos for pos, _ in hits)) > best:
                best, best_key = (score, -min(pos for pos, _ in hits)), key
        return best_key, best[0]

    words = [w for ws in parse._KEYWORDS.values() for w, _ in ws] + ["，", "、", " ", "：", "一、", "（二）", "3.", "第一章", "的"]
    rng = random.Random(7)
    for _ in range(20000):
        heading = "".join(rng.choice(words) for _ in range(rng.randint(0, 6)))
        assert parse._classify(heading) == plain(heading), heading
