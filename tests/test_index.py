"""Tests for pipeline/index.py and the `ingest`/`search` commands (fictional counties only)."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.errors import IndexLockedError, InputError, UsageError
from pipeline.index import hybrid as index_mod
from pipeline.index import retrieval as retrieval_mod
from pipeline.index.hybrid import HybridIndex
from pipeline.index.retrieval import ShuzhiRetriever, chunk_report
from pipeline.models import Report, Section

QITONG_2023 = """栖桐县2023年度党管武装工作述职报告
2023年以来，在市委、市政府和军分区党委的正确领导下，我认真履行县人武部党委第一书记职责，栖桐县党管武装工作取得新进展。现将履职情况报告如下：
一、强化政治引领，扛牢党管武装责任
一是坚持学习强军思想。全年组织县委理论学习中心组专题学习党管武装理论4次。二是坚持议军会制度。召开议军会2次，协调解决武装工作实际问题6个。
二、坚持制度落实，推动武装任务落地
全年围绕民兵、征兵和双拥三项重点任务推进工作。一是扎实开展民兵整组。完成12个乡镇民兵整组，基干民兵编组1380人。二是高质量完成征兵任务。在3所高中设立征兵工作站，输送合格青年215人。三是深化双拥共建。走访慰问驻地部队和优抚对象18次，发放慰问金22万元。
三、夯实基础建设，提升保障水平
一是落实经费保障。县财政安排社会聘用人员经费36万元。二是加强国防教育。开展国防教育活动25场次，受教育群众1.2万人次。
一年来，工作虽有进步，但与上级要求相比仍有差距。下步，一是进一步抓好民兵训练。二是进一步做好征兵宣传。
我的述职完毕，不妥之处，请各位领导批评指正。
"""

YANCHENG_2022 = """雁澄区2022年度党管武装工作述职报告
2022年，在市委和军分区党委的坚强领导下，我坚持把党管武装作为分内之事，雁澄区武装工作稳中有进。现将有关情况报告如下：
一、坚持学习领会，增强履职本领
一是带头学习。全年参加理论学习中心组学习3次，专题研讨国防动员体制改革。二是带头调研。深入街道武装部调研5次，现场解决营房维修难题。
二、坚持真抓实干，落实各项制度
一是民兵应急连建设规范。组建民兵应急连2个，开展夜间拉动演练，参训率达到96％。二是兵员征集质量提升。依托高校开展参军宣传，大学生征集比例占78％。三是退役军人服务保障到位。妥善安置退役士兵士官64名。
三、坚持固本强基，夯实保障基础
一是落实人武部基础设施投入120万元，改造训练场。二是全民国防教育深入人心，举办国防知识进校园活动18场次。
我的述职完毕，不妥之处，请各位领导批评指正。
"""

CHANGED_2023 = QITONG_2023.replace(
    "一是扎实开展民兵整组。完成12个乡镇民兵整组，基干民兵编组1380人。",
    "一是民兵整组提质增效。围绕海岸巡逻需求调整编组，组建渔船民兵分队4支。",
)


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    _write(folder, "qitong-2023.txt", QITONG_2023)
    _write(folder / "nested", "yancheng-2022.txt", YANCHENG_2022)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> HybridIndex:
    """One shared index for the read-only tests (ingest is the slow part)."""
    root = tmp_path_factory.mktemp("built")
    folder = root / "reports"
    _write(folder, "qitong-2023.txt", QITONG_2023)
    _write(folder, "yancheng-2022.txt", YANCHENG_2022)
    index = HybridIndex.open(root / "index")
    # With the optional local Chroma mirror, so the Chroma `where` path can be compared too.
    os.environ[index_mod.LOCAL_CHROMA_ENV] = "1"
    try:
        summary = index.ingest([folder])
    finally:
        del os.environ[index_mod.LOCAL_CHROMA_ENV]
    assert len(summary.added) == 2 and not summary.failed
    return HybridIndex.open(root / "index", read_only=True)


def _texts(index: HybridIndex) -> list[str]:
    return [c.text for c in index.all_chunks()]


# --------------------------------------------------------------------------- chunking

def test_chunk_report_cuts_subpoints_and_keeps_lead_in() -> None:
    report = Report(
        source="x/栖桐-2021.txt", title=None, year=None, region="栖桐县", text="",
        sections=(
            Section("systems", "二、坚持制度", 1,
                    ("按照原则推进各项工作落实。一是抓民兵。民兵整组完成。二是抓征兵。征兵任务完成。",),
                    ("抓民兵。民兵整组完成。", "抓征兵。征兵任务完成。")),
            Section("closing", "", 1, ("我的述职完毕，请批评指正。",)),
        ),
        doc_id="abc",
    )
    chunks = chunk_report(report)
    assert [c.text for c in chunks] == [
        "按照原则推进各项工作落实。", "抓民兵。民兵整组完成。", "抓征兵。征兵任务完成。", "我的述职完毕，请批评指正。",
    ]
    assert [c.chunk_id for c in chunks] == ["abc:0", "abc:1", "abc:2", "abc:3"]
    assert [c.section_key for c in chunks] == ["systems", "systems", "systems", "closing"]
    assert all(c.year == 2021 and c.region == "栖桐县" for c in chunks)   # year from the file name


def test_chunk_report_splits_overlong_passage_at_sentences() -> None:
    sentence = "坚持把党管武装工作摆上重要位置，" * 6 + "推动各项任务落实。"
    body = sentence * 8
    report = Report(source="a.txt", title=None, year=2022, region=None, text="",
                    sections=(Section("duty", "一、履职", 1, (body,)),), doc_id="d")
    chunks = chunk_report(report)
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == body
    assert all(len(c.text) <= retrieval_mod.MAX_CHUNK_CHARS for c in chunks)


def test_chunk_report_merges_table_rows_into_one_passage() -> None:
    paragraphs = ("全年主要工作数据如下：", "项目 2023年", "基干民兵 1176人", "输送合格青年 183人",
                  "民兵队伍建设规范有序。完成民兵整组。")
    report = Report(source="b.docx", title=None, year=2023, region=None, text="",
                    sections=(Section("systems", "二、制度", 1, paragraphs),), doc_id="t")
    assert [c.text for c in chunk_report(report)] == [
        "全年主要工作数据如下：", "项目 2023年\n基干民兵 1176人\n输送合格青年 183人", "民兵队伍建设规范有序。完成民兵整组。",
    ]


# --------------------------------------------------------------------------- ingest

def test_ingest_reingest_change_and_rebuild(reports: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(index_mod.LOCAL_CHROMA_ENV, "1")
    index = HybridIndex.open(tmp_path / "idx")
    first = index.ingest([reports])
    assert len(first.added) == 2 and first.chunks == len(index) > 10 and first.documents == 2
    state_before = (tmp_path / "idx" / "state.json").read_text(encoding="utf-8")

    again = index.ingest([reports])
    assert again.added == () and again.replaced == () and len(again.unchanged) == 2
    assert (tmp_path / "idx" / "state.json").read_text(encoding="utf-8") == state_before  # no new commit

    _write(reports, "qitong-2023.txt", CHANGED_2023)
    changed = index.ingest([reports])
    assert changed.replaced == (str(reports / "qitong-2023.txt"),) and len(changed.unchanged) == 1
    assert changed.chunks == first.chunks == len(index)
    texts = _texts(index)
    assert not any("基干民兵编组1380人" in t for t in texts)
    assert any("渔船民兵分队4支" in t for t in texts)
    assert len(index.documents()) == 2
    # The old passage is gone from both retrievers, not only from the store.
    for mode in ("bm25", "vector", "hybrid"):
        hits = index.search("基干民兵编组1380人", k=20, mode=mode)
        assert not any("1380" in h.chunk.text for h in hits), mode
    assert HybridIndex.open(tmp_path / "idx")._chroma().count() == len(index)

    rebuilt = index.ingest([reports / "nested"], rebuild=True)
    assert len(rebuilt.added) == 1 and rebuilt.documents == 1
    assert {c.region for c in index.all_chunks()} == {"雁澄区"}
    assert HybridIndex.open(tmp_path / "idx")._chroma().count() == len(index)


def test_touched_file_is_unchanged_and_then_skipped_without_parsing(reports: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    index = HybridIndex.open(tmp_path / "idx")
    index.ingest([reports])
    target = reports / "qitong-2023.txt"
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    touched = index.ingest([reports])
    assert len(touched.unchanged) == 2 and touched.added == () and touched.replaced == ()

    import pipeline.reading.parse

    def refuse(path):
        raise AssertionError(f"parsed {path} although size and time are unchanged")

    monkeypatch.setattr(pipeline.reading.parse, "parse_file", refuse)
    assert len(index.ingest([reports]).unchanged) == 2


def test_big_ingest_writes_vectors_from_a_child_process(reports: Path, tmp_path: Path, monkeypatch) -> None:
    # A batch that fills mid-ingest starts the Chroma writer process; 3 forces it on this tiny set.
    import pipeline.index.vectors

    monkeypatch.setattr(pipeline.index.vectors, "CHROMA_BATCH", 3)
    monkeypatch.setenv(index_mod.LOCAL_CHROMA_ENV, "1")
    index = HybridIndex.open(tmp_path / "idx")
    summary = index.ingest([reports])
    assert len(summary.added) == 2 and not summary.failed
    assert index._chroma().count() == len(index)
    _write(reports, "qitong-2023.txt", CHANGED_2023)
    assert len(index.ingest([reports]).replaced) == 1
    assert index._chroma().count() == len(index)
    hits = index.search("渔船民兵分队", k=3, mode="vector")
    assert any("渔船民兵分队4支" in h.chunk.text for h in hits)
    assert not any("1380" in h.chunk.text for h in index.search("基干民兵编组1380人", k=20, mode="vector"))


def test_documents_and_all_chunks_filters(built: HybridIndex) -> None:
    docs = built.documents()
    assert [(d["region"], d["year"]) for d in docs] == [("栖桐县", 2023), ("雁澄区", 2022)]
    assert all(d["chunks"] > 0 and d["doc_id"] and "systems" in d["sections"] for d in docs)
    assert all(c.region == "雁澄区" for c in built.all_chunks(region="雁澄区"))
    assert {c.section_key for c in built.all_chunks(section="plans")} == {"plans"}
    assert built.all_chunks(year=1999) == []
    assert len(built) == len(built.all_chunks())


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "vector"])
def test_search_finds_the_passage(built: HybridIndex, mode: str) -> None:
    hits = built.search("征兵工作站 输送合格青年", k=3, mode=mode)
    assert hits and "输送合格青年215人" in hits[0].chunk.text
    if mode == "hybrid":
        assert hits[0].bm25_rank == 1 and hits[0].vector_rank is not None
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        ({"region": "雁澄区"}, lambda c: c.region == "雁澄区"),
        ({"year": 2023}, lambda c: c.year == 2023),
        ({"section": "foundation"}, lambda c: c.section_key == "foundation"),
        ({"section": "systems", "region": "栖桐县", "year": 2023},
         lambda c: (c.section_key, c.region, c.year) == ("systems", "栖桐县", 2023)),
    ],
)
@pytest.mark.parametrize("mode", ["hybrid", "bm25", "vector"])
def test_filters_apply_to_every_retriever(built: HybridIndex, filters: dict, check, mode: str) -> None:
    hits = built.search("民兵 征兵 国防教育 学习", k=10, mode=mode, **filters)
    assert hits
    assert all(check(h.chunk) for h in hits)


@pytest.mark.parametrize("filters", [{"region": "雁澄区"}, {"section": "systems", "year": 2023}])
def test_chroma_where_filter_agrees_with_the_sidecar(built: HybridIndex, filters: dict, monkeypatch) -> None:
    monkeypatch.setenv(index_mod.LOCAL_CHROMA_ENV, "1")
    sidecar = [h.chunk.chunk_id for h in built.search("民兵 征兵 国防教育", k=5, mode="vector", **filters)]
    try:
        built.filter_in_chroma = True
        chroma = [h.chunk.chunk_id for h in built.search("民兵 征兵 国防教育", k=5, mode="vector", **filters)]
    finally:
        built.filter_in_chroma = False
    assert chroma and chroma == sidecar


def test_search_edge_cases(built: HybridIndex) -> None:
    assert built.search("   ") == []
    assert built.search("民兵", k=0) == []
    assert built.search("民兵", region="不存在县") == []
    with pytest.raises(UsageError, match="检索方式"):
        built.search("民兵", mode="dense")


def test_langchain_retriever_returns_documents(built: HybridIndex) -> None:
    retriever = ShuzhiRetriever(index=built, k=2, section="systems")
    docs = retriever.invoke("双拥 走访慰问驻地部队")
    assert 1 <= len(docs) <= 2
    assert "走访慰问驻地部队" in docs[0].page_content
    meta = docs[0].metadata
    assert meta["section"] == "systems" and meta["region"] == "栖桐县" and meta["year"] == 2023
    assert meta["chunk_id"].startswith(meta["doc_id"] + ":")


# --------------------------------------------------------------------------- bad input

def test_folder_ingest_continues_past_bad_files(reports: Path, tmp_path: Path, capsys) -> None:
    (reports / "broken.docx").write_bytes(b"this is not a zip archive")
    (reports / "empty.txt").write_text("", encoding="utf-8")
    code = run(["ingest", str(reports), str(tmp_path / "missing.txt"), "--index", str(tmp_path / "idx")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "新增 2" in out and "失败 3" in out
    assert "broken.docx" in err and "empty.txt" in err and "missing.txt" in err
    assert len(HybridIndex.open(tmp_path / "idx")) > 0      # the good files went in


def test_unsupported_file_named_explicitly_fails_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    summary = HybridIndex.open(tmp_path / "idx").ingest([bad])
    assert summary.failed and summary.failed[0][0] == str(bad)
    assert not (tmp_path / "idx").exists()      # nothing committed, nothing left behind


def test_missing_path_creates_nothing(tmp_path: Path, capsys) -> None:
    code = run(["ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")])
    assert code == 1
    assert "不存在" in capsys.readouterr().err
    assert not (tmp_path / "idx").exists()


def test_index_path_under_a_regular_file_is_refused(reports: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="不是文件夹") as info:
        HybridIndex.open(blocker / "idx").ingest([reports])
    assert str(blocker / "idx") in str(info.value)
    with pytest.raises(InputError, match="不是文件夹"):
        HybridIndex.open(blocker).ingest([reports])


def test_unwritable_index_dir_is_refused_before_writing(reports: Path, tmp_path: Path, monkeypatch) -> None:
    # Running as root, chmod does not block writes; simulate the permission answer instead.
    target = tmp_path / "ro"
    target.mkdir()
    real_access = os.access
    monkeypatch.setattr(index_mod.os, "access", lambda p, mode: False if Path(p) == target else real_access(p, mode))
    with pytest.raises(InputError, match="不可写"):
        HybridIndex.open(target).ingest([reports])
    assert list(target.iterdir()) == []


def test_second_ingest_is_refused_while_lock_is_held(reports: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    idx.mkdir()
    # flock locks belong to the open file description, so a second open in this process conflicts
    # exactly as another process would.
    with open(idx / ".lock", "a+") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(IndexLockedError, match="另一个 ingest 正在使用索引"):
            HybridIndex.open(idx, lock_timeout=0).ingest([reports])
    assert not (idx / "state.json").exists()
    assert len(HybridIndex.open(idx, lock_timeout=0).ingest([reports]).added) == 2   # released: works


def test_embedders_are_not_mixed(reports: Path, tmp_path: Path) -> None:
    HybridIndex.open(tmp_path / "idx").ingest([reports / "nested"])
    with pytest.raises(UsageError, match="--rebuild"):
        HybridIndex.open(tmp_path / "idx", embedder="hash:128").ingest([reports])
    with pytest.raises(UsageError, match="不能用"):
        HybridIndex.open(tmp_path / "idx", embedder="hash:128", read_only=True).search("民兵")
    summary = HybridIndex.open(tmp_path / "idx", embedder="hash:128").ingest([reports], rebuild=True)
    assert len(summary.added) == 2
    state = json.loads((tmp_path / "idx" / "state.json").read_text(encoding="utf-8"))
    assert state["embedder"] == "hash-v1:128"


def test_crash_before_commit_keeps_the_old_index(reports: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(index_mod.LOCAL_CHROMA_ENV, "1")
    index = HybridIndex.open(tmp_path / "idx")
    index.ingest([reports])
    before = sorted(_texts(index))
    _write(reports, "qitong-2023.txt", CHANGED_2023)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash while writing BM25")

    monkeypatch.setattr(index_mod.Bm25Ranker, "build", crash)
    with pytest.raises(RuntimeError):
        index.ingest([reports])
    monkeypatch.undo()
    reopened = HybridIndex.open(tmp_path / "idx", read_only=True)
    assert sorted(_texts(reopened)) == before
    # Chroma already holds the new vectors; uncommitted ids never surface in results.
    hits = reopened.search("渔船民兵分队", k=50, mode="vector")
    assert all(h.chunk.chunk_id in {c.chunk_id for c in reopened.all_chunks()} for h in hits)
    # The next ingest completes the change and reconciles Chroma with the store.
    summary = HybridIndex.open(tmp_path / "idx").ingest([reports])
    assert len(summary.replaced) == 1
    fresh = HybridIndex.open(tmp_path / "idx")
    assert fresh._chroma().count() == len(fresh)
    assert any("渔船民兵分队4支" in t for t in _texts(fresh))


def test_read_only_open_of_missing_index(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="shuzhi ingest"):
        HybridIndex.open(tmp_path / "none", read_only=True)


# --------------------------------------------------------------------------- CLI

def test_cli_ingest_then_search(reports: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SHUZHI_INDEX", str(tmp_path / "envidx"))
    assert run(["ingest", str(reports)]) == 0
    out = capsys.readouterr().out
    assert "新增 2" in out and "失败 0" in out
    assert run(["ingest", str(reports)]) == 0
    assert "未变 2" in capsys.readouterr().out

    assert run(["search", "征兵工作站", "-k", "2", "--json", "--year", "2023"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert 1 <= len(hits) <= 2
    assert hits[0]["year"] == 2023 and "征兵工作站" in hits[0]["text"]
    assert {"score", "path", "section", "heading", "chunk_id"} <= set(hits[0])

    assert run(["search", "民兵应急连", "--region", "雁澄区"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. [") and "雁澄区" in out and "民兵应急连" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["search", "民兵", "--section", "bogus"], 2, "--section"),
        (["search", "民兵", "-k", "0"], 2, "-k"),
        (["search", "民兵", "--mode", "dense"], 2, "检索方式"),
    ],
)
def test_cli_search_usage_errors(built: HybridIndex, argv: list[str], code: int, message: str, capsys) -> None:
    assert run([*argv, "--index", str(built.index_dir)]) == code
    assert message in capsys.readouterr().err


def test_cli_search_without_index(tmp_path: Path, capsys) -> None:
    assert run(["search", "民兵", "--index", str(tmp_path / "none")]) == 1
    assert "shuzhi ingest" in capsys.readouterr().err


def test_past_reports_are_one_regions_earlier_years(built: HybridIndex) -> None:
    past = built.past_reports("栖桐县", before_year=2024)
    assert [year for _, year in past] == [2023]
    assert past[0][0].startswith("2023年以来") and "雁澄区" not in past[0][0]
    assert built.past_reports("栖桐县", before_year=2023) == []     # this year's own report is not "past"
    assert [year for _, year in built.past_reports("雁澄区")] == [2022]
    assert built.past_reports("无此县") == []


# --------------------------------------------------------------------------- the shared server (no server needed)
# The round trip through a real `chroma run` server is in tests/test_batch_distributed.py.

@pytest.mark.parametrize("region, year", [("栖桐县", 2023), (None, None)])
def test_shared_chunk_metadata_round_trips_without_none(region, year) -> None:
    from pipeline.index.remote import chunk_from_record, chunk_metadata

    report = Report(source="reports/x.txt", title="t", year=year, region=region, text="", doc_id="d1",
                    sections=(Section("systems", "二、坚持制度落实", 1, ("民兵整组完成。",)),))
    chunk = chunk_report(report, path="reports/x.txt")[0]
    meta = chunk_metadata(chunk, ["民兵", "整组"], None)
    # Chroma accepts only str/int/float/bool metadata values.
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())
    assert (meta["region"], meta["year"], meta["title"]) == (region or "", year or -1, "")
    assert chunk_from_record(chunk.chunk_id, chunk.text, meta) == (chunk, ["民兵", "整组"])


def test_shared_index_on_an_unreachable_server_names_the_url(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"连接不上 Chroma 服务 http://127\.0\.0\.1:9") as caught:
        HybridIndex.open(None, chroma_url="http://127.0.0.1:9", read_only=True)
    assert caught.value.path == "http://127.0.0.1:9"
    assert run(["search", "民兵", "--chroma-url", "http://127.0.0.1:9"]) != 0
    assert not (tmp_path / ".shuzhi").exists()       # no local state was created or consulted


def test_index_without_folder_or_server_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--chroma-url"):
        HybridIndex(None)


def test_past_reports_are_computed_once_per_generation(built: HybridIndex, monkeypatch) -> None:
    calls = []
    real = HybridIndex._collect_past

    def counting(chunks, region, before_year):
        calls.append(region)
        return real(chunks, region, before_year)

    monkeypatch.setattr(HybridIndex, "_collect_past", staticmethod(counting))
    # Keys no other test has asked for (the index fixture is shared by the module).
    first = built.past_reports("栖桐县", before_year=2031)
    first.clear()                                   # a caller's copy, not the cache
    assert built.past_reports("栖桐县", before_year=2031) and calls == ["栖桐县"]
    built.past_reports("雁澄区", before_year=2031)
    assert calls == ["栖桐县", "雁澄区"]
