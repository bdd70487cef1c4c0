"""Compare two reports: last year's against this year's draft, or draft v1 against v2.

Sections are paired by key (duty with duty, whatever the headings say this year); inside a
section, sentences are aligned with difflib on the sentence lists. A sentence that disappeared
and one that appeared in the same place are called "changed" when they are similar enough
(character ratio ≥ 0.6), and the figures that differ between the two are listed old → new. A
reworded sentence (`理论学习四次` → `全年理论学习五次`) can land anywhere in the section: what is left
unpaired after that pass is paired once more, best first, when the two sentences with their figures
masked are alike enough (`REWORDED_RATIO`, the better of the ordered character ratio and the overlap
of character pairs, which survives reordering), so its figure changes are counted too. A figure's
label is whole words (jieba) from its own clause, never another figure. The
copied share — B's sentences found verbatim anywhere in A — is what a reviewer looks at first:
a high share means last year's text (and perhaps last year's figures) was carried over.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from typing import Any

from pipeline.models import Report, Section

CHANGED_RATIO = 0.6
REWORDED_RATIO = 0.5       # figures masked; below this two sentences are a deletion and an addition
LABEL_CHARS = 12

SECTION_NAMES = {
    "opening": "开头", "duty": "履职", "systems": "制度落实", "foundation": "基础建设",
    "plans": "下步打算", "closing": "结尾", "other": "其他",
}


@dataclass(frozen=True)
class FigureChange:
    old: str           # the figure as written in A ("" when B added one)
    new: str           # the figure as written in B ("" when B dropped one)
    label: str = ""    # what the figure counts, from the words around it, e.g. "基干民兵"


@dataclass(frozen=True)
class ChangedSentence:
    a: str
    b: str
    ratio: float
    figures: tuple[FigureChange, ...] = ()


@dataclass(frozen=True)
class SectionDiff:
    key: str
    heading_a: str | None          # None: the section exists only in B
    heading_b: str | None          # None: the section exists only in A
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[ChangedSentence, ...]
    unchanged: int


@dataclass(frozen=True)
class ReportDiff:
    source_a: str
    source_b: str
    sections: tuple[SectionDiff, ...]
    copied: int                    # B sentences identical to some A sentence
    b_sentences: int

    @property
    def copied_share(self) -> float:
        return self.copied / self.b_sentences if self.b_sentences else 0.0

    @property
    def figure_changes(self) -> int:
        return sum(len(c.figures) for s in self.sections for c in s.changed)


# --------------------------------------------------------------------------- sentences and figures


def _normal(sentence: str) -> str:
    # Whitespace inside a Chinese sentence is layout, not content.
    return re.sub(r"\s+", "", sentence)


def section_sentences(section: Section) -> list[str]:
    from pipeline.reading.sentences import split_sentences

    sentences: list[str] = []
    for paragraph in section.paragraphs:
        for start, end in split_sentences(paragraph):
            text = paragraph[start:end].strip()
            if text:
                sentences.append(text)
    return sentences


def _figures(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each figure in a sentence. Years, dates and ordinals are left out: they
    change every year without saying anything about the figures."""
    from pipeline.facts.quantities import extract_quantities

    return [(q.start, q.end, q.text) for q in extract_quantities(sentence)
            if q.kind not in ("year", "date", "ordinal")]


def _label_of(sentence: str, start: int, end: int, figures: list[tuple[int, int, str]] | None = None) -> str:
    """What a figure counts, in whole words: the clause words right before it (after any earlier
    figure in that clause), or, when nothing stands there (`11个乡镇（街道）和33个机关`), the words
    right after it (up to the next figure)."""
    from pipeline.reading.segment import tokenize

    spans = figures if figures is not None else _figures(sentence)
    head = sentence[:start]
    cut = max(head.rfind(p) for p in "，。；：、,;:（）()“”")
    for _f_start, f_end, _text in spans:
        if cut + 1 < f_end <= start:
            cut = f_end - 1
    label = head[cut + 1:].strip().lstrip("和及与并共")
    if len(label) >= 2:
        return _whole_words(tokenize(label), from_end=True)
    stop = min([f_start for f_start, _e, _t in spans if f_start >= end] + [len(sentence)])
    tail = re.split(r"[，。；：、,;:（）()“”]", sentence[end:stop], maxsplit=1)[0].strip()
    return _whole_words(tokenize(tail), from_end=False) if tail else ""


def _whole_words(words: list[str], *, from_end: bool) -> str:
    """At most LABEL_CHARS characters of whole words, from the end (the words nearest the figure) or the start."""
    chosen: list[str] = []
    total = 0
    for word in (reversed(words) if from_end else words):
        if chosen and total + len(word) > LABEL_CHARS:
            break
        chosen.append(word)
        total += len(word)
    return "".join(reversed(chosen) if from_end else chosen).strip()


def figure_changes(a: str, b: str) -> tuple[FigureChange, ...]:
    """Figures that differ between two versions of one sentence, aligned in order of appearance."""
    fa, fb = _figures(a), _figures(b)
    ta, tb = [f[2] for f in fa], [f[2] for f in fb]
    changes: list[FigureChange] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        olds, news = fa[i1:i2], fb[j1:j2]
        for k in range(max(len(olds), len(news))):
            old = olds[k] if k < len(olds) else None
            new = news[k] if k < len(news) else None
            label = _label_of(b, new[0], new[1], fb) if new else _label_of(a, old[0], old[1], fa) if old else ""
            changes.append(FigureChange(old=old[2] if old else "", new=new[2] if new else "", label=label))
    return tuple(changes)


def _ratio(a: str, b: str) -> float:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < CHANGED_RATIO or matcher.quick_ratio() < CHANGED_RATIO:
        return 0.0
    return matcher.ratio()


def _masked(sentence: str) -> str:
    """The sentence without whitespace and with every figure replaced by one mark."""
    out: list[str] = []
    pos = 0
    for start, end, _text in _figures(sentence):
        out.append(sentence[pos:start])
        out.append("#")
        pos = end
    out.append(sentence[pos:])
    return _normal("".join(out))


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def reworded_ratio(a: str, b: str) -> float:
    """How alike two sentences are once their figures are masked: the better of the ordered
    character ratio and the Dice overlap of character pairs (which survives moved phrases)."""
    ma, mb = _masked(a), _masked(b)
    if not ma or not mb:
        return 0.0
    ordered = SequenceMatcher(None, ma, mb, autojunk=False).ratio()
    ga, gb = _bigrams(ma), _bigrams(mb)
    dice = 2 * len(ga & gb) / (len(ga) + len(gb)) if ga and gb else 0.0
    return max(ordered, dice)


def _pair_reworded(removed: list[str], added: list[str]) -> tuple[list[tuple[str, str, float]], list[str], list[str]]:
    """Pair what is left of a section, best pairs first, when alike enough with figures masked."""
    scored = sorted(((reworded_ratio(a, b), i, j) for i, a in enumerate(removed) for j, b in enumerate(added)),
                    key=lambda t: (-t[0], t[1], t[2]))
    pairs: list[tuple[int, int, float]] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for ratio, i, j in scored:
        if ratio < REWORDED_RATIO:
            break
        if i in used_a or j in used_b:
            continue
        pairs.append((i, j, ratio))
        used_a.add(i)
        used_b.add(j)
    pairs.sort(key=lambda t: t[1])
    return ([(removed[i], added[j], r) for i, j, r in pairs],
            [x for k, x in enumerate(removed) if k not in used_a], [x for k, x in enumerate(added) if k not in used_b])


def _pair_block(olds: list[str], news: list[str]) -> tuple[list[tuple[int, int, float]], set[int], set[int]]:
    """Pair similar sentences of a replaced block, best pairs first, keeping order (no crossing)."""
    scored = [(_ratio(_normal(a), _normal(b)), i, j) for i, a in enumerate(olds) for j, b in enumerate(news)]
    scored = sorted((s for s in scored if s[0] >= CHANGED_RATIO), key=lambda s: (-s[0], s[1], s[2]))
    pairs: list[tuple[int, int, float]] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for ratio, i, j in scored:
        if i in used_a or j in used_b:
            continue
        if any((i - pi) * (j - pj) < 0 for pi, pj, _ in pairs):
            continue
        pairs.append((i, j, ratio))
        used_a.add(i)
        used_b.add(j)
    return sorted(pairs), used_a, used_b


def diff_sentences(key: str, heading_a: str | None, heading_b: str | None,
                   sa: list[str], sb: list[str]) -> SectionDiff:
    """Align two sentence lists of one section."""
    na, nb = [_normal(s) for s in sa], [_normal(s) for s in sb]
    added: list[str] = []
    removed: list[str] = []
    changed: list[ChangedSentence] = []
    unchanged = 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, na, nb, autojunk=False).get_opcodes():
        if op == "equal":
            unchanged += i2 - i1
        elif op == "delete":
            removed.extend(sa[i1:i2])
        elif op == "insert":
            added.extend(sb[j1:j2])
        else:
            pairs, used_a, used_b = _pair_block(sa[i1:i2], sb[j1:j2])
            for i, j, ratio in pairs:
                a, b = sa[i1 + i], sb[j1 + j]
                changed.append(ChangedSentence(a=a, b=b, ratio=round(ratio, 3), figures=figure_changes(a, b)))
            removed.extend(s for k, s in enumerate(sa[i1:i2]) if k not in used_a)
            added.extend(s for k, s in enumerate(sb[j1:j2]) if k not in used_b)
    reworded, removed, added = _pair_reworded(removed, added)
    for a, b, ratio in reworded:
        changed.append(ChangedSentence(a=a, b=b, ratio=round(ratio, 3), figures=figure_changes(a, b)))
    return SectionDiff(key=key, heading_a=heading_a, heading_b=heading_b, added=tuple(added),
                       removed=tuple(removed), changed=tuple(changed), unchanged=unchanged)


def _pair_sections(a: Report, b: Report) -> list[tuple[str, Section | None, Section | None]]:
    """Pair sections by key. When a key occurs a different number of times in A and B (a parser
    split one section in two, or a report has two `other` blocks), each B section takes the A
    section of that key whose text is most alike, keeping the order."""
    a_by_key: dict[str, list[Section]] = {}
    b_by_key: dict[str, list[Section]] = {}
    for section in a.sections:
        a_by_key.setdefault(section.key, []).append(section)
    for section in b.sections:
        b_by_key.setdefault(section.key, []).append(section)
    partner: dict[int, Section] = {}          # id(B section) -> A section
    for key, b_list in b_by_key.items():
        a_list = a_by_key.get(key, [])
        if len(a_list) == len(b_list):
            partner.update((id(sb), sa) for sa, sb in zip(a_list, b_list, strict=True))
            continue
        scored = sorted(((SequenceMatcher(None, sa.text, sb.text, autojunk=False).quick_ratio(), i, j)
                         for i, sa in enumerate(a_list) for j, sb in enumerate(b_list)), key=lambda t: -t[0])
        taken: list[tuple[int, int]] = []
        for _, i, j in scored:
            if any(i == ti or j == tj or (i - ti) * (j - tj) < 0 for ti, tj in taken):
                continue
            taken.append((i, j))
            partner[id(b_list[j])] = a_list[i]
    pairs: list[tuple[str, Section | None, Section | None]] = [
        (sb.key, partner.get(id(sb)), sb) for sb in b.sections]
    paired_a = {id(sa) for _, sa, _ in pairs if sa is not None}
    # A section only A has goes right after the section that precedes it in A.
    previous: Section | None = None
    for section in a.sections:
        if id(section) not in paired_a:
            at = 0
            if previous is not None:
                at = next((p + 1 for p, (_, sa, _) in enumerate(pairs) if sa is previous), 0)
            pairs.insert(at, (section.key, section, None))
        previous = section
    return pairs


def _folded(report: Report) -> Report:
    """The report with each level-2 section folded into its level-1 parent (heading and text kept
    as paragraphs): one year writes `（一）…` sections, the next `一是…` sub-points, and the two
    must still pair section by section."""
    children = {c for i in range(len(report.sections)) for c in report.children(i)}
    sections: list[Section] = []
    for i, section in enumerate(report.sections):
        if i in children:
            parent = sections[-1]
            sections[-1] = replace(parent, paragraphs=(*parent.paragraphs, section.heading, *section.paragraphs),
                                   subpoints=(*parent.subpoints, *section.subpoints))
            continue
        sections.append(section)
    return replace(report, sections=tuple(sections))


def diff_reports(a: Report, b: Report) -> ReportDiff:
    """Section-aligned differences between report A (older) and report B (newer)."""
    a, b = _folded(a), _folded(b)
    cache: dict[int, list[str]] = {}

    def sentences(section: Section | None) -> list[str]:
        if section is None:
            return []
        if id(section) not in cache:
            cache[id(section)] = section_sentences(section)
        return cache[id(section)]

    all_a = {_normal(s) for section in a.sections for s in sentences(section)}
    sections = [diff_sentences(key, sa.heading if sa else None, sb.heading if sb else None,
                               sentences(sa), sentences(sb))
                for key, sa, sb in _pair_sections(a, b)]
    b_all = [s for section in b.sections for s in sentences(section)]
    copied = sum(_normal(s) in all_a for s in b_all)
    return ReportDiff(source_a=a.source, source_b=b.source, sections=tuple(sections), copied=copied,
                      b_sentences=len(b_all))


# --------------------------------------------------------------------------- renderers


def diff_to_dict(diff: ReportDiff) -> dict[str, Any]:
    return {
        "a": diff.source_a,
        "b": diff.source_b,
        "sections": [
            {
                "key": s.key,
                "heading_a": s.heading_a,
                "heading_b": s.heading_b,
                "added": list(s.added),
                "removed": list(s.removed),
                "changed": [
                    {"a": c.a, "b": c.b, "ratio": c.ratio,
                     "figures": [{"old": f.old, "new": f.new, "label": f.label} for f in c.figures]}
                    for c in s.changed
                ],
                "unchanged": s.unchanged,
            }
            for s in diff.sections
        ],
        "copied_share": round(diff.copied_share, 4),
        "copied": diff.copied,
        "b_sentences": diff.b_sentences,
        "figure_changes": diff.figure_changes,
    }


def diff_to_json(diff: ReportDiff) -> str:
    return json.dumps(diff_to_dict(diff), ensure_ascii=False, indent=2) + "\n"


def _section_title(s: SectionDiff) -> str:
    name = SECTION_NAMES.get(s.key, s.key)
    if s.heading_a is None:
        return f"【{name}】仅 B 有：{s.heading_b or ''}"
    if s.heading_b is None:
        return f"【{name}】仅 A 有：{s.heading_a or ''}"
    if s.heading_a == s.heading_b:
        return f"【{name}】{s.heading_b}"
    return f"【{name}】{s.heading_a} → {s.heading_b}"


def _figure_text(f: FigureChange) -> str:
    old, new = f.old or "（无）", f.new or "（无）"
    return f"{f.label + '：' if f.label else ''}{old} → {new}"


def _summary(diff: ReportDiff) -> str:
    return (f"B 共 {diff.b_sentences} 句，其中 {diff.copied} 句与 A 完全相同（照抄比例 "
            f"{diff.copied_share:.1%}）；数字变化 {diff.figure_changes} 处。")


def _counts(s: SectionDiff) -> str:
    return f"相同 {s.unchanged} 句，修改 {len(s.changed)} 句，删除 {len(s.removed)} 句，新增 {len(s.added)} 句"


def diff_to_table(diff: ReportDiff) -> str:
    """Plain text for a terminal: one block per section, - removed, + added, ~ changed."""
    lines = [f"A：{diff.source_a}", f"B：{diff.source_b}", _summary(diff), ""]
    for s in diff.sections:
        lines.append(_section_title(s))
        lines.append(f"  {_counts(s)}")
        for c in s.changed:
            lines.append(f"  ~ {c.a}")
            lines.append(f"    → {c.b}")
            lines.extend(f"    数字：{_figure_text(f)}" for f in c.figures)
        lines.extend(f"  - {r}" for r in s.removed)
        lines.extend(f"  + {a}" for a in s.added)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _inline_diff(a: str, b: str) -> tuple[str, str]:
    """Both sentences as HTML with the differing characters marked; every piece is escaped."""
    old: list[str] = []
    new: list[str] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        pa, pb = html.escape(a[i1:i2]), html.escape(b[j1:j2])
        if op == "equal":
            old.append(pa)
            new.append(pb)
            continue
        if pa:
            old.append(f"<del>{pa}</del>")
        if pb:
            new.append(f"<ins>{pb}</ins>")
    return "".join(old), "".join(new)


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.7;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
.summary{background:#f4f6f8;padding:.6rem 1rem;border-radius:4px}
.counts{color:#666;font-size:.9rem}
.item{margin:.4rem 0;padding:.3rem .6rem;border-left:4px solid #ccc}
.removed{border-color:#c0392b;background:#fdf0ef}.added{border-color:#27ae60;background:#eefaf2}
.changed{border-color:#e67e22;background:#fff8ee}
del{background:#f5c6c0;text-decoration:line-through}ins{background:#c3ecd0;text-decoration:none}
.figures{font-size:.9rem;color:#8a4b00}.tag{font-weight:bold;margin-right:.4rem}
"""


def diff_to_html(diff: ReportDiff) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external assets)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>述职报告比较</title><style>{_CSS}</style></head><body>",
        "<h1>述职报告比较</h1>",
        f"<p>A：{e(diff.source_a)}<br>B：{e(diff.source_b)}</p>",
        f'<p class="summary">{e(_summary(diff))}</p>',
    ]
    for s in diff.sections:
        parts.append(f"<h2>{e(_section_title(s))}</h2>")
        parts.append(f'<p class="counts">{e(_counts(s))}</p>')
        for c in s.changed:
            old, new = _inline_diff(c.a, c.b)
            figures = "".join(f"<div>数字：{e(_figure_text(f))}</div>" for f in c.figures)
            parts.append(f'<div class="item changed"><div><span class="tag">原</span>{old}</div>'
                         f'<div><span class="tag">新</span>{new}</div>'
                         + (f'<div class="figures">{figures}</div>' if figures else "") + "</div>")
        parts.extend(f'<div class="item removed"><span class="tag">删</span>{e(r)}</div>' for r in s.removed)
        parts.extend(f'<div class="item added"><span class="tag">增</span>{e(a)}</div>' for a in s.added)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


RENDERERS = {"table": diff_to_table, "json": diff_to_json, "html": diff_to_html}
