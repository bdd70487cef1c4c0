"""Tests for pipeline/segment.py: the user dictionary, the rjieba fast path, the spaCy pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import InputError, UsageError
from pipeline.reading import segment

ROOT = Path(__file__).resolve().parent.parent
REPORTS = sorted((ROOT / "corpus" / "reports").glob("*.*"))


def _corpus_texts() -> list[tuple[str, str]]:
    from pipeline.reading.readers import read_text

    return [(p.name, read_text(p)) for p in REPORTS]


def test_userdict_has_at_least_150_distinct_domain_terms() -> None:
    words = segment.userdict_words()
    assert len(words) >= 150
    assert len(set(words)) == len(words)
    for term in ("党管武装", "基干民兵", "议军会", "五率", "专武干部", "双拥"):
        assert term in words


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("全县基干民兵分三批参加集中轮训", "基干民兵"),
        ("年初召开议军会研究武装工作", "议军会"),
        ("配齐配强专武干部队伍", "专武干部"),
        ("征兵五率考评排名全市第一", "征兵五率"),
        ("深入开展双拥共建活动", "双拥共建"),
        ("认真落实军地领导双向兼职制度", "军地领导双向兼职"),
    ],
)
@pytest.mark.parametrize("segmenter", ["jieba", "rjieba"])
def test_domain_terms_stay_whole(text: str, kept: str, segmenter: str) -> None:
    assert kept in segment.tokenize_with(text, segmenter)


def test_every_userdict_word_survives_in_context() -> None:
    broken = [w for w in segment.userdict_words() if w not in segment.tokenize_with(f"今年{w}有新进展", "jieba")]
    # A few short words may legitimately merge with a neighbour (党管武装 + 工作); none may be cut.
    for word in broken:
        tokens = segment.tokenize_with(f"今年{word}有新进展", "jieba")
        assert any(word in t for t in tokens), (word, tokens)


@pytest.mark.parametrize("search", [False, True])
def test_rjieba_matches_pure_jieba_on_the_corpus(search: bool) -> None:
    texts = _corpus_texts()
    assert len(texts) >= 1
    for name, text in texts:
        assert segment.tokenize_with(text, "rjieba", search=search) == segment.tokenize_with(
            text, "jieba", search=search
        ), name


def test_tokenize_is_the_reference_segmentation(monkeypatch) -> None:
    text = _corpus_texts()[0][1]
    monkeypatch.setenv("SHUZHI_SEGMENTER", "jieba")
    assert segment.segmenter_name() == "jieba"
    reference = segment.tokenize(text)
    assert reference == segment._jieba().lcut(text)
    monkeypatch.setenv("SHUZHI_SEGMENTER", "auto")
    assert segment.segmenter_name() == "rjieba"
    assert segment.tokenize(text) == reference


def test_bad_segmenter_name_is_a_usage_error(monkeypatch) -> None:
    monkeypatch.setenv("SHUZHI_SEGMENTER", "thulac")
    with pytest.raises(UsageError, match="SHUZHI_SEGMENTER"):
        segment.tokenize("民兵")


def test_missing_userdict_names_the_file(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHUZHI_USERDICT", str(tmp_path / "gone.txt"))
    with pytest.raises(InputError, match="用户词典") as info:
        segment.userdict_path()
    assert "gone.txt" in str(info.value)


def test_malformed_userdict_line_names_the_line(monkeypatch, tmp_path: Path) -> None:
    bad = tmp_path / "dict.txt"
    bad.write_text("# 注释\n基干民兵 nz\n民兵 很多 NZ\n", encoding="utf-8")
    monkeypatch.setenv("SHUZHI_USERDICT", str(bad))
    with pytest.raises(InputError, match="第 3 行"):
        segment.userdict_words()


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["民兵", "，", "训练", "。"], ["民兵", "训练"]),
        (["的", "征兵", " ", "\n", "和", "双拥"], ["征兵", "双拥"]),
        (["GDP", "100", "％"], ["gdp", "100"]),
        (["“", "五率", "”"], ["五率"]),
    ],
)
def test_terms_drop_punctuation_space_and_stopwords(tokens: list[str], expected: list[str]) -> None:
    assert segment.terms(tokens) == expected


def test_index_terms_include_subwords_of_long_words() -> None:
    terms = segment.index_terms("全县基干民兵集中轮训")
    assert "基干民兵" in terms and "民兵" in terms


def test_spacy_pipeline_uses_jieba_userdict_and_rule_sentences() -> None:
    from pipeline.reading.sentences import split_sentences

    nlp = segment.get_nlp()
    assert nlp is segment.get_nlp()                 # cached
    assert segment.SENTENCE_COMPONENT in nlp.pipe_names
    text = "我们出台了《征兵工作“十条”。细则》。二是推进民兵改革！基干民兵分三批轮训"
    doc = nlp(text)
    assert "基干民兵" in [t.text for t in doc]
    got = [(s.start_char, s.end_char) for s in doc.sents]
    assert got == split_sentences(text)
    assert len(got) == 3
