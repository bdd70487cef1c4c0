"""pipeline.draft and the `draft`/`demo` commands: golden draft, coverage, repairs, outputs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.draft import MAX_REPAIRS, draft_report, draft_to_markdown, write_draft_outputs
from pipeline.engines.base import FacetRequest, FacetText, HeadingRequest
from pipeline.metrics import load_metrics
from pipeline.models import BAD_VERDICTS, Chunk, Metrics, SearchHit

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
    assert lines[0] == "2024年度党管武装工作述职报告"
    assert lines[1].startswith(("2024年以来，在市委、市政府和军分区党委", "一年来，在市委、市政府和军分区党委"))
    assert lines[1].endswith("如下：")
    headings = [line for line in lines if line[:2] in ("一、", "二、", "三、")]
    assert len(headings) == 3 and all("，" in h for h in headings)
    assert sum(line.startswith("一是") for line in lines) == 4          # three sections + plans
    assert "二是" in text and "三是" in text
    assert "我的述职完毕，不妥之处，请各位领导批评指正。" in lines
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
    assert md.startswith("# 2024年度党管武装工作述职报告")
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

    import pipeline.check_html

    def broken(*_a, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline.check_html, "render_check_html", broken)
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
    from pipeline.draft import draft_to_blocks

    blocks = draft_to_blocks(result, comments=True)
    commented = [(b.text[a:e], note) for b in blocks for a, e, note in b.comments]
    expected = [result.text[a:e] for a, e, _ in sorted(result.figures)]
    assert [text for text, _ in commented] == expected
    assert all(note.startswith("指标 ") for _, note in commented)
    assert [b.style for b in blocks][:3] == ["title", "body", "h1"]
    assert [b.style for b in blocks][-2:] == ["signature", "date"]
    assert not any(b.comments for b in draft_to_blocks(result))
