"""The `template` engine: offline, deterministic for a seed, the default and the fallback.

A sub-point is built from the profile's phrase banks and from retrieved corpus sentences:

1. a number-free lead sentence — from the bank, or a corpus sentence that is number-free and
   name-free (no figures, masks, quotes, titles, place or unit names), from another region;
2. sentences stating this facet's figures through `{metric.key}` placeholders. A corpus sentence
   with figures is used only when every figure in it re-binds to one of the facet's keys (by unit
   and by the catalog label/aliases around it); the rest is covered greedily from the bank: the
   sentence stating the most still-unstated metrics wins, ties broken by the seeded RNG;
3. a generic sentence (and a warning) for a metric no bank sentence names (custom metrics);
4. this year's documents, partners, honours and highlights that fall to the facet;
5. a number-free closing sentence.

The RNG is seeded with (seed, region, year, facet, attempt), so units in one batch read differently,
one unit reads the same for one seed, and a re-ask after findings (`feedback`) picks other variants
and leaves corpus sentences out.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pipeline.drafting.engines.base import FacetRequest, FacetText, HeadingRequest
from pipeline.drafting.fill import PLACEHOLDER_RE, FillError, fill, placeholders
from pipeline.drafting.plan import FacetNames, PhraseBank, Profile, load_profile, names_for
from pipeline.facts.numerals import fullwidth_to_ascii
from pipeline.models import Metrics
from pipeline.reading.sentences import sentences as split_into_sentences

# A figure a corpus sentence states: Arabic, masked or small Chinese numerals, with a unit.
_FIGURE_RE = re.compile(
    r"(?P<num>[0-9０-９]+(?:\.[0-9]+)?|[*＊xX×]+(?:\.[*＊xX×]+)?|[一二两三四五六七八九十]{1,3})"
    r"(?P<unit>万元|人次|场次|个|次|批|名|人|所|件|％|%)"
)
_CN_NUM = set("一二两三四五六七八九十")
_ANY_DIGIT_RE = re.compile(r"[0-9０-９*＊×]|[xX]{2}")
# Words that name a place, a unit or a person: a sentence with one is never reused elsewhere.
_NAME_MARKS = ("县", "镇", "村", "乡", "市", "区", "旗", "某部", "书记", "“", "”", "《", "》", "驻", "省")
_MARKER_RE = re.compile(r"^(?:[一二三四五六七八九十]+是|（[一二三四五六七八九十]+）|[一二三四五六七八九十]+、|\d+[、.．])")
# Words tying a sentence to one county's geography or one event: never carried to another county.
_LOCAL_MARKS = ("海", "渔", "船", "边境", "台风", "洪", "码头", "哨所", "学院", "公园", "基地", "二期", "三期", "首次")
# Level words of the report's own county become slots, so `全县`/`县委` fit a district (`全区`/`区委`) too.
_GENERALISE = (
    (re.compile(r"全[县区旗]"), "{whole}"),
    (re.compile(r"[县区旗](委|财政|级|人武部)"), r"{level}\1"),
)
_BAD_OPENERS = ("同时", "此外", "这", "该", "其中", "并", "但", "而", "对此", "为此", "由此", "在此")
_UNIT_FAMILY = {"名": "人", "人": "人", "％": "%", "%": "%"}


_MISSING = object()
_MEMO_MAX = 50_000


def _family(unit: str) -> str:
    return _UNIT_FAMILY.get(unit, unit)


@dataclass(frozen=True)
class _Reusable:
    text: str                 # the sentence, marker stripped
    chunk_id: str
    region: str | None
    is_last: bool = False     # the last sentence of its sub-point (a closing remark)
    position: int = 0         # its place among the chunk's reusable sentences


@lru_cache(maxsize=20000)
def _sentences_of(chunk_id: str, text: str) -> tuple[str, ...]:
    out = []
    for sentence in split_into_sentences(text):
        sentence = generalise(_MARKER_RE.sub("", sentence.strip()))
        if 18 <= len(sentence) <= 90 and sentence.endswith("。") and not sentence.startswith(_BAD_OPENERS):
            out.append(sentence)
    return tuple(out)


@lru_cache(maxsize=20000)
def _chunk_reusables(chunk_id: str, text: str, region: str | None, avoid: tuple[str, ...]) -> tuple[_Reusable, ...]:
    """A retrieved chunk's reusable sentences (`_sentences_of`) with their place in it. The same
    chunks serve every unit of a batch, so this is worked out once per chunk and process."""
    found = _sentences_of(chunk_id, text)
    last = split_into_sentences(text)[-1:] if found else []
    last_sentence = generalise(_MARKER_RE.sub("", last[0].strip())) if last else None
    out = []
    for position, sentence in enumerate(found):
        if any(word in sentence for word in avoid):
            continue   # another level's words (全市 in a township draft): never carried over
        out.append(_Reusable(sentence, chunk_id, region, sentence == last_sentence, position))
    return tuple(out)


@lru_cache(maxsize=20000)
def _first_sentence(text: str) -> str | None:
    first = split_into_sentences(text.strip())[:1]
    return first[0] if first else None


@lru_cache(maxsize=50000)
def is_number_free(sentence: str) -> bool:
    """No quantity the checker's extractor sees, and no digit or mask at all (`*`, `××`), which
    would be a figure or a hidden name."""
    from pipeline.facts.quantities import extract_quantities

    return _ANY_DIGIT_RE.search(sentence) is None and not extract_quantities(sentence)


# Common words that contain a name mark but name no place (乡村振兴, 驻地部队, 市委): removed first.
_GENERIC_WORDS = re.compile(
    "乡村|乡镇|城乡|农村|村容村貌|村民|村级|社区|市委|市政府|市场|城市|区域|地区|辖区|军分区|省军区|战区|"
    "驻地|县域|县级|县委|县政府|县财政|区委|区政府|全市|全省|全县|全区|省委|省政府|委书记|第一书记"
)


@lru_cache(maxsize=50_000)      # corpus sentences and their clauses recur in every unit of a batch
def is_name_free(sentence: str) -> bool:
    rest = _GENERIC_WORDS.sub("", sentence)
    return not any(mark in rest for mark in _NAME_MARKS + _LOCAL_MARKS)


def generalise(sentence: str) -> str:
    """`全县`/`县委`/`县财政` → `{whole}`/`{level}委`/`{level}财政`: level words, not names."""
    for pattern, replacement in _GENERALISE:
        sentence = pattern.sub(replacement, sentence)
    return sentence


class TemplateEngine:
    """Phrase banks + corpus sentences. Cheap to build; the profile is loaded once and cached."""

    name = "template"
    concurrent = False   # pure Python and fast: threads would only add overhead under the GIL

    def __init__(self, profile: str | Profile = "dangguan-wuzhuang", *, reuse_corpus: bool = True,
                 strict_rebind: bool = True):
        self.profile: Profile = load_profile(profile) if isinstance(profile, str) else profile
        self.profile_name = self.profile.spec
        self.reuse_corpus = reuse_corpus
        # Strict: a figure-bearing corpus sentence is re-bound only when it says nothing but its
        # metric phrases (see `only_metric_phrases`): no other county's works, events or claims.
        self.strict_rebind = strict_rebind
        self._catalog = self.profile.catalog
        # What a draft's facets share (its Rebinder, its routed names), kept for the Metrics object
        # the draft asks with: built once per draft, not once per facet.
        self._per_draft: tuple[Metrics, dict[str, Any]] | None = None
        self._rebound_memo: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]] | None] = {}
        self._residue_memo: dict[tuple[str, tuple[str, ...]], int] = {}
        self._leads_memo: dict[tuple[str, str], tuple[str, ...]] = {}

    # ------------------------------------------------------------------ protocol

    def write_heading(self, request: HeadingRequest) -> str:
        section = self.profile.section(request.section_key)
        if section is None or not section.headings:
            return ""
        rng = _rng(request.seed, request.metrics, "heading:" + request.section_key, 0)
        return rng.choice(section.headings)

    def write_facet(self, request: FacetRequest) -> FacetText:
        parts, warnings = self.write_facet_parts(request)
        sources = tuple(dict.fromkeys(c for _text, chunk_ids in parts for c in chunk_ids))
        return FacetText(text="".join(t for t, _ in parts), sources=sources, warnings=warnings)

    def write_facet_parts(self, request: FacetRequest) -> tuple[list[tuple[str, tuple[str, ...]]], tuple[str, ...]]:
        """The facet as sentences, each with the corpus chunk ids it was modelled on."""
        bank = self.profile.bank(request.facet_id)
        attempt = len(request.feedback)
        rng = _rng(request.seed, request.metrics, request.facet_id, attempt)
        keys = [k for k in request.metric_keys if _has_value(request, k)]
        parts: list[tuple[str, tuple[str, ...]]] = []
        warnings: list[str] = []

        reusable = self._reusable(request) if (self.reuse_corpus and attempt == 0) else ()
        # First-person sentences (`我要求相关部门建立台账`) report another secretary's own acts: not reused.
        number_free = [r for r in reusable
                       if "我" not in r.text and is_number_free(r.text) and is_name_free(r.text)]
        if number_free and rng.random() < 0.85:
            pick = rng.choice([r for r in number_free if not r.is_last] or number_free)
            parts.append((pick.text, (pick.chunk_id,)))
            # The measure goes on as the retrieved sub-point went on: its next sentence, when that one
            # too says no figure and no name (two sentences of one writer read as one thought).
            following = next((r for r in number_free if r.chunk_id == pick.chunk_id
                              and r.position == pick.position + 1 and not r.is_last), None)
            if following is not None and not repeats_idea(following.text, request.topic + pick.text) \
                    and rng.random() < 0.8:
                parts.append((following.text, (following.chunk_id,)))
        elif bank.leads:
            # The sub-point's topic clause comes right before: a lead echoing it reads as a stammer.
            leads = self._leads(bank, request.facet_id, request.topic)
            parts.append((rng.choice(leads), ()))

        remaining = list(keys)
        if reusable and remaining:
            rebound = self._rebind_best(reusable, remaining, rng, request.metrics)
            if rebound is not None:
                text, bound, chunk_id = rebound
                parts.append((text, (chunk_id,)))
                remaining = [k for k in remaining if k not in bound]
        # Then the retrieved sub-points' own figure sentences, clause by clause: each figure re-bound
        # to one of this facet's metrics through the aligner, clauses with another unit's names,
        # events or stray figures left out (`pipeline.drafting.rebind`).
        for _ in range(2):
            if not (reusable and remaining):
                break
            rebound = self._rebind_clauses(reusable, remaining, rng, request, {t for t, _ in parts})
            if rebound is None:
                break
            text, bound, chunk_id = rebound
            parts.append((text, (chunk_id,)))
            remaining = [k for k in remaining if k not in bound]

        for sentence in _cover(bank, remaining, rng):
            parts.append((sentence, ()))
            remaining = [k for k in remaining if k not in placeholders(sentence)]
        for key in remaining:
            parts.append((self._generic_sentence(key, request, rng), ()))
            warnings.append(f"指标 {key}（{request.metric_labels.get(key, key)}）没有现成句式，已写成通用句，请润色。")

        shared = self._draft_state(request.metrics)
        if "names" not in shared:
            shared["names"] = names_for(self.profile, request.metrics)
        names = shared["names"].get(request.facet_id)
        closer = rng.choice(bank.closers) if bank.closers else None
        closer_source: tuple[str, ...] = ()
        used = {t for t, _ in parts}
        # The closing remark, too, may come from a retrieved sub-point: the last sentence of one that
        # says no figure and no name, and does not restate what this sub-point already said.
        endings = [r for r in number_free if r.text not in used and r.is_last] or \
            [r for r in number_free if r.text not in used and r.position > 0]
        if endings and rng.random() < 0.7:
            said = request.topic + "".join(t for t, _ in parts)
            fresh_endings = [r for r in endings if not repeats_idea(r.text, said)]
            if fresh_endings:
                pick = rng.choice(fresh_endings)
                closer, closer_source = pick.text, (pick.chunk_id,)
        if names:
            said = request.topic + "".join(t for t, _ in parts)
            name_sentences = [(s, ()) for s in self._name_sentences(bank, names, rng, said)]
            if request.facet_id == "opening":
                parts.extend(name_sentences)
            else:
                # Documents read best right after the measures they ground, highlights last.
                parts[1:1] = [p for p in name_sentences if "《" in p[0]]
                parts.extend(p for p in name_sentences if "《" not in p[0])
        if closer and not closer_source:
            # A closer restating what the sub-point already said (兵员质量…兵员质量) reads as padding:
            # take another closer that shares no phrase with the text, or none.
            said = request.topic + "".join(t for t, _ in parts)
            if repeats_idea(closer, said):
                fresh = [c for c in bank.closers if not repeats_idea(c, said)]
                closer = rng.choice(fresh) if fresh else None
        if closer:
            if parts and starts_fragment(closer, self.profile.spec) and parts[-1][0].endswith("。"):
                # A result with no subject (`有力推动了…`) continues the sentence before it.
                text, sources = parts[-1]
                parts[-1] = (text[:-1] + "，" + closer, tuple(dict.fromkeys(sources + closer_source)))
            else:
                parts.append((closer, closer_source))
        return parts, tuple(warnings)

    # ------------------------------------------------------------------ pieces

    def _reusable(self, request: FacetRequest) -> tuple[_Reusable, ...]:
        region = request.metrics.meta.region
        out: list[_Reusable] = []
        for chunk in request.exemplars:
            if chunk.region and chunk.region == region:
                continue   # this region's own past text is where stale figures come from
            out += _chunk_reusables(chunk.chunk_id, chunk.text, chunk.region, self.profile.avoid)
        return tuple(out)

    def _rebind_best(
        self, reusable: tuple[_Reusable, ...], keys: list[str], rng: random.Random, metrics: Metrics
    ) -> tuple[str, tuple[str, ...], str] | None:
        options: list[tuple[str, tuple[str, ...], str]] = []
        wanted = tuple(keys)
        for item in reusable:
            result = self._rebound(item.text, wanted)
            if result is None:
                continue
            try:
                filled = fill(result[0], metrics).text
            except FillError:
                continue
            # Same figures as the corpus sentence: that is a verbatim copy (and, for the region's own
            # past, a stale one), never a re-binding.
            if _normalise(filled) == _normalise(item.text):
                continue
            options.append((result[0], result[1], item.chunk_id))
        if not options:
            return None
        best = max(len(o[1]) for o in options)
        return rng.choice([o for o in options if len(o[1]) == best])

    def _residue(self, template: str, keys: tuple[str, ...]) -> int:
        """`_residue` memoised per engine (it reads only the clause, its keys and this profile's catalog)."""
        memo = self._residue_memo
        found = memo.get((template, keys))
        if found is None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            found = memo[(template, keys)] = _residue(template, keys, self._catalog)
        return found

    def _leads(self, bank: PhraseBank, facet_id: str, topic: str) -> list[str]:
        """The bank's leads that do not echo the topic clause right before them (all when every one
        does); memoised per engine: a batch asks for the same facets and topics unit after unit."""
        memo = self._leads_memo
        found = memo.get((facet_id, topic))
        if found is None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            found = memo[(facet_id, topic)] = tuple(
                [t for t in bank.leads if not repeats_idea(t, topic)] or bank.leads)
        return list(found)

    def _draft_state(self, metrics: Metrics) -> dict[str, Any]:
        """The per-draft state for `metrics` (compared by identity; the object is held, so its id is
        not reused). A new Metrics object starts a new state."""
        held = self._per_draft
        if held is None or held[0] is not metrics:
            held = self._per_draft = (metrics, {})
        return held[1]

    def _rebound(self, text: str, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
        """`rebind_figures` (then, when strict, `only_metric_phrases`) of a corpus sentence for these
        keys, memoised per engine: both read only the sentence, the keys and this profile's catalog,
        and a batch asks the same sentences for the same facets unit after unit."""
        memo = self._rebound_memo
        found = memo.get((text, keys), _MISSING)
        if found is not _MISSING:
            return found
        result = rebind_figures(text, list(keys), self._catalog)
        if result is not None and self.strict_rebind and not only_metric_phrases(result[0], result[1], self._catalog):
            result = None
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[(text, keys)] = result
        return result

    def _rebind_clauses(self, reusable: tuple[_Reusable, ...], keys: list[str], rng: random.Random,
                        request: FacetRequest, used: set[str]) -> tuple[str, tuple[str, ...], str] | None:
        from pipeline.drafting.rebind import Rebinder
        from pipeline.drafting.style import load_style

        shared = self._draft_state(request.metrics)
        rebinder = shared.get("rebinder")
        if rebinder is None:
            rebinder = shared["rebinder"] = Rebinder(request.metrics, None, self._catalog, load_style(self.profile_name))
        wanted = set(keys)
        options: list[tuple[str, tuple[str, ...], str]] = []
        for item in reusable:
            if "我" in item.text or item.text in used:
                continue
            kept: list[str] = []
            bound: list[str] = []
            for clause in rebinder.clauses(item.text, request.section_key):
                if not clause.keys:
                    continue            # another unit's measures and details: only its figures are taken
                rest = PLACEHOLDER_RE.sub("", clause.template)
                if clause.bad or not set(clause.keys) <= wanted or set(clause.keys) & set(bound) \
                        or not is_name_free(rest) or not is_number_free(rest) \
                        or self._residue(clause.template, clause.keys) > CLAUSE_RESIDUE:
                    continue
                kept.append(clause.template.rstrip("，；：。"))
                bound += clause.keys
            if not kept or len(bound) != len(set(bound)):
                continue
            text = "，".join(kept) + "。"
            if text.startswith(_BAD_OPENERS) or len(text) < 10:
                continue
            try:
                filled = fill(text, request.metrics).text
            except FillError:
                continue
            if _normalise(filled) in _normalise(item.text):
                continue            # the other unit's own figures: a copy, not a re-binding
            options.append((text, tuple(bound), item.chunk_id))
        if not options:
            return None
        best = max(len(o[1]) for o in options)
        return rng.choice([o for o in options if len(o[1]) == best])

    def _generic_sentence(self, key: str, request: FacetRequest, rng: random.Random) -> str:
        bank = self.profile.bank("generic_metric")
        metric = request.metrics.get(key)
        label = metric.label if metric else key
        template = rng.choice(bank.sentences) if bank.sentences else "{label}为{metric}。"
        return template.replace("{label}", label).replace("{metric}", "{" + key + "}")

    def _name_sentences(self, bank: PhraseBank, names: FacetNames, rng: random.Random, said: str = "") -> list[str]:
        generic = self.profile.bank("generic_names").names
        out: list[str] = []
        # A partner a highlight already names (`国防教育馆建成开放`) needs no sentence of its own.
        partners = tuple(p for p in names.partners if not any(p in h for h in names.highlights))
        for slot, items, wrap in (
            ("{honours}", names.honours, lambda xs: "".join(f"“{x}”" for x in xs)),
            ("{documents}", names.documents, lambda xs: "、".join(f"《{x}》" for x in xs)),
            ("{partners}", partners, lambda xs: "、".join(xs)),
        ):
            if not items:
                continue
            fitting = [t for t in bank.names if slot in t] or [t for t in generic if slot in t]
            # Prefer a frame that does not echo the sub-point (`集中轮训…在基地开展集中轮训`).
            fitting = [t for t in fitting if not repeats_idea(t.replace(slot, "|"), said)] or fitting
            template = rng.choice(fitting) if fitting else slot + "。"
            if len(items) == 1:
                template = template.replace("先后", "")     # 先后 needs more than one: `先后出台《A》` reads wrong
            out.append(template.replace(slot, wrap(items)))
        for sentence in names.highlights:
            sentence = sentence.strip()
            out.append(sentence if sentence.endswith(("。", "！", "；")) else sentence + "。")
        return out


# Words any sentence stating a metric may wrap around it: time, actor, verbs of giving and counting.
# Whatever else a re-bound corpus sentence says is another county's detail (改造训练场和装备仓库).
_FRAME_WORDS = tuple(sorted((
    "全年", "年内", "年初", "一年来", "共", "累计", "合计", "其中", "先后", "分别", "全", "{level}", "{whole}",
    "财政", "人武部", "安排", "投入", "拨付", "落实", "保障", "发放", "组织", "召开", "完成", "开展", "达到",
    "达", "为", "占", "到", "至", "在", "向", "对", "给", "和", "及", "与", "、", "部队", "主持", "专题",
    "研究", "的", "了", "名", "人", "个", "次", "所", "新", "优秀", "补助", "资金", "经费", "实现", "得到",
    "妥善", "安置", "精简", "编组", "调整", "参加", "集中", "轮训", "比例", "民兵", "退役士兵", "士官",
), key=len, reverse=True))
_CLAUSE_RE = re.compile(r"[^，；。：]+")
MAX_RESIDUE = 3
# Characters a re-bound clause of another unit may hold beyond its metric's words and the frame
# words (`组织走访慰问驻地部队及优抚对象{x}` passes; a clause about that unit's own works does not).
CLAUSE_RESIDUE = 4


def _residue(template: str, keys: tuple[str, ...], catalog) -> int:  # noqa: ANN001
    terms: list[str] = []
    for key in keys:
        entry = catalog.get(key)
        if entry is not None:
            terms += [entry.label, *entry.aliases]
    rest = PLACEHOLDER_RE.sub("", template)
    for word in (*sorted(terms, key=len, reverse=True), *_FRAME_WORDS):
        rest = rest.replace(word, "")
    return len(re.sub(r"[，；。：、\s]", "", rest))


def only_metric_phrases(template: str, keys: tuple[str, ...], catalog) -> bool:  # noqa: ANN001
    """True when every clause of a re-bound sentence states a figure and says little else.

    Each clause must hold a placeholder; after removing placeholders, the bound metrics' labels and
    aliases and common frame words (全年, 财政, 投入, 拨付…), at most `MAX_RESIDUE` characters may
    remain. `投入{x}改造人武部训练场和民兵装备仓库` and `…，创历史新高` fail; `全年向部队输送合格青年{x}`
    passes."""
    terms: list[str] = []
    for key in keys:
        entry = catalog.get(key)
        if entry is not None:
            terms += [entry.label, *entry.aliases]
    terms.sort(key=len, reverse=True)
    for clause in _CLAUSE_RE.findall(template):
        if not PLACEHOLDER_RE.search(clause):
            return False
        rest = PLACEHOLDER_RE.sub("", clause)
        for word in (*terms, *_FRAME_WORDS):
            rest = rest.replace(word, "")
        if len(rest) > MAX_RESIDUE:
            return False
    return True


# Words every sub-point of the genre uses: sharing them is not saying the same thing twice.
_GENRE_WORDS = re.compile(
    "党管武装工作|党管武装|武装工作|人武部|国防和军队建设|国防教育|民兵队伍|退役军人|退役士兵|进一步|"
    "明显增强|不断增强|明显提升|稳步提升|不断提高|得到有效|更加|有力|有效"
)


_IDEA_BREAKS = re.compile(r"[，。；：、“”《》{}]")


def repeats_idea(sentence: str, text: str, size: int = 4) -> bool:
    """Whether `sentence` shares a run of `size` characters with `text`, beyond the genre's common
    words and punctuation (`兵员质量创近年最好水平` … `兵员质量实现稳步提升` does)."""
    runs = _idea_runs(sentence, size)
    return bool(runs) and not runs.isdisjoint(_text_runs(text, size))


# Leads, closers and corpus sentences recur in every unit of a batch, and the texts they are held
# against (topics, a sub-point so far) recur within a draft: each side's runs are cut once.
@lru_cache(maxsize=50_000)
def _idea_runs(sentence: str, size: int) -> frozenset[str]:
    """The sentence's runs of `size` characters that cross no punctuation and no genre word."""
    body = _GENRE_WORDS.sub("|", _IDEA_BREAKS.sub("|", sentence))
    return frozenset(run for run in (body[i:i + size] for i in range(len(body) - size + 1)) if "|" not in run)


@lru_cache(maxsize=4_096)
def _text_runs(text: str, size: int) -> frozenset[str]:
    """Every run of `size` characters of `text` once its genre words are blanked: a run of the
    sentence occurs in the text exactly when it is one of these."""
    text = _GENRE_WORDS.sub("|", text)
    return frozenset(text[i:i + size] for i in range(len(text) - size + 1))


def _normalise(sentence: str) -> str:
    return fullwidth_to_ascii(sentence).replace("％", "%").replace(" ", "")


def _has_value(request: FacetRequest, key: str) -> bool:
    metric = request.metrics.get(key)
    return metric is not None and metric.value is not None


def _rng(seed: int, metrics, facet_id: str, attempt: int) -> random.Random:  # noqa: ANN001
    meta = metrics.meta
    # str seeds go through SHA-512 in `random`: stable across processes and PYTHONHASHSEED.
    return random.Random(f"{seed}|{meta.region}|{meta.year}|{facet_id}|{attempt}")


def _cover(bank: PhraseBank, keys: list[str], rng: random.Random) -> list[str]:
    """Bank sentences stating every key once: greedy by how many unstated keys a sentence states."""
    remaining = set(keys)
    chosen: list[str] = []
    while remaining:
        fitting = []
        for template in bank.sentences:
            named = placeholders(template)
            if named and len(set(named)) == len(named) and set(named) <= remaining:
                fitting.append((len(named), template))
        if not fitting:
            break
        best = max(n for n, _ in fitting)
        pick = rng.choice([t for n, t in fitting if n == best])
        chosen.append(pick)
        remaining -= set(placeholders(pick))
    order = {k: i for i, k in enumerate(keys)}
    # Keep the facet's own order of metrics (militia size before training, and so on).
    chosen.sort(key=lambda t: min(order[k] for k in placeholders(t)))
    return chosen


def _inside_slot(sentence: str, pos: int) -> bool:
    return sentence.rfind("{", 0, pos) > sentence.rfind("}", 0, pos)


def rebind_figures(sentence: str, keys: list[str], catalog) -> tuple[str, tuple[str, ...]] | None:  # noqa: ANN001
    """Re-bind every figure of a corpus sentence to one of `keys`, or None.

    A figure binds to the key whose unit family matches and whose label or alias stands nearest to
    it in its clause (before it, or just after it as in `6所高中`). Each key binds at most once; a
    figure that binds to none, or any name or stray number left over, rejects the sentence.
    """
    matches = [m for m in _FIGURE_RE.finditer(sentence) if not _inside_slot(sentence, m.start())]
    if not matches:
        return None
    bound: list[tuple[int, int, str, bool]] = []
    used: set[str] = set()
    for i, match in enumerate(matches):
        unit = match.group("unit")
        number = match.group("num")
        is_cn = number[0] in _CN_NUM
        if is_cn and unit not in ("个", "次", "批", "所", "件"):
            return None
        left_start = matches[i - 1].end() if i else 0
        left = sentence[left_start:match.start()]
        cut = max(left.rfind(c) for c in "，；：")
        left = left[cut + 1:] if cut >= 0 else left
        right_end = matches[i + 1].start() if i + 1 < len(matches) else len(sentence)
        right = sentence[match.end():min(right_end, match.end() + 10)]
        best_key, best_score = None, 0.0
        for key in keys:
            entry = catalog.get(key)
            if entry is None or key in used or _family(entry.unit) != _family(unit) or entry.kind == "rank":
                continue
            for term in (entry.label, *entry.aliases):
                pos = left.rfind(term)
                if pos >= 0:
                    score = len(term) / (1 + (len(left) - pos - len(term)) / 4)
                    if score > best_score:
                        best_key, best_score = key, score
                pos = right.find(term)
                if pos >= 0:
                    score = 0.9 * len(term) / (1 + pos / 4)
                    if score > best_score:
                        best_key, best_score = key, score
        if best_key is None:
            return None
        used.add(best_key)
        bound.append((match.start(), match.end(), best_key, is_cn))
    out, pos = [], 0
    for start, end, key, is_cn in bound:
        out.append(sentence[pos:start])
        out.append("{" + key + (":cn" if is_cn else "") + "}")
        pos = end
    out.append(sentence[pos:])
    text = "".join(out)
    stripped = re.sub(r"\{[^}]*\}", "", text)
    if not is_number_free(stripped) or not is_name_free(stripped):
        return None
    return text, tuple(k for _, _, k, _ in bound)


def cover_metrics(bank: PhraseBank, keys: list[str], rng: random.Random) -> list[str]:
    """Bank sentences stating every key of `keys` at most once (update mode's new figures)."""
    return _cover(bank, keys, rng)


def name_sentences(profile: Profile, bank: PhraseBank, names: FacetNames, rng: random.Random,
                   said: str = "") -> list[str]:
    """This year's documents, partners, honours and highlights of a facet as sentences."""
    return TemplateEngine(profile)._name_sentences(bank, names, rng, said)


def starts_fragment(sentence: str, profile: str) -> bool:
    """A sentence that opens with a result and no subject (`有力推动了…`, `为…奠定了…`)."""
    from pipeline.drafting.style import load_style

    return sentence.startswith(load_style(profile).fragment_starts)


def corpus_topics(exemplars, region: str | None, facet, catalog) -> list[tuple[str, str]]:  # noqa: ANN001
    """Topic clauses of retrieved sub-points (their first sentence) another unit wrote for the same
    facet: short, no figure, no name, and naming one of the facet's words, as (topic, chunk id)."""
    words = set(facet.keywords)
    for key in facet.metrics:
        entry = catalog.get(key)
        if entry is not None:
            words.update(w for w in re.findall(r"[\u4e00-\u9fff]{2}", entry.label))
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for chunk in exemplars:
        if region and chunk.region == region:
            continue
        first = _first_sentence(chunk.text)
        if first is None:
            continue
        topic = _MARKER_RE.sub("", first.strip()).rstrip("。")
        if not (5 <= len(topic) <= 16) or topic in seen or "，" in topic and len(topic) > 14:
            continue
        if not (is_number_free(topic) and is_name_free(topic)) or "我" in topic:
            continue
        if not any(w in topic for w in words):
            continue
        seen.add(topic)
        out.append((topic, chunk.chunk_id))
    return out
