"""Re-binding a sentence's figures to this year's metrics, clause by clause, through the checker's aligner.

Used by update mode (last year's report of the same unit) and by the template engine (sub-points
other units wrote on the same facet). A figure becomes a `{metric.key}` placeholder when the aligner
ties it, by the words around it, to a metric with a value this year; a clause is marked bad — and
dropped by the caller — when a figure in it binds to nothing, when it compares with an earlier year
or tells a one-off event of its year (`style.yaml`), or when it names a document or honour this year's
data does not carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pipeline.drafting.style import StyleRules
from pipeline.models import Metrics

CLAIM_KINDS = frozenset({"count", "money", "percent", "rank"})
_CLAUSE_RE = re.compile(r"[^，；：]+[，；：]?")
_DOC_RE = re.compile(r"《([^》]+)》")
_QUOTE_RE = re.compile(r"“([^”]+)”")
_HONOUR_HINTS = ("先进", "模范", "示范", "标兵", "优秀", "红旗", "十佳", "荣誉", "称号", "单位", "集体", "基地")


@dataclass(frozen=True)
class _Clause:
    template: str
    keys: tuple[str, ...]
    bad: bool


def claims(text: str) -> list[Any]:
    return list(_claims(text))


# The template engine asks for the same corpus sentences in every unit of a batch: the extractor
# runs once per sentence and process (quantities are frozen, so sharing them is safe).
@lru_cache(maxsize=20_000)
def _claims(text: str) -> tuple[Any, ...]:
    from pipeline.facts.quantities import extract_quantities

    return tuple(q for q in extract_quantities(text) if q.kind in CLAIM_KINDS or q.kind == "date")


class Rebinder:
    """Re-binds the figures of a sentence written for another year (or another unit) to this year's
    metrics, clause by clause, with the checker's aligner."""

    def __init__(self, metrics: Metrics, prior: Metrics | None, catalog, style: StyleRules):  # noqa: ANN001
        from pipeline.facts.align import MetricAligner

        self.metrics = metrics
        self.aligner = MetricAligner(metrics, prior, catalog=catalog)
        self.style = style
        self.documents = tuple(metrics.documents)
        self.honours = tuple(metrics.honours)
        # One regex search per clause instead of a substring test per word (clauses run in thousands).
        self._events = _any_word_re(style.event_words)
        self._events_with_figure = _any_word_re(tuple(w for w in style.event_words if w != "新增"))
        self._changes = _any_word_re(style.change_words)
        self._memo: dict[tuple[str, str], tuple[_Clause, ...]] = {}

    def clauses(self, sentence: str, section: str) -> list[_Clause]:
        """The sentence's clauses with their figures as placeholders; `bad` marks a clause to drop.
        Memoised for this Rebinder (one draft's metrics): the template engine offers a corpus sentence
        to each facet that retrieved it, and twice to a facet with figures left to state."""
        found = self._memo.get((sentence, section))
        if found is None:
            found = self._memo[(sentence, section)] = tuple(self._clauses(sentence, section))
        return list(found)

    def _clauses(self, sentence: str, section: str) -> list[_Clause]:
        from pipeline.facts.align import clause_bounds

        qs = _claims(sentence)
        bound: dict[int, tuple[int, str, str]] = {}      # q.start -> (end, key, fmt)
        unbound: list[int] = []
        for i, q in enumerate(qs):
            if q.kind == "date" or q.value is None:
                unbound.append(q.start)
                continue
            neighbours = (qs[i - 1].end if i else 0, qs[i + 1].start if i + 1 < len(qs) else 10**9)
            aligned = self.aligner.align(sentence, q, clause_bounds(sentence, q, neighbours), section)
            pick = next((a.profile.metric for a in aligned if a.profile.metric.value is not None), None)
            if pick is None:
                unbound.append(q.start)
                continue
            fmt = ":cn" if q.text[:1] in "一二两三四五六七八九十" and pick.kind != "rank" else ""
            start = q.start
            if q.kind == "rank" and q.scope and sentence.endswith(q.scope, 0, start):
                start -= len(q.scope)      # `全省第一` is re-bound whole: this year's scope comes with the place
            bound[start] = (q.end, pick.key, fmt)
        out: list[_Clause] = []
        pos = 0
        for match in _CLAUSE_RE.finditer(sentence):
            a, b = match.start(), match.end()
            piece = sentence[a:b]
            parts, keys, cursor = [], [], a
            for start in sorted(bound):
                end, key, fmt = bound[start]
                if a <= start < b:
                    parts.append(sentence[cursor:start])
                    parts.append("{" + key + fmt + "}")
                    keys.append(key)
                    cursor = end
            parts.append(sentence[cursor:b])
            template = "".join(parts)
            bad = any(a <= s < b for s in unbound) or self._stale_words(piece, bool(keys)) or self._foreign(piece)
            out.append(_Clause(template, tuple(keys), bad))
            pos = b
        if pos < len(sentence):
            out.append(_Clause(sentence[pos:], (), False))
        return out

    def _stale_words(self, clause: str, has_figure: bool) -> bool:
        """An event word (新增 is no event beside a figure: `新增民兵120人`), or beside a figure a
        comparison word: the clause tells of its own year."""
        events = self._events_with_figure if has_figure else self._events
        if events is not None and events.search(clause):
            return True
        return has_figure and self._changes is not None and self._changes.search(clause) is not None

    def _foreign(self, clause: str) -> bool:
        """A document or an honour this year's data does not name (last year's awards, old plans)."""
        for title in _DOC_RE.findall(clause):
            if not any(title in d or d in title for d in self.documents) and not title.endswith("法"):
                return True
        for quoted in _QUOTE_RE.findall(clause):
            if any(h in quoted for h in _HONOUR_HINTS) and quoted not in self.honours:
                return True
        return False


@lru_cache(maxsize=64)
def _any_word_re(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """A pattern that finds any of `words` in a text (None for no words: nothing is found)."""
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)))


def join_clauses(clauses: list[_Clause], whole: list[_Clause]) -> str:
    text = "".join(c.template for c in clauses).strip()
    if clauses and whole and clauses[-1] is whole[-1] and text.endswith("："):
        return text               # `现将履职情况报告如下：` leads into what follows
    text = text.rstrip("，；：、")
    if not text:
        return ""
    if text[-1] not in "。！？":
        text += "。"
    return text
