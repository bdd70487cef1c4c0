"""The township variant end to end: its corpus, its drafts, retrieval by level, and a county's mixed
year-end batch (county + townships in one workbook) with the 汇总表 a 人武部 files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipeline.batch.runner import BatchSettings, discover_units, run_batch
from pipeline.drafting.draft import draft_report
from pipeline.facts.check import check_text
from pipeline.facts.metrics import load_metrics
from pipeline.index.hybrid import HybridIndex
from pipeline.models import BAD_VERDICTS
from pipeline.profile.catalog import DEFAULT_PROFILE, TOWNSHIP_PROFILE, level_class
from pipeline.reading.readers import read_document

ROOT = Path(__file__).resolve().parent.parent
TOWNSHIP = ROOT / "corpus" / "township"
COUNTY_BATCH = ROOT / "corpus" / "sample" / "county-batch.xlsx"
COUNTY_ONLY = ("编组乡镇", "全市", "县人武部党委第一书记")
TOWNSHIP_ONLY = ("全镇", "全乡", "全街道", "全县第", "我镇", "我乡")   # a township's own voice, never a county's
PAIRS = sorted(TOWNSHIP.glob("metrics/*.yaml"))
NEXT = sorted(TOWNSHIP.glob("next/*.yaml"))


def _report_of(metrics_path: Path) -> Path:
    return next(p for p in (TOWNSHIP / "reports").iterdir() if p.stem == metrics_path.stem)


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> HybridIndex:
    hybrid = HybridIndex.open(tmp_path_factory.mktemp("index"))
    hybrid.ingest([ROOT / "corpus" / "reports", TOWNSHIP / "reports"])
    return hybrid


def test_corpus_shape():
    reports = sorted((TOWNSHIP / "reports").iterdir())
    assert len(reports) >= 10 and len(PAIRS) == len(reports)
    assert {p.suffix for p in reports} >= {".txt", ".docx"}
    counties = {p.stem.split("-")[0] for p in reports}
    years = {p.stem.rsplit("-", 1)[1] for p in reports}
    assert len(counties) >= 2 and len(years) >= 2
    for path in PAIRS:
        metrics = load_metrics(path)
        assert metrics.meta.profile == TOWNSHIP_PROFILE and level_class(metrics.meta.level) == "township"


@pytest.mark.parametrize("metrics_path", PAIRS, ids=lambda p: p.stem)
def test_corpus_report_agrees_with_its_metrics(metrics_path: Path):
    """The corpus is ground truth: every figure of a township report is supported by its metrics file."""
    metrics = load_metrics(metrics_path)
    text = read_document(_report_of(metrics_path))[0]
    result = check_text(text, metrics)
    assert [f for f in result.findings if f.verdict in BAD_VERDICTS] == []
    assert result.summary["supported"] >= 20
    assert not any(w in text for w in COUNTY_ONLY)


@pytest.mark.parametrize("metrics_path", PAIRS + NEXT, ids=lambda p: p.stem)
def test_township_draft_floors(metrics_path: Path, index: HybridIndex):
    metrics = load_metrics(metrics_path)
    result = draft_report(metrics, index=index, seed=3)
    assert [f for f in result.check.findings if f.verdict in BAD_VERDICTS] == []
    stated = {key for _a, _b, key in result.figures}
    assert stated == {m.key for m in metrics.values if m.value is not None}
    assert not [w for w in COUNTY_ONLY if w in result.text]
    assert result.draft.title.startswith(metrics.meta.region)


def test_retrieval_prefers_same_level(index: HybridIndex):
    hits = index.search("民兵整组 基干民兵 应急排", k=5, section="systems", level="镇")
    assert hits and all(level_class(h.chunk.region) == "township" for h in hits)
    county = index.search("民兵整组 基干民兵", k=5, section="systems", level="县")
    assert county and all(level_class(h.chunk.region) == "county" for h in county)
    # Too few of one level: the rest is filled from the others.
    many = index.search("民兵", k=200, level="township")
    classes = [level_class(h.chunk.region) for h in many]
    assert classes[0] == "township" and "township" not in classes[classes.index("county"):]


def test_county_batch_mixes_levels_and_files_a_summary(tmp_path: Path, index: HybridIndex):
    units = discover_units(COUNTY_BATCH)
    assert len(units) >= 6
    out = tmp_path / "batch"
    report = run_batch(COUNTY_BATCH, BatchSettings(out_dir=str(out), index_dir=str(index.index_dir)), workers=1,
                       progress=False)
    assert report.counts()["failed"] == 0
    profiles: dict[str, str] = {}
    for unit in units:
        data = json.loads((out / unit.name / "draft.json").read_text(encoding="utf-8"))
        text = (out / unit.name / "draft.md").read_text(encoding="utf-8")
        profiles[unit.name] = data["meta"]["profile"]
        assert data["check"]["summary"].get("contradicted", 0) == 0 and data["check"]["summary"].get("stale", 0) == 0
        foreign = COUNTY_ONLY if data["meta"]["profile"] == TOWNSHIP_PROFILE else TOWNSHIP_ONLY
        assert not [w for w in foreign if w in text], (unit.name, [w for w in foreign if w in text])
    assert set(profiles.values()) == {DEFAULT_PROFILE, TOWNSHIP_PROFILE}
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert page.index("县（区）（1 个单位）") < page.index("乡镇（街道）（")
    assert "较上年变化的数字" in page and "草稿全文" in page
    book = load_workbook(out / "summary.xlsx")
    assert book.sheetnames[0] == "汇总表"
    rows = list(book["汇总表"].iter_rows(values_only=True))
    assert rows[0][0].endswith("述职汇总表") and rows[1][:4] == ("序号", "单位", "层级", "述职人及职务")
    body = rows[2:]
    assert len(body) == len(units) and body[0][1] == "岚川县" and body[0][2] == "县（区）"
    assert all(r[2] == "乡镇（街道）" for r in body[1:])
    heads = rows[1]
    rank = body[1][heads.index("征兵工作排名")] or body[1][heads.index("年度考核排名")]
    assert str(rank).startswith("全县第")
    assert body[0][heads.index("核对发现的问题")] == "无"


@pytest.mark.parametrize("genre", ["township", "shuangyong"])
def test_generated_corpus_matches_its_sources(genre: str):
    """corpus/<genre>/ is generated from corpus/tools/src/<genre>/ (build_township.py): never edited by hand."""
    from corpus.tools.build_township import rendered_genre

    rendered = rendered_genre(genre)
    assert rendered
    for source, fmt, text, metrics_yaml in rendered:
        folder = ROOT / "corpus" / genre
        assert (folder / "metrics" / f"{source.stem}.yaml").read_text(encoding="utf-8") == metrics_yaml, source.name
        if fmt.startswith("txt"):
            raw = (folder / "reports" / f"{source.stem}.txt").read_bytes()
            assert raw.decode("gbk" if fmt == "txt-gbk" else "utf-8") == text, source.name
        else:
            body = read_document(folder / "reports" / f"{source.stem}.docx")[0]
            assert body.split("\n")[0] == text.split("\n")[0], source.name
