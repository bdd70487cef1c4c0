"""The sample corpus is ground truth for the checker and the drafter: these tests hold it to that.

Each report must be paired with a metrics file whose figures are all written in the text (in one of the
forms real reports use), the file formats the parser must survive must all be present, and `previous`
must agree with the same region's file for the year before.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
REPORTS = CORPUS / "reports"
METRICS = CORPUS / "metrics"
SAMPLE = CORPUS / "sample"
CATALOG = ROOT / "prompts" / "dangguan-wuzhuang" / "catalog.yaml"
SEED = "000_82892d5cb8a93b68"
STEM_RE = re.compile(r"^([a-z]+)-(\d{4})$")
SEED_META = {"year": 2022, "region": "**县"}
# Fictional reports with no title line (like the seed): their opening paragraph names region and year.
UNTITLED = {"chengpu-2022", "heting-2021", "yanxi-2022"}
# A title line (or, in a one-line report, the title glued to the opening): no sentence punctuation, ends in 述职报告.
TITLE_RE = re.compile(r"^(?:#\s*)?[^，。；：\n]{4,50}?述职报告")
# The speaker's line under a title: `岚川县委书记 林某某`.
BYLINE_RE = re.compile(r"^[^，。；：\s]{2,20}(书记|县长|区长)\s+[^，。；：\s]{2,4}$")

# What may follow a figure, by the metric's canonical unit (人 and 名 are used interchangeably for people).
UNIT_FORMS: dict[str, tuple[str, ...]] = {
    "人": ("人", "名"),
    "名": ("名", "人"),
    "%": ("％", "%"),
    "场次": ("场次", "场"),
}
CN_DIGITS = "零一二三四五六七八九"
FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


# --------------------------------------------------------------------------- reading


def report_files() -> list[Path]:
    return sorted(
        p for p in REPORTS.iterdir() if p.suffix in (".txt", ".md", ".docx") and not p.name.startswith(".")
    )


def read_text(path: Path) -> str:
    """Report text as a reader sees it: docx paragraphs and table cells, txt in UTF-8 (BOM ok) or GBK."""
    if path.suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        parts = [p.text for p in document.paragraphs]
        for table in document.tables:
            # one line per row, so a figure's cell stays beside its label cell
            parts.extend("|".join(cell.text for cell in row.cells) for row in table.rows)
        return "\n".join(parts)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gbk")
    return text.replace("\r\n", "\n")


def paragraph_text(path: Path) -> str:
    """Text without tables: the length rule is about the prose."""
    if path.suffix == ".docx":
        import docx

        return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    return read_text(path)


def load_metrics(path: Path) -> dict[str, Any]:
    return yaml.safe_load((METRICS / f"{path.stem}.yaml").read_text(encoding="utf-8"))


def catalog() -> dict[str, Any]:
    return yaml.safe_load(CATALOG.read_text(encoding="utf-8"))["metrics"]


def metric_value(item: Any) -> Decimal | None:
    value = item.get("value") if isinstance(item, dict) else item
    return None if value is None else Decimal(str(value))


REPORT_FILES = report_files()
FICTIONAL = [p for p in REPORT_FILES if p.stem != SEED]


# --------------------------------------------------------------------------- figure forms


def chinese_small(n: int) -> list[str]:
    """Chinese numerals for 1..99 as reports write counts: 三, 十二, 二十六; 2 is also 两."""
    if n <= 0 or n >= 100:
        return []
    tens, ones = divmod(n, 10)
    if tens == 0:
        forms = [CN_DIGITS[ones]]
    else:
        head = "" if tens == 1 else CN_DIGITS[tens]
        forms = [head + "十" + (CN_DIGITS[ones] if ones else "")]
    if n == 2:
        forms.append("两")
    return forms


def plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def figure_forms(value: Decimal) -> list[tuple[str, str]]:
    """(form, how) pairs: how is 'exact', 'round' (rounded 万, needs no marker) or 'floor'/'near'
    (an approximation that the text must mark with 余/多 after it or 近/约 before it)."""
    forms: list[tuple[str, str]] = [(plain(value), "exact"), (plain(value).translate(FULL_WIDTH), "exact")]
    if value == value.to_integral_value():
        forms += [(cn, "exact") for cn in chinese_small(int(value))]
        n = int(value)
        wan = Decimal(n) / 10000
        if 500 <= n < 10000:  # 近千人, 近两千人
            thousands = round(Decimal(n) / 1000)
            forms += [(cn + "千", "near") for cn in chinese_small(int(thousands))]
            if thousands == 1:
                forms.append(("千", "near"))
        if n >= 5000:
            near = round(wan)
            forms += [(f"{near}万", "near")] + [(cn + "万", "near") for cn in chinese_small(int(near))]
        if n >= 10000:
            for places in (1, 2):
                rounded = round(wan, places)
                if rounded != rounded.to_integral_value():
                    forms.append((plain(rounded) + "万", "round"))
            lead = n // 10000
            forms += [(f"{lead}万", "floor")] + [(cn + "万", "floor") for cn in chinese_small(lead)]
            forms += [(plain(round(wan, 1)) + "万", "floor")]
        elif n >= 1000:
            lead = n // 1000
            forms += [(f"{lead * 1000}", "floor")] + [(cn + "千", "floor") for cn in chinese_small(lead)]
    return forms


def unit_forms(key: str, item: Any, cat: dict[str, Any]) -> tuple[str, ...]:
    unit = (item.get("unit") if isinstance(item, dict) else None) or cat.get(key, {}).get("unit", "")
    return UNIT_FORMS.get(unit, (unit,))


def metric_words(key: str, item: Any, cat: dict[str, Any]) -> tuple[str, ...]:
    if key in cat:
        return (cat[key]["label"], *cat[key].get("aliases", ()))
    return (item.get("label", ""),) if isinstance(item, dict) else ()


def clause_around(text: str, start: int, end: int) -> str:
    """The clause a figure sits in: back to the last comma or sentence end (at most 50 chars), on to the next
    comma or 、 (a list item names its metric after the figure: 14个乡镇、36个单位)."""
    before = re.split(r"[。；\n，]", text[:start])[-1][-50:]
    after = re.split(r"[，。；、\n]", text[end:])[0][:20]
    return before + text[start:end] + after


def figure_in_text(
    text: str, key: str, value: Decimal, units: tuple[str, ...], kind: str, words: tuple[str, ...] = ()
) -> bool:
    """True when the text states `value` for a metric of this unit/kind in one of the accepted forms, in a
    clause that names the metric (its label or an alias) when `words` are given."""
    for form, how in figure_forms(value):
        for match in re.finditer(re.escape(form), text):
            before, after = text[: match.start()], text[match.end() :]
            if before and re.match(r"[0-9.]", before[-1]) or re.match(r"[0-9.]", after[:1] or " "):
                continue  # part of a longer number; 三 inside 三十 fails the unit test below instead
            if kind == "rank":
                if before.endswith("第") and (
                    not words or any(w in clause_around(text, match.start(), match.end()) for w in words if w)
                ):
                    return True
                continue
            rest = after
            marked = False
            if rest[:1] in ("余", "多"):
                rest, marked = rest[1:], True
            if how in ("floor", "near") and not (
                (how == "floor" and marked) or (how == "near" and before[-1:] in ("近", "约"))
            ):
                continue
            if not any(rest.startswith(u) for u in units):
                continue
            if not words or any(w in clause_around(text, match.start(), match.end()) for w in words if w):
                return True
    return False


@pytest.mark.parametrize(
    ("text", "value", "units", "kind", "expected"),
    [
        ("向部队输送合格青年215人", "215", ("人", "名"), "count", True),
        ("向部队输送合格青年215人", "216", ("人", "名"), "count", False),
        ("向部队输送合格青年1215人", "215", ("人", "名"), "count", False),
        ("编实普通民兵2.1万人", "21034", ("人", "名"), "count", True),
        ("编实普通民兵2.1万人", "22034", ("人", "名"), "count", False),
        ("普通民兵调整为两万余人", "20486", ("人", "名"), "count", True),
        ("普通民兵调整为两万人", "20486", ("人", "名"), "count", False),
        ("受教育群众近3万人次", "28900", ("人次",), "count", True),
        ("受教育群众3万人次", "28900", ("人次",), "count", False),
        ("编组普通民兵近1万人", "9860", ("人", "名"), "count", True),
        ("对１２个乡镇", "12", ("个",), "count", True),
        ("转移群众近千人", "960", ("人",), "count", True),
        ("转移群众千人", "960", ("人",), "count", False),
        ("分三批集中轮训", "3", ("批",), "count", True),
        ("分三十批集中轮训", "3", ("批",), "count", False),
        ("召开议军会两次", "2", ("次",), "count", True),
        ("参训率98.5%", "98.5", ("％", "%"), "percent", True),
        ("参训率98.5%", "98", ("％", "%"), "percent", False),
        ("合格率100％", "100", ("％", "%"), "percent", True),
        ("拨付45万元", "45", ("万元",), "money", True),
        ("拨付45万元", "4.5", ("万元",), "money", False),
        ("排名全市第三", "3", (), "rank", True),
        ("排名全市第3名", "3", (), "rank", True),
        ("排名全市第三", "2", (), "rank", False),
        ("县第一中学", "1", ("所",), "count", False),
    ],
)
def test_figure_in_text_accepts_our_forms_and_rejects_others(text, value, units, kind, expected):
    assert figure_in_text(text, "k", Decimal(value), units, kind) is expected


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("全年召开县委常委会专题研究武装工作五次、议军会三次", "5", True),
        ("全年召开县委常委会专题研究武装工作五次，议军会三次", "3", False),  # 三次 belongs to 议军会
        ("理论学习中心组学习三次。全年召开常委会四次", "3", False),
        ("|常委会研究武装工作|4次|", "4", True),
    ],
)
def test_figure_must_sit_in_a_clause_naming_the_metric(text, value, expected):
    words = ("常委会", "专题研究武装工作")
    assert figure_in_text(text, "k", Decimal(value), ("次",), "count", words) is expected


# --------------------------------------------------------------------------- the corpus


def test_corpus_size_regions_and_years():
    assert len(FICTIONAL) >= 12
    years: dict[str, set[int]] = {}
    for path in FICTIONAL:
        match = STEM_RE.match(path.stem)
        assert match, f"{path.name}: 文件名应为 <地区拼音>-<年份>"
        years.setdefault(match.group(1), set()).add(int(match.group(2)))
    assert len(years) >= 3
    assert all(len(y) >= 3 for y in years.values()), years
    assert (REPORTS / f"{SEED}.txt").exists()


@pytest.mark.parametrize("path", REPORT_FILES, ids=lambda p: p.name)
def test_report_length(path):
    assert 1500 <= len(paragraph_text(path)) <= 4000


@pytest.mark.parametrize("path", REPORT_FILES, ids=lambda p: p.name)
def test_report_has_matching_metrics_file(path):
    doc = load_metrics(path)
    meta = doc["meta"]
    if path.stem == SEED:
        assert {k: meta[k] for k in SEED_META} == SEED_META
    else:
        region, year = STEM_RE.match(path.stem).groups()
        assert meta["year"] == int(year)
        assert meta["region"] in read_text(path)
    assert doc["metrics"], "指标为空"


def title_block(text: str) -> tuple[list[str], str]:
    """(title lines, opening paragraph): the title, plus a byline if one follows it; [] when untitled."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    match = TITLE_RE.match(lines[0])
    if not match:
        return [], lines[0]
    rest = lines[0][match.end() :]
    following = [rest] if rest else lines[1:]
    block = [match.group(0)]
    if BYLINE_RE.match(following[0]):
        block.append(following[0])
        following = following[1:]
    return block, following[0]


@pytest.mark.parametrize("path", FICTIONAL, ids=lambda p: p.name)
def test_report_states_region_and_year_up_front(path):
    """The parser reads region and year from the title, else from the opening; state them there."""
    meta = load_metrics(path)["meta"]
    region, year = meta["region"], f"{meta['year']}年"
    block, opening = title_block(read_text(path))
    assert "现将履职情况报告如下" in opening, f"{path.name}: 开头段不是第一段正文"
    if path.stem in UNTITLED:
        assert not block, f"{path.name}: 列为无标题，却有标题行"
        # In the opening clause (`2022年，在市委…领导下，岚川县…`), not only later in an honour’s name.
        assert region in opening[:60] and opening.startswith(year), (path.name, opening[:60])
        return
    assert block, f"{path.name}: 首行应为标题"
    head = "\n".join(block)
    assert region in head, (path.name, head)
    # Year in the title, or (title + byline) at the very start of the opening: `2022年以来，…`.
    assert year in head or (len(block) == 2 and opening.startswith(year)), (path.name, head, opening[:20])


def test_title_forms_vary_and_untitled_are_few():
    titles = {p.stem: title_block(read_text(p))[0] for p in FICTIONAL}
    untitled = {stem for stem, block in titles.items() if not block}
    assert untitled == UNTITLED and 2 <= len(untitled) <= 3
    regions = {p.stem: load_metrics(p)["meta"]["region"] for p in FICTIONAL}
    firsts = [(block[0].lstrip("# "), regions[stem]) for stem, block in titles.items() if block]
    assert any(title.startswith(region) for title, region in firsts)  # 岚川县2021年度…
    assert any(re.match(r"\d{4}年", title) for title, _ in firsts)  # 2023年度澄浦县委书记…
    assert any(region not in title and not re.search(r"\d{4}", title) for title, region in firsts)  # + byline
    assert any(len(block) == 2 for block in titles.values())


@pytest.mark.parametrize(
    ("text", "block", "opening"),
    [
        (
            "岚川县2022年度党管武装工作述职报告\n2022年，在…现将",
            ["岚川县2022年度党管武装工作述职报告"],
            "2022年，在…现将",
        ),
        (
            "# 2021年度澄浦县委书记党管武装工作述职报告\n\n2021年，…",
            ["# 2021年度澄浦县委书记党管武装工作述职报告"],
            "2021年，…",
        ),
        (
            "党管武装工作述职报告\n岚川县委书记 林某某\n2022年以来，…",
            ["党管武装工作述职报告", "岚川县委书记 林某某"],
            "2022年以来，…",
        ),
        (
            "砚溪县2024年度党管武装工作述职报告今年以来，…",
            ["砚溪县2024年度党管武装工作述职报告"],
            "今年以来，…",
        ),
        (
            "2022年，在市委的领导下，我认真履行述职报告制度…",
            [],
            "2022年，在市委的领导下，我认真履行述职报告制度…",
        ),
    ],
)
def test_title_block_reads_our_title_forms(text, block, opening):
    assert title_block(text) == (block, opening)


def test_one_region_name_per_file_prefix():
    names: dict[str, set[str]] = {}
    for path in FICTIONAL:
        names.setdefault(STEM_RE.match(path.stem).group(1), set()).add(load_metrics(path)["meta"]["region"])
    assert all(len(v) == 1 for v in names.values()), names
    assert len({next(iter(v)) for v in names.values()}) == len(names)


@pytest.mark.parametrize("path", REPORT_FILES, ids=lambda p: p.name)
def test_every_metric_figure_is_in_the_text(path):
    text = read_text(path)
    cat = catalog()
    doc = load_metrics(path)
    missing = []
    for key, item in doc["metrics"].items():
        assert key in cat or key.startswith("custom."), key
        value = metric_value(item)
        if value is None:
            continue
        kind = cat[key]["kind"] if key in cat else item.get("kind", "count")
        if not figure_in_text(
            text, key, value, unit_forms(key, item, cat), kind, metric_words(key, item, cat)
        ):
            missing.append(f"{key}={value}")
    assert not missing, f"{path.name}: 文中找不到 {missing}"


@pytest.mark.parametrize("path", REPORT_FILES, ids=lambda p: p.name)
def test_names_and_plans_are_in_the_text(path):
    text = read_text(path)
    doc = load_metrics(path)
    for honour in doc.get("honours") or []:
        assert f"“{honour}”" in text, honour
    for title in doc.get("documents") or []:
        assert f"《{title}》" in text, title
    for name in (doc.get("partners") or []) + (doc.get("plans") or []):
        assert name in text, name


@pytest.mark.parametrize("path", REPORT_FILES, ids=lambda p: p.name)
def test_genre_markers(path):
    text = paragraph_text(path)
    assert "正确领导下" in text or "坚强领导下" in text or "领导下" in text
    assert "现将履职情况报告如下：" in text
    assert text.rstrip().endswith("我的述职完毕，不妥之处，请各位领导批评指正。")


def test_previous_matches_the_year_before():
    by_stem = {p.stem: load_metrics(p)["metrics"] for p in FICTIONAL}
    checked = 0
    for stem, metrics in by_stem.items():
        region, year = STEM_RE.match(stem).groups()
        prior = by_stem.get(f"{region}-{int(year) - 1}")
        for key, item in metrics.items():
            if not isinstance(item, dict) or "previous" not in item:
                continue
            assert prior is not None, f"{stem}: {key} 有 previous 但没有上一年文件"
            assert Decimal(str(item["previous"])) == metric_value(prior[key]), f"{stem} {key}"
            checked += 1
        if prior is not None:
            stated = [k for k in metrics if k in prior and metric_value(prior[k]) is not None]
            assert all("previous" in metrics[k] for k in stated), stem
    assert checked > 200


# --------------------------------------------------------------------------- the formats


def test_gbk_report_is_not_utf8():
    gbk = []
    for path in REPORT_FILES:
        if path.suffix != ".txt":
            continue
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raw.decode("gbk")  # must not raise
            gbk.append(path)
    assert gbk


def test_bom_crlf_md_runin_and_masked_variants_exist():
    raws = {p: p.read_bytes() for p in REPORT_FILES if p.suffix in (".txt", ".md")}
    assert any(raw.startswith(b"\xef\xbb\xbf") for raw in raws.values())
    assert any(b"\r\n" in raw for raw in raws.values())
    assert any(p.suffix == ".md" for p in raws)
    texts = [read_text(p) for p in REPORT_FILES]
    # run-in: the 二、 heading and its body on one line
    assert any(re.search(r"^二、[^\n，]{2,20}，[^\n]{4,30}\s+\S[^\n]{40,}", t, re.M) for t in texts)
    assert any(re.search(r"^（一）", t, re.M) for t in texts)
    assert any(re.search(r"^1、", t, re.M) for t in texts)
    masked = [p for p in FICTIONAL if re.search(r"\*+(个|人|％|%|万元|名|批|所)", read_text(p))]
    assert masked
    for path in masked:
        assert any(metric_value(v) is None for v in load_metrics(path)["metrics"].values())


def test_docx_variants():
    import docx
    from docx.oxml.ns import qn

    files = [p for p in REPORT_FILES if p.suffix == ".docx"]
    assert len(files) >= 3
    autonum = tables = 0
    for path in files:
        document = docx.Document(str(path))
        tables += bool(document.tables)
        numbered = [p for p in document.paragraphs if p._p.pPr is not None and p._p.pPr.numPr is not None]
        if not numbered:
            continue
        numbering = document.part.numbering_part.element
        formats = {el.get(qn("w:val")) for el in numbering.iter(qn("w:numFmt"))}
        texts = {el.get(qn("w:val")) for el in numbering.iter(qn("w:lvlText"))}
        assert "chineseCounting" in formats and "%1、" in texts
        assert len(numbered) >= 3
        assert not any(p.text.startswith("一、") for p in document.paragraphs)
        autonum += 1
    assert autonum >= 1
    assert tables >= 1
    for path in files:  # the title stays a centred title paragraph in Word
        first = docx.Document(str(path)).paragraphs[0]
        assert TITLE_RE.match(first.text) and first.alignment == 1, (path.name, first.text)  # 1 = CENTER


# --------------------------------------------------------------------------- sample for the demo


def test_sample_metrics_complete_with_previous():
    sample = yaml.safe_load((SAMPLE / "metrics.yaml").read_text(encoding="utf-8"))
    cat = catalog()
    assert set(cat) <= set(sample["metrics"])
    region = sample["meta"]["region"]
    year = sample["meta"]["year"]
    priors = [load_metrics(p) for p in FICTIONAL]
    prior = next(
        d["metrics"] for d in priors if (d["meta"]["region"], d["meta"]["year"]) == (region, year - 1)
    )
    for key in cat:
        item = sample["metrics"][key]
        assert item["value"] is not None
        assert Decimal(str(item["previous"])) == metric_value(prior[key]), key
    for name in ("honours", "documents", "partners", "plans", "highlights"):
        assert sample[name], name


def test_next_year_files_for_other_regions():
    sample_region = yaml.safe_load((SAMPLE / "metrics.yaml").read_text(encoding="utf-8"))["meta"]["region"]
    regions = {load_metrics(p)["meta"]["region"] for p in FICTIONAL}
    nexts = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((SAMPLE / "next").glob("*.yaml"))]
    assert {d["meta"]["region"] for d in nexts} >= regions - {sample_region}
    for doc in nexts:
        assert all(metric_value(v) is not None for v in doc["metrics"].values())


def test_committed_files_match_their_sources():
    """Reports and metrics are generated from corpus/tools/src; a hand edit to the output would drift."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_corpus", CORPUS / "tools" / "build_corpus.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    sources = sorted((CORPUS / "tools" / "src").glob("*.txt"))
    assert {p.stem for p in sources} == {p.stem for p in FICTIONAL}
    for source in sources:
        head, body = build.split_source(source)
        text, figures = build.render(body, source)
        committed = yaml.safe_load((METRICS / f"{source.stem}.yaml").read_text(encoding="utf-8"))
        assert set(committed["metrics"]) == set(figures), source.name
        for key, entry in figures.items():
            assert metric_value(committed["metrics"][key]) == entry["value"], (source.name, key)
        report = next(p for p in FICTIONAL if p.stem == source.stem)
        if report.suffix != ".docx":
            assert read_text(report) == build.layout(head["format"], text), source.name


def test_metrics_files_load_with_the_pipeline_loader():
    loader = pytest.importorskip("pipeline.facts.metrics")
    for path in REPORT_FILES:
        metrics = loader.load_metrics(METRICS / f"{path.stem}.yaml")
        assert metrics.meta.year == load_metrics(path)["meta"]["year"]
    loader.load_metrics(SAMPLE / "metrics.yaml")
