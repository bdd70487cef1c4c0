"""Jobs that survive (SQLite in the data folder), the queue, the time limit, retention, 历史记录,
in-page editing with live re-checking, and `shuzhi serve`'s startup lines."""

from __future__ import annotations

import io
import re
import sqlite3
import threading
import time
from pathlib import Path

import docx
import pytest
from fastapi.testclient import TestClient

from pipeline.cli import run
from pipeline.cli.serve_cmd import default_data_dir, mask_token, shown_urls
from pipeline.web.app import create_app
from pipeline.web.jobs import DraftJob, JobStore, JobTimeout, _Slots
from pipeline.web.views import blocks_from_text

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "web"
SAMPLE = ROOT / "corpus" / "sample" / "metrics.yaml"
BASE = "http://127.0.0.1"


def _client(data: Path, **kwargs) -> TestClient:
    app = create_app(data.parent / "index", work_dir=data, run_jobs_inline=True, **kwargs)
    return TestClient(app, base_url=BASE, headers={"Origin": BASE})


def sample_with_1535() -> bytes:
    """The sample metrics with 基干民兵 = 1535 this year (1520 last year): the figure the editor test changes."""
    text = SAMPLE.read_text(encoding="utf-8")
    swapped = text.replace("    value: 1520\n    previous: 1535", "    value: 1535\n    previous: 1520")
    assert swapped != text
    return swapped.encode()


def _draft(client: TestClient, metrics: bytes | None = None) -> str:
    r = client.post("/draft", files={"metrics_file": ("metrics.yaml", metrics or SAMPLE.read_bytes())},
                    data={"engine": "template"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


def _review(client: TestClient) -> str:
    r = client.post("/review", files={"report_file": ("report_wrong.txt", (FIX / "report_wrong.txt").read_bytes()),
                                      "metrics_file": ("metrics.yaml", (FIX / "metrics.yaml").read_bytes())},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


def test_a_restarted_server_shows_yesterdays_draft_and_review(tmp_path):
    data = tmp_path / "data"
    first = _client(data)
    draft_id, review_id = _draft(first), _review(first)
    first.app.state.jobs.close()
    again = _client(data)                              # a new app over the same data folder
    page = again.get(f"/draft/jobs/{draft_id}")
    assert page.status_code == 200 and "2025年度党管武装工作述职报告" in page.text
    assert again.get(f"/jobs/{draft_id}/files/draft.docx").status_code == 200
    review = again.get(f"/review/jobs/{review_id}")
    assert review.status_code == 200 and "1230人" in review.text and "v-contradicted" in review.text
    history = again.get("/history").text
    assert f"/draft/jobs/{draft_id}" in history and f"/review/jobs/{review_id}" in history
    assert "核对：report_wrong.txt" in history
    # The table is SQLite in WAL mode in the data folder.
    with sqlite3.connect(data / "jobs.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 2


def test_many_jobs_keep_the_newest_and_remove_the_oldest_first(tmp_path):
    client = _client(tmp_path / "data", keep_count=3)
    ids = [_review(client) for _ in range(5)]
    for old in ids[:2]:
        assert client.get(f"/review/jobs/{old}").status_code == 404
        assert not (tmp_path / "data" / "jobs" / old).exists()
    for kept in ids[2:]:
        assert client.get(f"/review/jobs/{kept}").status_code == 200


@pytest.mark.parametrize("limit, expect_removed", [({"keep_days": 1.0}, 1), ({"keep_bytes": 1}, 2)])
def test_retention_by_age_and_size(tmp_path, limit, expect_removed):
    store = JobStore(tmp_path, **limit)
    ids = [store.create("review", title=f"t{i}") for i in range(2)]
    # The first job is 3 days old.
    store._exec("UPDATE jobs SET created=? WHERE id=?", (time.time() - 3 * 86400, ids[0]))
    for job_id in ids:
        (store.folder(job_id) / "view.json").write_text("{}", encoding="utf-8")
        store._exec("UPDATE jobs SET status='done', bytes=100 WHERE id=?", (job_id,))
    removed = store.prune()
    assert removed == ids[:expect_removed]


def test_unfinished_jobs_are_marked_failed_after_a_restart(tmp_path):
    store = JobStore(tmp_path)
    job_id = store.create("draft")
    store.set_status(job_id, "running")
    store.close()
    row = JobStore(tmp_path).row(job_id)
    assert row.status == "error" and "重启" in row.error


def test_a_submission_stopped_before_it_became_a_job_leaves_nothing_after_a_restart(tmp_path):
    """A draft is saved straight into a new job folder and becomes a job (a row) once it is valid:
    a folder without a row, and a killed draft's staging folder, are removed at the next start."""
    store = JobStore(tmp_path)
    kept = store.create("draft")
    orphan = store.new_folder()
    (store.folder(orphan) / "metrics.yaml").write_text("meta: {}\n", encoding="utf-8")
    staging = store.jobs_dir / f".{kept}.abc.tmp"
    staging.mkdir()
    store.close()
    again = JobStore(tmp_path)
    assert not again.folder(orphan).exists() and not staging.exists()
    assert again.folder(kept).is_dir() and again.row(kept) is not None


def test_a_failed_job_keeps_its_inputs_and_loses_its_partial_results(tmp_path):
    store = JobStore(tmp_path)
    job_id = store.create("draft")
    folder = store.folder(job_id)
    for name in ("metrics.yaml", "draft.docx", "view.json", ".draft.md.x1.tmp"):
        (folder / name).write_text("x", encoding="utf-8")
    store.finish(job_id, error="起草超过了时间上限")
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.yaml"]
    assert store.row(job_id).status == "error"


def test_queue_serves_in_order_and_counts_who_is_ahead():
    slots = _Slots(1)
    jobs = [DraftJob(job_id=f"{i:032x}", out_dir=Path("."), sections=()) for i in range(3)]
    order: list[int] = []
    slots.acquire(jobs[0])
    waiting = [threading.Thread(target=lambda i=i: (slots.acquire(jobs[i]), order.append(i), slots.release()))
               for i in (1, 2)]
    waiting[0].start()
    while slots.queued() < 1:
        time.sleep(0.001)
    waiting[1].start()
    while slots.queued() < 2:
        time.sleep(0.001)
    assert (jobs[1].ahead, jobs[2].ahead) == (0, 1)
    assert "前面还有 1 个任务" in jobs[2].to_json()["phase"]
    slots.release()
    for t in waiting:
        t.join(5)
    assert order == [1, 2]


def test_a_job_past_its_time_limit_stops_and_says_so(tmp_path, monkeypatch):
    client = _client(tmp_path / "data", job_timeout=0.0001)
    real = DraftJob.on_progress

    def slow(self, event):
        time.sleep(0.01)              # the deadline passes between two sections
        real(self, event)

    monkeypatch.setattr(DraftJob, "on_progress", slow)
    job_id = _draft(client)
    page = client.get(f"/draft/jobs/{job_id}").text
    assert "起草失败" in page and "时间上限" in page
    assert client.app.state.jobs.row(job_id).status == "error"
    job = DraftJob(job_id="0" * 32, out_dir=tmp_path, sections=(), deadline=time.monotonic() - 1)
    with pytest.raises(JobTimeout):
        job.on_progress("x")


# ---------------------------------------------------------------------- editing with live checking

def test_edit_recheck_and_save_word(tmp_path):
    client = _client(tmp_path / "data")
    job_id = _draft(client, sample_with_1535())
    page = client.get(f"/draft/jobs/{job_id}").text
    assert 'id="edit-text"' in page and "保存并下载 Word" in page
    text = re.search(r'<textarea id="edit-text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    import html

    text = html.unescape(text)
    assert "1535人" in text
    good = client.post(f"/jobs/{job_id}/check", json={"text": text}).json()
    assert good["bad"] == 0 and good["ok"]
    wrong = client.post(f"/jobs/{job_id}/check", json={"text": text.replace("1535人", "1553人", 1)}).json()
    assert not wrong["ok"] and wrong["bad"] >= 1
    assert re.search(r'class="f v-contradicted"[^>]*>1553人', wrong["report_html"])
    r = client.post(f"/jobs/{job_id}/word", data={"text": text.replace("1535人", "1553人", 1)})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    paragraphs = [p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs]
    assert paragraphs[0].endswith("2025年度党管武装工作述职报告") and any("1553人" in p for p in paragraphs)
    # The edit is kept: reopening the result shows the edited text, and the file is in the list.
    again = client.get(f"/draft/jobs/{job_id}").text
    assert "1553人" in again and f"/jobs/{job_id}/files/edited.docx" in again


def test_recheck_refuses_cross_site_and_bad_bodies(tmp_path):
    client = _client(tmp_path / "data")
    job_id = _review(client)
    assert client.post(f"/jobs/{job_id}/check", json={"text": "x"}, headers={"Origin": "null"}).status_code == 403
    assert client.post(f"/jobs/{job_id}/check", json={"nope": 1}).status_code == 400
    assert client.post(f"/jobs/{job_id}/check", json={"text": "x" * 300_000}).status_code == 413
    assert client.post(f"/jobs/{'f' * 32}/check", json={"text": "x"}).status_code == 404


def test_blocks_from_text_styles():
    text = "标题\n一、履职情况\n（一）抓征兵。\n正文一段。\n县委书记 某某\n2025年1月12日\n"
    styles = [(b.style, b.text) for b in blocks_from_text(text)]
    assert styles == [("title", "标题"), ("h1", "一、履职情况"), ("h2", "（一）抓征兵。"), ("body", "正文一段。"),
                      ("signature", "县委书记 某某"), ("date", "2025年1月12日")]


# ---------------------------------------------------------------------- shuzhi serve

def test_serve_uses_env_token_masked_and_warns_about_the_flag(monkeypatch, capsys, tmp_path):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **k: calls.append(k))
    monkeypatch.setenv("SHUZHI_TOKEN", "a-very-secret-token")
    code = run(["serve", "--host", "0.0.0.0", "--port", "8766", "--index", str(tmp_path / "i"),
                "--data", str(tmp_path / "d")])
    out = capsys.readouterr()
    assert code == 0 and "a-very-secret-token" not in out.out + out.err
    assert "a-******en" in out.out
    assert "http://0.0.0.0" not in out.out and "http://127.0.0.1:8766/" in out.out
    assert (tmp_path / "d" / "jobs.sqlite3").is_file()
    monkeypatch.delenv("SHUZHI_TOKEN")
    run(["serve", "--token", "another-long-token", "--index", str(tmp_path / "i"), "--data", str(tmp_path / "d")])
    out = capsys.readouterr()
    assert "--token 已不推荐" in out.err and "another-long-token" not in out.out


def test_shown_urls_name_real_addresses(monkeypatch):
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("192.168.7.20", 0)),
                                                               (2, 1, 6, "", ("127.0.1.1", 0))])
    assert shown_urls("0.0.0.0", 8000)[0] == "http://192.168.7.20:8000/"
    assert shown_urls("127.0.0.1", 8000) == ["http://127.0.0.1:8000/"]
    assert mask_token("abcdefghij") == "ab******ij"


def test_default_data_dir_is_not_tmp(monkeypatch, tmp_path):
    monkeypatch.delenv("SHUZHI_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert default_data_dir() == tmp_path / "share" / "shuzhi" / "web"
    monkeypatch.setenv("SHUZHI_DATA", str(tmp_path / "x"))
    assert default_data_dir() == tmp_path / "x"
