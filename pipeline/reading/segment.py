"""Word segmentation: jieba with the domain user dictionary, and a spaCy `zh` pipeline on top.

Pure jieba is the reference segmenter. rjieba (the binding of jieba-rs: same dictionary, same
algorithm) is used as a fast path because segmentation bounds ingest speed; `tests/test_segment.py`
checks on the whole corpus that both give the same tokens. `SHUZHI_SEGMENTER=jieba` forces the
reference, `SHUZHI_SEGMENTER=rjieba` insists on the fast path.

The user dictionary is `corpus/userdict.txt` (jieba format: `word [freq] [tag]` per line), found
relative to this package (the project is installed editable); `SHUZHI_USERDICT` names another file.
Both segmenters and the dictionary are loaded once per process.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import InputError, UsageError

if TYPE_CHECKING:
    from spacy.language import Language

USERDICT_PATH = Path(__file__).resolve().parents[2] / "corpus" / "userdict.txt"
SEGMENTERS = ("auto", "jieba", "rjieba")
SENTENCE_COMPONENT = "shuzhi_sentences"

# jieba's own user-dict line format: word, optional integer frequency, optional tag.
_DICT_LINE = re.compile(r"^(\S+?)(?:\s+(\d+))?(?:\s+([a-z]+))?$")

# Function words that carry no retrieval signal in this genre; kept short on purpose, since
# many "small" words (如 全、第) are part of figures and rankings that users do search for.
STOPWORDS: frozenset[str] = frozenset(
    "的 了 和 与 及 以及 并 等 在 对 把 将 为 是 中 上 下 有 也 都 而 又 其 之 于 从 向 被 让 使 "
    "我 我们 着 个 这 那 一个 进行 开展 工作".split()
)

_lock = threading.Lock()


def userdict_path() -> Path:
    """The user dictionary in use: `SHUZHI_USERDICT` if set, else `corpus/userdict.txt`."""
    override = os.environ.get("SHUZHI_USERDICT")
    path = Path(override) if override else USERDICT_PATH
    if not path.is_file():
        raise InputError(
            "找不到分词用户词典。请确认项目目录完整（corpus/userdict.txt），"
            "或用环境变量 SHUZHI_USERDICT 指向一个 jieba 格式的词典文件。",
            path=str(path),
        )
    return path


@lru_cache(maxsize=4)
def _read_userdict(path: Path) -> tuple[tuple[str, int | None, str | None], ...]:
    entries: list[tuple[str, int | None, str | None]] = []
    text = path.read_text(encoding="utf-8-sig")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _DICT_LINE.match(line)
        if not match:
            raise InputError(
                f"词典行格式不对：“{line}”；应为“词语 [词频] [词性]”，例如“基干民兵 nz”。",
                path=str(path),
                location=f"第 {number} 行",
            )
        word, freq, tag = match.groups()
        entries.append((word, int(freq) if freq else None, tag))
    return tuple(entries)


def userdict_words() -> tuple[str, ...]:
    """The words of the user dictionary, in file order."""
    return tuple(word for word, _, _ in _read_userdict(userdict_path()))


# --------------------------------------------------------------------------- segmenters

@lru_cache(maxsize=1)
def _jieba() -> Any:
    """The global jieba tokenizer with the user dictionary loaded (spaCy's zh uses the same one)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _lock:
        jieba.initialize()
        for word, freq, tag in _read_userdict(userdict_path()):
            jieba.add_word(word, freq, tag)
    return jieba


@lru_cache(maxsize=1)
def _rjieba() -> Any:
    """rjieba's default segmenter (its module-level `cut`, `cut_for_search`, `add_word`) with the user
    dictionary added. Importing rjieba already builds that segmenter; a second `rjieba.Jieba()`
    cost as much again (0.1–0.2 s of every command's start)."""
    import rjieba

    with _lock:
        for word, freq, tag in _read_userdict(userdict_path()):
            rjieba.add_word(word, freq, tag)
    return rjieba


def segmenter_name() -> str:
    """The segmenter `tokenize` uses in this process: "rjieba" or "jieba"."""
    choice = os.environ.get("SHUZHI_SEGMENTER", "auto").strip().lower() or "auto"
    if choice not in SEGMENTERS:
        raise UsageError(f"环境变量 SHUZHI_SEGMENTER 的值“{choice}”无效；可选：{'、'.join(SEGMENTERS)}。")
    if choice == "jieba":
        return "jieba"
    try:
        import rjieba  # noqa: F401
    except ImportError as exc:
        if choice == "rjieba":
            raise UsageError("SHUZHI_SEGMENTER=rjieba 但未安装 rjieba；请运行 pip install rjieba。") from exc
        return "jieba"
    return "rjieba"


def _cutter(name: str, *, search: bool = False) -> Callable[[str], list[str]]:
    if name == "rjieba":
        return _rjieba().cut_for_search if search else _rjieba().cut
    return _jieba().lcut_for_search if search else _jieba().lcut


def tokenize(text: str) -> list[str]:
    """Segment `text` into words exactly as `jieba.lcut(text)` does with the user dictionary."""
    return _cutter(segmenter_name())(text)


def tokenize_for_search(text: str) -> list[str]:
    """Search-mode segmentation (`jieba.lcut_for_search`): long words plus their dictionary
    sub-words, so a query for 民兵训练 still meets a passage that wrote 基干民兵训练."""
    return _cutter(segmenter_name(), search=True)(text)


def tokenize_with(text: str, segmenter: str, *, search: bool = False) -> list[str]:
    """Segment with a named segmenter ("jieba" or "rjieba"), for comparisons and benchmarks."""
    if segmenter not in ("jieba", "rjieba"):
        raise UsageError(f"未知的分词器“{segmenter}”；可选：jieba、rjieba。")
    return _cutter(segmenter, search=search)(text)


# token → its retrieval term, or "" to drop it. Tokens repeat heavily across a corpus, so each is
# classified once; the cap only guards against unbounded growth on adversarial input.
_TERM_CACHE: dict[str, str] = {}
_TERM_CACHE_MAX = 1_000_000


def _term_of(token: str) -> str:
    if token in STOPWORDS:
        return ""
    for ch in token:
        if unicodedata.category(ch)[0] in "LN":
            return token.lower()
    return ""


def terms(tokens: Iterable[str]) -> list[str]:
    """Retrieval terms from tokens: no whitespace, punctuation or stopwords; Latin lower-cased."""
    cache = _TERM_CACHE
    tokens = tokens if isinstance(tokens, list) else list(tokens)
    try:
        # Every token seen before (the usual case after a few files): a C-level map and filter, no
        # Python loop ("" is a dropped token).
        return list(filter(None, map(cache.__getitem__, tokens)))
    except KeyError:
        pass
    out: list[str] = []
    for token in tokens:
        term = cache.get(token)
        if term is None:
            term = _term_of(token)
            if len(cache) < _TERM_CACHE_MAX:
                cache[token] = term
        if term:
            out.append(term)
    return out


def index_terms(text: str) -> list[str]:
    """`terms(tokenize_for_search(text))`: what BM25 and the hashed embedding see."""
    return terms(tokenize_for_search(text))


def index_terms_many(texts: Iterable[str]) -> list[list[str]]:
    """`index_terms` of each text, with the segmenter chosen once (an ingest segments ~60k chunks:
    choosing it per chunk reads the environment and the import system every time)."""
    cut = _cutter(segmenter_name(), search=True)
    return [terms(cut(text)) for text in texts]


# --------------------------------------------------------------------------- spaCy

def _register_sentence_component() -> None:
    from spacy.language import Language

    if Language.has_factory(SENTENCE_COMPONENT):
        return

    @Language.component(SENTENCE_COMPONENT)
    def shuzhi_sentences(doc):  # type: ignore[no-untyped-def]
        """Mark sentence starts from the rule-based splitter (quotes and 《》 stay whole)."""
        from pipeline.reading.sentences import split_sentences

        starts = {start for start, _ in split_sentences(doc.text)}
        for i, token in enumerate(doc):
            if i == 0:
                token.is_sent_start = True
                continue
            # A sentence may start inside a token only if jieba glued punctuation to a word,
            # which it does not; a token starting at a span start opens a sentence.
            token.is_sent_start = token.idx in starts
        return doc


@lru_cache(maxsize=1)
def get_nlp() -> Language:
    """A cached spaCy `zh` pipeline: jieba segmenter with the user dictionary, then sentences."""
    import spacy

    _jieba()          # spaCy's zh tokenizer calls the global jieba: load the user dict into it first
    _register_sentence_component()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.add_pipe(SENTENCE_COMPONENT)
    return nlp
