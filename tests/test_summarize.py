"""`shuzhi summarize`: extractive points are verbatim with their figures; abstractive answers are
checked figure by figure against the source."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.drafting.summarize import summarize_report, unsupported_figures
from pipeline.facts.quantities import extract_quantities
from pipeline.reading.parse import parse_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "llm" / "summary_report.txt"
CORPUS_REPORTS = sorted((ROOT / "corpus" / "reports").glob("*.*"))


@pytest.fixture(scope="module")
def report():
    return parse_file(FIXTURE)


@pytest.mark.parametrize("path", [FIXTURE, *CORPUS_REPORTS], ids=lambda p: p.name)
@pytest.mark.parametrize("n", [1, 3])
def test_extractive_points_are_verbatim_with_their_figures(path, n):
    report = parse_file(path)
    summary = summarize_report(report, n)
    assert summary.sections
    for section in summary.sections:
        assert 1 <= len(section.points) <= n
        starts = [p.start for p in section.points]
        assert starts == sorted(starts)                        # original order
        for point in section.points:
            assert report.text[point.start:point.end] == point.text
            for figure in point.figures:
                assert point.start <= figure.start < figure.end <= point.end
                assert report.text[figure.start:figure.end] == figure.text
            # every measuring figure of the sentence is carried, none invented
            found = [q.text for q in extract_quantities(point.text) if q.kind not in ("year", "date", "ordinal")]
            assert [f.text for f in point.figures] == found


def test_extractive_prefers_sentences_with_figures(report):
    summary = summarize_report(report, 1)
    by_key = {s.key: [p.text for p in s.points] for s in summary.sections}
    assert by_key["duty"] == ["全年召开县委常委会专题研究武装工作4次，组织议军会2次，协调解决实际问题11个。"]
    assert by_key["foundation"] == ["县财政落实社会聘用人员经费48万元，投入160万元改造营区。"]
    assert "closing" not in by_key                                 # the closing formula is no key point
    assert all("现将履职情况报告如下" not in t for texts in by_key.values() for t in texts)


def test_summary_json_shape(report):
    data = summarize_report(report, 2).to_json()
    assert (data["title"], data["year"], data["region"]) == ("松岭县2024年度党管武装工作述职报告", 2024, "松岭县")
    systems = next(s for s in data["sections"] if s["key"] == "systems")
    assert systems["heading"] == "二、狠抓制度落实，推动武装工作提质增效"
    point = systems["points"][0]
    assert set(point) == {"text", "start", "end", "figures"}
    assert [f["text"] for f in point["figures"]] == ["12个", "30个", "1350人", "2.1万人"]
    assert (point["figures"][3]["value"], point["figures"][3]["unit"]) == ("21000", "人")


# --------------------------------------------------------------------------- abstractive

class FakeEngine:
    """Answers each section with canned lines; records what it was asked."""

    profile = "dangguan-wuzhuang"

    def __init__(self, answers: dict[str, str], default: str = "") -> None:
        self.answers = answers
        self.default = default
        self.prompts: list[str] = []

    def complete(self, messages: Sequence[tuple[str, str]], *, seed: int = 0) -> str:
        user = messages[-1][1]
        self.prompts.append(user)
        return next((text for marker, text in self.answers.items() if marker in user), self.default)


@pytest.mark.parametrize(
    ("sentence", "bad"),
    [
        ("全县输送合格青年215人，大学生比例61％。", []),
        ("普通民兵21000人。", []),                       # 2.1万人 in the source, another unit
        ("输送合格青年215名。", []),                       # same figure, synonym unit
        ("输送合格青年230人。", ["230人"]),
        ("大学生征集比例达到65％。", ["65％"]),
        ("投入85万元，补助150名退役士兵。", ["150名"]),
        ("五率考评位居全市第一。", ["第一"]),           # the source says 第二
        ("2025年召开议军会2次。", ["2025年"]),
        ("召开议军会12次。", ["12次"]),            # 12 is in the source, but as 12个 (乡镇)
    ],
)
def test_unsupported_figures(report, sentence, bad):
    source = extract_quantities(report.text)
    assert [q.text for q in unsupported_figures(sentence, source)] == bad


def test_abstractive_drops_sentences_with_figures_not_in_source(report):
    engine = FakeEngine({
        "狠抓制度落实": "1. 编组基干民兵1350人，普通民兵2.1万人。\n2. 向部队输送合格青年230人。\n"
                      "3. 拨付85万元补助140名退役士兵自谋职业。",
        "扛牢政治责任": "**召开常委会专题研究武装工作4次，议军会2次。**",
    }, default="全面完成年度各项任务。")
    summary = summarize_report(report, 3, engine=engine)
    by_key = {s.key: s for s in summary.sections}
    systems = by_key["systems"]
    assert systems.mode == "abstractive"
    assert [p.text for p in systems.points] == ["编组基干民兵1350人，普通民兵2.1万人。",
                                               "拨付85万元补助140名退役士兵自谋职业。"]
    assert len(systems.dropped) == 1 and "230人" in systems.dropped[0]
    assert all(p.start is None for p in systems.points)
    assert [p.text for p in by_key["duty"].points] == ["召开常委会专题研究武装工作4次，议军会2次。"]
    # the prompt carried the section's own text and the number of points
    prompt = next(p for p in engine.prompts if "狠抓制度落实" in p)
    assert "向部队输送合格青年215人" in prompt and "3个要点" in prompt


def test_abstractive_section_with_nothing_left_falls_back_to_extractive(report):
    engine = FakeEngine({"夯实基础保障": "投入300万元改造营区。"}, default="全面完成年度各项任务。")
    summary = summarize_report(report, 1, engine=engine)
    foundation = next(s for s in summary.sections if s.key == "foundation")
    assert foundation.mode == "fallback"
    assert [p.text for p in foundation.points] == ["县财政落实社会聘用人员经费48万元，投入160万元改造营区。"]
    assert report.text[foundation.points[0].start:foundation.points[0].end] == foundation.points[0].text


# --------------------------------------------------------------------------- CLI

def test_cli_text_output(capsys):
    assert run(["summarize", str(FIXTURE), "-n", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "松岭县2024年度党管武装工作述职报告（2024年度　松岭县）"
    assert "二、狠抓制度落实，推动武装工作提质增效" in out
    assert "  · 对12个乡镇、30个机关及企事业单位民兵进行编组，基干民兵精简至1350人，普通民兵2.1万人。" in out
    assert "【下步打算】" in out


def test_cli_json_output(capsys):
    assert run(["summarize", str(FIXTURE), "--json", "-n", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["key"] for s in data["sections"]] == ["opening", "duty", "systems", "foundation", "plans"]
    assert all(len(s["points"]) <= 2 for s in data["sections"])


def test_cli_missing_file(capsys, tmp_path):
    code = run(["summarize", str(tmp_path / "missing.txt")])
    assert code != 0
    assert "missing.txt" in capsys.readouterr().err


def test_cli_unknown_engine(capsys):
    assert run(["summarize", str(FIXTURE), "--engine", "gpt"]) == 2
    assert "未知的生成引擎" in capsys.readouterr().err


@pytest.fixture
def summary_server(monkeypatch):
    """An OpenAI-compatible loopback server that summarises every section with one good and one
    invented figure."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHUZHI_LLM_RETRIES", "0")
    answer = "向部队输送合格青年215人。\n大学生征集比例达到75％。"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            data = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": answer}}]},
                              ensure_ascii=False).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_cli_abstractive_with_openai_engine(summary_server, capsys):
    assert run(["summarize", str(FIXTURE), "--json", "--engine", f"openai:{summary_server}#m"]) == 0
    captured = capsys.readouterr()
    sections = {s["key"]: s for s in json.loads(captured.out)["sections"]}
    systems = sections["systems"]
    assert systems["mode"] == "abstractive"
    assert [p["text"] for p in systems["points"]] == ["向部队输送合格青年215人。"]
    assert "75％" in systems["dropped"][0]
    # 215人 is not in the 开头 section: every sentence there fails, the section falls back to extractive
    assert sections["opening"]["mode"] == "fallback"
    assert "已删去（数字与原文不符）：大学生征集比例达到75％。" in captured.err


def test_summarize_file_offsets_point_into_the_file(tmp_path: Path) -> None:
    from pipeline.drafting.summarize import summarize_file
    from pipeline.reading.readers import read_text

    lines = FIXTURE.read_text("utf-8").split("\n")
    path = tmp_path / "indented.txt"
    path.write_text("\n\n".join("\u3000\u3000" + line for line in lines), encoding="utf-8")
    _report, summary = summarize_file(str(path))
    text = read_text(path)
    points = [p for s in summary.sections for p in s.points]
    assert points
    for point in points:
        assert text[point.start:point.end] == point.text
        for figure in point.figures:
            assert text[figure.start:figure.end] == figure.text
