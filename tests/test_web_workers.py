"""Drafts and reviews in worker processes: the hard time limit, a worker that dies mid-job, and no
worker outliving the server (stopped with SIGTERM, or killed with SIGKILL).

These run the real pool (`create_app` without `run_jobs_inline`): spawned interpreters that warm up
first, so each test takes a few seconds. No test asserts a duration: waits poll for a state with a
generous ceiling.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "web"
SAMPLE = ROOT / "corpus" / "sample" / "metrics.yaml"
BASE = "http://127.0.0.1"


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _until(condition, what: str, timeout: float = 60.0):  # noqa: ANN001, ANN202
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _draft(client: TestClient, engine: str = "template") -> str:
    data = {"engine": "template"} if engine == "template" else {"engine": "other", "engine_spec": engine}
    r = client.post("/draft", files={"metrics_file": ("metrics.yaml", SAMPLE.read_bytes())}, data=data,
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


def _finished(client: TestClient, job_id: str) -> dict:
    def state() -> dict | None:
        answer = client.get(f"/jobs/{job_id}").json()
        return answer if answer["status"] in ("done", "error") else None
    return _until(state, f"job {job_id} to finish", timeout=120)


class SilentService:
    """An 'LLM service' that accepts connections and never answers: a draft using it hangs inside
    its worker (the engine's own timeout is a minute, with retries). `called` is set once a worker
    has connected, i.e. the job is running in the worker."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.spec = f"openai:http://127.0.0.1:{self.sock.getsockname()[1]}/v1#stuck"
        self.called = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.called.set()

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent_llm() -> Iterator[SilentService]:
    service = SilentService()
    yield service
    service.close()


@pytest.fixture
def pooled(tmp_path) -> Iterator[TestClient]:
    """The app with one worker process; leaving the block runs the lifespan shutdown."""
    app = create_app(tmp_path / "index", work_dir=tmp_path / "data", max_jobs=1)
    with TestClient(app, base_url=BASE, headers={"Origin": BASE}) as client:
        yield client


def test_drafts_and_reviews_run_in_worker_processes_that_stop_with_the_app(tmp_path):
    app = create_app(tmp_path / "index", work_dir=tmp_path / "data", max_jobs=2)
    with TestClient(app, base_url=BASE, headers={"Origin": BASE}) as client:
        job_id = _draft(client)
        assert _finished(client, job_id)["status"] == "done"
        assert "2025年度党管武装工作述职报告" in client.get(f"/draft/jobs/{job_id}").text
        assert client.get(f"/jobs/{job_id}/files/draft.docx").status_code == 200
        review = client.post("/review", files={"report_file": ("report_wrong.txt", (FIX / "report_wrong.txt").read_bytes()),
                                               "metrics_file": ("metrics.yaml", (FIX / "metrics.yaml").read_bytes())},
                             follow_redirects=False)
        assert review.status_code == 303, review.text
        page = client.get(review.headers["location"]).text
        assert "1230人" in page and "v-contradicted" in page
        pool = app.state.jobs.pool
        workers = _until(lambda: len(pool.pids()) == 2 and pool.pids(), "both workers")
        assert os.getpid() not in workers
        for pid in workers:         # children of this process, not of some helper that could outlive it
            assert int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
    _until(lambda: not any(_alive(pid) for pid in workers), "the workers to stop", timeout=20)


def test_a_job_over_its_time_limit_is_killed_marked_failed_and_the_pool_goes_on(pooled, silent_llm):
    client = pooled
    jobs = client.app.state.jobs
    assert _finished(client, _draft(client))["status"] == "done"          # the worker is warm
    [worker] = jobs.pool.pids()
    jobs.time_limit = 1.0
    stuck = _draft(client, silent_llm.spec)
    state = _finished(client, stuck)
    assert state["status"] == "error" and "时间上限" in state["error"]
    assert jobs.row(stuck).status == "error" and "时间上限" in jobs.row(stuck).error
    # The worker was warm and idle, so the job ran in it at once; it is killed, not left to finish.
    _until(lambda: not _alive(worker), "the over-time worker to be killed", timeout=20)
    page = client.get(f"/draft/jobs/{stuck}").text
    assert "起草失败" in page and "时间上限" in page
    assert not (jobs.folder(stuck) / "draft.docx").exists() and not (jobs.folder(stuck) / "view.json").exists()
    assert not list(jobs.jobs_dir.glob(f".{stuck}.*"))                    # no staging folder left
    jobs.time_limit = 300.0
    again = _draft(client)
    assert _finished(client, again)["status"] == "done"                    # a replacement worker drafted it
    assert jobs.pool.pids() and worker not in jobs.pool.pids()


def test_a_worker_killed_mid_job_fails_its_job_not_leaves_it_running(pooled, silent_llm):
    client = pooled
    jobs = client.app.state.jobs
    stuck = _draft(client, silent_llm.spec)
    assert silent_llm.called.wait(60)                   # the draft is running in the worker, hanging
    [worker] = jobs.pool.pids()
    os.kill(worker, signal.SIGKILL)
    state = _finished(client, stuck)
    assert state["status"] == "error" and "后台处理进程意外退出" in state["error"]
    assert jobs.row(stuck).status == "error"
    assert "起草失败" in client.get(f"/draft/jobs/{stuck}").text
    assert _finished(client, _draft(client))["status"] == "done"
    assert worker not in jobs.pool.pids()


def test_a_review_over_the_time_limit_answers_with_a_chinese_page(pooled):
    client = pooled
    jobs = client.app.state.jobs
    assert _finished(client, _draft(client))["status"] == "done"
    [worker] = jobs.pool.pids()
    jobs.time_limit = 0.0001           # past before the worker can answer
    r = client.post("/review", files={"report_file": ("report_wrong.txt", (FIX / "report_wrong.txt").read_bytes()),
                                      "metrics_file": ("metrics.yaml", (FIX / "metrics.yaml").read_bytes())})
    assert r.status_code == 503 and "时间上限" in r.text
    failed = [row for row in jobs.history() if row.kind == "review"]
    assert failed and failed[0].status == "error"                          # on 历史记录, as failed
    _until(lambda: not _alive(worker), "the worker to be killed", timeout=20)
    jobs.time_limit = 300.0
    assert _finished(client, _draft(client))["status"] == "done"


# ---------------------------------------------------------------------- a real `shuzhi serve`

def _serve(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SHUZHI_TOKEN", None)
    server = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port),
                               "--index", str(tmp_path / "index"), "--data", str(tmp_path / "data"),
                               "--max-jobs", "2"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}"


def _workers_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == pid and b"worker_entry" in command:
            found.append(int(entry.name))
    return found


def _draft_over_http(base: str, engine: str = "template") -> str:
    import httpx

    def up() -> bool:
        try:
            return httpx.get(base + "/draft", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    _until(up, "the server to start")
    data = {"engine": "template"} if engine == "template" else {"engine": "other", "engine_spec": engine}
    with httpx.Client(base_url=base, headers={"Origin": base}, timeout=60) as client:
        r = client.post("/draft", files={"metrics_file": ("metrics.yaml", SAMPLE.read_bytes())}, data=data)
        assert r.status_code == 303, r.text
        job_id = r.headers["location"].rsplit("/", 1)[1]
        if engine == "template":
            _until(lambda: client.get(f"/jobs/{job_id}").json()["status"] == "done", "the draft", timeout=120)
    return job_id


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_no_worker_outlives_the_server(tmp_path, stop, silent_llm):
    """One worker idle, one in the middle of a draft that hangs on its LLM service: neither may
    outlive the server, whether it stops (SIGTERM) or is killed (SIGKILL: nothing of the server
    runs; the busy worker would otherwise wait a minute on the service, then draft on)."""
    server, base = _serve(tmp_path)
    try:
        _draft_over_http(base)
        workers = _until(lambda: len(_workers_of(server.pid)) == 2 and _workers_of(server.pid), "two workers")
        _draft_over_http(base, silent_llm.spec)
        assert silent_llm.called.wait(60)
        server.send_signal(stop)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    _until(lambda: not any(_alive(pid) for pid in workers), "the workers to end", timeout=20)
