"""pipeline.drafting.draft and the `draft`/`demo` commands: golden draft, coverage, repairs, outputs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.drafting.draft import (
    EVENT_KINDS,
    MAX_REPAIRS,
    DraftEvent,
    draft_report,
    join_plan,
)
from pipeline.drafting.engines.base import FacetRequest, FacetText, HeadingRequest
from pipeline.facts.metrics import load_metrics
from pipeline.models import BAD_VERDICTS, Chunk, Metrics, SearchHit
from pipeline.output.draft_files import draft_to_blocks, draft_to_markdown, write_draft_outputs

GOLDEN = Path(__file__).resolve().parent / "golden"
METRICS = GOLDEN / "qinglan-2024.yaml"
OUTPUTS = {"draft.docx", "draft.md", "draft.json", "check.html"}


@pytest.fixture(scope="module")
def metrics() -> Metrics:
    return load_metrics(METRICS)


@pytest.fixture(scope="module")
def result(metrics: Metrics):
    return draft_report(metrics, seed=0)


def test_golden_template_draft(result) -> None:  # noqa: ANN001
    """The seed-0 draft of the fixture, compared as text. Regenerate with SHUZHI_UPDATE_GOLDEN=1 and read it."""
    golden = GOLDEN / "qinglan-2024.seed0.md"
    text = draft_to_markdown(result)
    if os.environ.get("SHUZHI_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_draft_has_the_genre_shape(result) -> None:  # noqa: ANN001
    text = result.text
    lines = text.splitlines()
    assert lines[0] == "青岚县2024年度党管武装工作述职报告"
    assert lines[1].startswith(("2024年以来，在市委、市政府和军分区党委", "一年来，在市委、市政府和军分区党委",
                                "2024年，在市委、市政府和军分区党委"))
    assert lines[1].endswith("如下：")
    headings = [line for line in lines if line[:2] in ("一、", "二、", "三、")]
    assert len(headings) == 3 and all("，" in h for h in headings)
    assert sum(line.startswith("一是") for line in lines) == 4          # three sections + plans
    assert "二是" in text and "三是" in text
    assert lines[-3].endswith("请各位领导批评指正。") and "不" in lines[-3]
    assert lines[-1] == "2025年1月12日"
    assert "{" not in text and "}" not in text


def test_every_metric_is_stated_once_in_its_section_and_checks_clean(metrics: Metrics, result) -> None:  # noqa: ANN001
    assert result.check.ok, [f.to_json() for f in result.check.findings if f.verdict in BAD_VERDICTS]
    supported = {(f.start, f.end): f.metric for f in result.check.findings if f.verdict == "supported"}
    for m in metrics.values:
        spans = [(a, b) for a, b, k in result.figures if k == m.key]
        assert len(spans) == 1, m.key
        a, b = spans[0]
        record = next(r for r in result.sentences if r.start <= a < r.end)
        assert record.section == m.section, m.key
        assert m.key in record.metric_keys
        assert supported[(a, b)] == m.key
    assert any("custom.village_posts" in w for w in result.warnings)


def test_a_metric_without_a_figure_is_left_out_with_a_warning(metrics: Metrics) -> None:
    from dataclasses import replace

    values = tuple(replace(m, value=None) if m.key == "militia.training_rate" else m for m in metrics.values)
    result = draft_report(replace(metrics, values=values))
    assert "参训率" not in result.text or "militia.training_rate" not in {k for _, _, k in result.figures}
    assert any("militia.training_rate" in w and "没有给出数值" in w for w in result.warnings)
    assert result.check.ok


def test_same_seed_same_draft_other_seeds_differ(metrics: Metrics, result) -> None:  # noqa: ANN001
    assert draft_report(metrics, seed=0).text == result.text
    texts = {draft_report(metrics, seed=s).text for s in range(1, 4)}
    assert result.text not in texts and len(texts) == 3


@dataclass
class WrongFigureEngine:
    """Writes a wrong figure and another county's name in every facet that states conscription."""

    name: str = "fake"
    concurrent: bool = True
    asked: int = 0

    def write_heading(self, request: HeadingRequest) -> str:
        return {"duty": "履职尽责，扛起政治责任", "systems": "落实制度，推动任务落地",
                "foundation": "夯实基础，强化保障能力"}.get(request.section_key, "")

    def write_facet(self, request: FacetRequest) -> FacetText:
        self.asked += 1
        body = "".join(f"落实{{{k}}}。" for k in request.metric_keys)
        if request.facet_id == "conscription":
            body = "向部队输送合格青年999人，远山县经验值得借鉴。" + "".join(
                f"其中{{{k}}}。" for k in request.metric_keys if k != "conscription.recruits")
        return FacetText(text=body)


def test_repair_loop_replaces_a_wrong_figure_and_the_final_draft_has_none(metrics: Metrics) -> None:
    engine = WrongFigureEngine()
    result = draft_report(metrics, engine=engine)
    assert result.check.ok
    assert "999" not in result.text and "远山县" not in result.text
    assert "215人" in result.text
    conscription = [r for r in result.repairs if r.facet == "conscription"]
    assert [r.action for r in conscription] == ["reask"] * MAX_REPAIRS + ["template"]
    assert any("999人" in p for p in conscription[0].problems)
    assert {r.facet for r in result.repairs} == {"conscription"}
    engines = {r.engine for r in result.sentences if r.facet == "conscription"}
    assert engines == {"template"}
    assert any(r.engine == "fake" for r in result.sentences)
    assert result.draft.engine == "fake"
    data = result.to_json()
    assert [r["action"] for r in data["repairs"]] == ["reask", "reask", "template"]


def test_an_unknown_placeholder_falls_back_to_the_template(metrics: Metrics) -> None:
    class Inventive(WrongFigureEngine):
        def write_facet(self, request: FacetRequest) -> FacetText:
            return FacetText(text="新建哨所{militia.outposts}个。" + "".join(f"落实{{{k}}}。" for k in request.metric_keys))

    result = draft_report(metrics, engine=Inventive())
    assert result.check.ok and "{" not in result.text
    assert all(r.engine == "template" for r in result.sentences if r.metric_keys)


class FakeIndex:
    """Answers every search with one generic chunk; no past reports."""

    def __init__(self) -> None:
        self.chunk = Chunk(chunk_id="远山-2023:3", doc_id="远山-2023", path="corpus/reports/x.txt",
                           text="一是坚持把国防教育与学校教育紧密结合起来，推动国防知识进课堂、进教材。",
                           region="远山县", year=2023, section_key="foundation", heading="", position=3)

    def search(self, query: str, *, k: int = 5, section: str | None = None, **_kw) -> list[SearchHit]:
        return [SearchHit(chunk=self.chunk, score=1.0)]

    def all_chunks(self, region: str | None = None, **_kw) -> list[Chunk]:
        return []

    def past_reports(self, region: str, before_year: int | None = None) -> list[tuple[str, int | None]]:
        return []


def test_corpus_provenance_reaches_draft_json(metrics: Metrics, tmp_path: Path) -> None:
    index = FakeIndex()
    used = None
    for seed in range(12):
        result = draft_report(metrics, index=index, seed=seed)
        used = next((r for r in result.sentences if r.sources), None)
        if used:
            break
    assert used is not None and used.sources == ("远山-2023:3",)
    write_draft_outputs(result, tmp_path / "o")
    data = json.loads((tmp_path / "o" / "draft.json").read_text(encoding="utf-8"))
    sentences = [s for section in data["sections"] for s in section["sentences"]]
    assert any(s["sources"] == ["远山-2023:3"] for s in sentences)
    assert all(data["figures"][i]["text"] for i in range(len(data["figures"])))
    assert data["check"]["summary"]["contradicted"] == 0


# --------------------------------------------------------------------------- outputs and CLI

def test_cli_draft_writes_the_four_files(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    assert run(["draft", str(METRICS), "-o", str(out), "--seed", "3"]) == 0
    assert {p.name for p in out.iterdir()} == OUTPUTS
    md = (out / "draft.md").read_text(encoding="utf-8")
    assert md.startswith("# 青岚县2024年度党管武装工作述职报告")
    data = json.loads((out / "draft.json").read_text(encoding="utf-8"))
    assert data["seed"] == 3 and data["engine"] == "template"
    assert {s["key"] for s in data["sections"]} >= {"opening", "duty", "systems", "foundation", "plans", "closing"}
    assert any(s["metric_keys"] for sec in data["sections"] for s in sec["sentences"])
    assert "<html" in (out / "check.html").read_text(encoding="utf-8").lower()
    assert "已写出" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["out"]          # no staging folder left behind


def test_cli_annotate_writes_a_review_copy_with_comments(tmp_path: Path) -> None:
    import zipfile

    out = tmp_path / "out"
    assert run(["draft", str(METRICS), "-o", str(out), "--annotate"]) == 0
    assert {p.name for p in out.iterdir()} == OUTPUTS | {"draft-review.docx"}
    with zipfile.ZipFile(out / "draft-review.docx") as docx:
        comments = docx.read("word/comments.xml").decode("utf-8")
    assert "conscription.recruits" in comments and "输送合格青年" in comments
    with zipfile.ZipFile(out / "draft.docx") as docx:
        assert "word/comments.xml" not in docx.namelist()


def test_cli_bad_metrics_file_gives_a_clear_error_and_writes_nothing(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.yaml"
    bad.write_text(METRICS.read_text(encoding="utf-8").replace("{value: 215, previous: 198}", "{value: 很多}"),
                   encoding="utf-8")
    out = tmp_path / "out"
    code = run(["draft", str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    assert "bad.yaml" in err and "conscription.recruits" in err
    assert not out.exists()
    assert run(["draft", str(tmp_path / "missing.yaml"), "-o", str(out)]) == 2
    assert not out.exists()


def test_outputs_are_replaced_as_a_set_or_not_at_all(result, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    write_draft_outputs(result, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import pipeline.output.check_html

    def broken(*_a, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline.output.check_html, "render_check_html", broken)
    other = draft_report(result.metrics, seed=5)
    with pytest.raises(RuntimeError):
        write_draft_outputs(other, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with pytest.raises(RuntimeError):
        write_draft_outputs(other, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_cli_demo_runs_offline(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "demo"
    assert run(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "检索示例" in printed and "核对" in printed and "已写出" in printed
    assert OUTPUTS <= {p.name for p in out.iterdir()}
    assert (out / "index").is_dir()
    # a second run reuses the unchanged index
    assert run(["demo", "--out", str(out)]) == 0
    assert "未变" in capsys.readouterr().out


def test_draft_json_gives_each_sentence_its_keys_sources_and_findings(result) -> None:  # noqa: ANN001
    data = result.to_json()
    sentences = [s for section in data["sections"] for s in section["sentences"]]
    recruits = next(s for s in sentences if "conscription.recruits" in s["metric_keys"])
    assert {"text": "215人", "verdict": "supported", "metric": "conscription.recruits"} in recruits["findings"]
    assert all(result.text[s["start"]:s["end"]] == s["text"] for s in sentences)


def test_review_blocks_comment_exactly_the_figures(result) -> None:  # noqa: ANN001
    blocks = draft_to_blocks(result, comments=True)
    commented = [(b.text[a:e], note) for b in blocks for a, e, note in b.comments]
    # The summary on the title, then every finding of the check (figures and names) on its characters.
    assert commented[0] == (result.draft.title, commented[0][1]) and commented[0][1].startswith("核对结果：")
    assert [text for text, _ in commented[1:]] == [f.text for f in result.check.findings]
    figures = {result.text[a:e] for a, e, _ in result.figures}
    assert figures <= {text for text, _ in commented}
    recruits = next(note for text, note in commented if "conscription.recruits" in note)
    assert recruits.startswith("【有据】指标：输送合格青年（conscription.recruits）；数据：") and "上年：" in recruits
    assert not any("/" in note or "\\" in note or ".yaml" in note for _, note in commented)   # never a path
    assert [b.style for b in blocks][:3] == ["title", "body", "h1"]
    assert [b.style for b in blocks][-2:] == ["signature", "date"]
    assert not any(b.comments for b in draft_to_blocks(result))


# --------------------------------------------------------------------------- progress, headings, plans

SECTION_ORDER = ["opening", "duty", "systems", "foundation", "plans", "closing"]


def _section_events(events: list[DraftEvent]) -> list[tuple[str, str | None]]:
    return [(e.kind, e.section) for e in events if e.kind.startswith("section_")]


def test_progress_reports_each_section_start_and_done_in_order(metrics: Metrics) -> None:
    events: list[DraftEvent] = []
    draft_report(metrics, progress=events.append)
    assert all(isinstance(e, DraftEvent) and isinstance(e, str) and e.kind in EVENT_KINDS for e in events)
    assert _section_events(events) == [(k, s) for s in SECTION_ORDER for k in ("section_start", "section_done")]
    starts = [e for e in events if e.kind == "section_start"]
    assert [(e.index, e.total) for e in starts] == [(i, 6) for i in range(1, 7)]
    assert str(starts[1]) == "开始写：履职（2/6）"
    assert events[-1].kind == "done" and events[-1].section is None and "起草完成" in events[-1]


def test_progress_with_a_concurrent_engine_starts_each_section_once_before_it_is_done(metrics: Metrics) -> None:
    events: list[DraftEvent] = []
    engine = WrongFigureEngine()
    assert engine.concurrent
    draft_report(metrics, engine=engine, progress=events.append)
    pairs = _section_events(events)
    for key in SECTION_ORDER:
        mine = [kind for kind, section in pairs if section == key]
        assert mine == ["section_start", "section_done"], key
    repairs = [e for e in events if e.kind == "repair"]
    assert repairs and all(e.section == "systems" and e.facet == "conscription" for e in repairs)
    assert events[-1].kind == "done"


@dataclass
class RecordingEngine(WrongFigureEngine):
    """Writes clean facets, records every request; `heading` (when set) is its answer for every section."""

    heading: str = ""
    concurrent: bool = False

    def __post_init__(self) -> None:
        self.facets: list[FacetRequest] = []
        self.headings: list[HeadingRequest] = []

    def write_heading(self, request: HeadingRequest) -> str:
        self.headings.append(request)
        return self.heading or super().write_heading(request)

    def write_facet(self, request: FacetRequest) -> FacetText:
        self.facets.append(request)
        return FacetText(text="".join(f"落实{{{k}}}。" for k in request.metric_keys))


def test_facet_requests_carry_their_sections_heading(metrics: Metrics) -> None:
    engine = RecordingEngine()
    result = draft_report(metrics, engine=engine)
    headings = {s.key: s.heading for s in result.draft.sections if s.numbered}
    assert headings["duty"] == "履职尽责，扛起政治责任"
    for request in engine.facets:
        assert request.section_heading == headings.get(request.section_key, ""), request.facet_id


def test_an_engine_repeating_a_heading_gets_the_templates_instead(metrics: Metrics) -> None:
    engine = RecordingEngine(heading="坚持党管武装，扛起政治责任")
    result = draft_report(metrics, engine=engine, seed=2)
    headings = [s.heading for s in result.draft.sections if s.numbered]
    assert headings[0] == "坚持党管武装，扛起政治责任"
    assert len(set(headings)) == len(headings) == 3
    assert any("标题与前文重复" in w for w in result.warnings)


class HeadingIndex(FakeIndex):
    def all_chunks(self, region: str | None = None, **_kw) -> list[Chunk]:
        def chunk(i: int, section: str, heading: str) -> Chunk:
            return Chunk(chunk_id=f"d:{i}", doc_id="d", path="x.txt", text="正文。", region="远山县", year=2023,
                         section_key=section, heading=heading, position=i)

        return [chunk(1, "duty", "一、提高站位，扛牢党管武装政治责任"), chunk(2, "duty", "一、提高站位，扛牢党管武装政治责任"),
                chunk(3, "systems", "二、健全制度，推动武装工作落实"), chunk(4, "systems", "二、第3次会议")]


def test_heading_requests_carry_past_headings_of_their_section(metrics: Metrics) -> None:
    engine = RecordingEngine()
    draft_report(metrics, engine=engine, index=HeadingIndex())
    by_section = {r.section_key: r.exemplars for r in engine.headings}
    assert by_section["duty"] == ("提高站位，扛牢党管武装政治责任",)
    assert by_section["systems"] == ("健全制度，推动武装工作落实",)       # numbered/figured headings left out
    assert by_section["foundation"] == ()


def test_reuse_corpus_false_keeps_corpus_sentences_out(metrics: Metrics) -> None:
    index = FakeIndex()
    for seed in range(12):
        result = draft_report(metrics, index=index, seed=seed, reuse_corpus=False)
        assert not any(r.sources for r in result.sentences)
        assert index.chunk.text[2:] not in result.text


def test_cli_no_corpus_flag_reaches_the_drafter(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import pipeline.drafting.draft

    seen: dict[str, object] = {}
    real = pipeline.drafting.draft.draft_report

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline.drafting.draft, "draft_report", spy)
    assert run(["draft", str(METRICS), "-o", str(tmp_path / "a"), "--no-corpus"]) == 0
    assert seen["reuse_corpus"] is False
    assert run(["draft", str(METRICS), "-o", str(tmp_path / "b")]) == 0
    assert seen["reuse_corpus"] is True


@pytest.mark.parametrize(
    ("lead", "plan", "expected"),
    [
        ("完善征兵工作机制，推动征兵工作提质增效。", "力争征兵“五率”考评保持全市前列",
         "完善征兵工作机制，推动征兵工作提质增效，力争征兵“五率”考评保持全市前列。"),
        # the target's verb is already in the last clause: that clause gives way
        ("加强国防教育基地建设，推动国防教育常态化开展。", "推动国防教育馆与中小学研学实践深度融合",
         "加强国防教育基地建设，推动国防教育馆与中小学研学实践深度融合。"),
        ("围绕应急处突任务，提升快速反应能力。", "民兵专业分队训练达标率全面提升",
         "围绕应急处突任务，确保民兵专业分队训练达标率全面提升。"),
        ("推动国防教育常态化开展。", "推动国防教育馆建设", "推动国防教育常态化开展。推动国防教育馆建设。"),
        ("严格民兵整组标准，推动民兵组织编实建强。", "建成县级国防教育馆",
         "严格民兵整组标准，推动民兵组织编实建强，建成县级国防教育馆。"),
        ("", "建成县级国防教育馆。", "建成县级国防教育馆。"),
    ],
)
def test_join_plan(lead: str, plan: str, expected: str) -> None:
    assert join_plan(lead, plan) == expected


class FlakyIndex(FakeIndex):
    """Raises on the first `failures` searches, then answers like FakeIndex; counts every search."""

    def __init__(self, failures: int = 1) -> None:
        super().__init__()
        self.failures = failures
        self.searches = 0

    def search(self, query: str, *, k: int = 5, section: str | None = None, **_kw) -> list[SearchHit]:
        self.searches += 1
        if self.failures > 0:
            self.failures -= 1
            raise OSError("索引文件被占用")
        return super().search(query, k=k, section=section)


def test_a_failed_search_costs_only_the_current_draft_its_exemplars(metrics: Metrics) -> None:
    # A batch worker keeps one index for thousands of drafts: one transient error must not leave
    # every later draft without exemplars.
    index = FlakyIndex(failures=1)
    first_engine, second_engine = RecordingEngine(), RecordingEngine()
    first = draft_report(metrics, engine=first_engine, index=index)
    failed = [w for w in first.warnings if "检索范文失败" in w]
    assert len(failed) == 1 and "索引文件被占用" in failed[0]          # warned once, not per facet
    assert index.searches == 1                                          # no retry within the draft
    assert first_engine.facets and all(r.exemplars == () for r in first_engine.facets)

    second = draft_report(metrics, engine=second_engine, index=index)
    assert not any("检索范文失败" in w for w in second.warnings)
    asked = [r for r in second_engine.facets if r.section_key != "plans"]
    assert asked and all(r.exemplars == (index.chunk,) for r in asked)
    searches = index.searches
    draft_report(metrics, engine=RecordingEngine(), index=index)
    assert index.searches == searches                                   # successes are cached per index
