"""The batch against real services: a local Ray instance and a Chroma server on loopback.

Both start real processes (no mocks), so they are marked slow; they still run in `make test`.
Ray and the Chroma server only ever bind and connect to 127.0.0.1 / unix sockets, which the
offline guard in conftest.py allows.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from pipeline.batch import BatchSettings, run_batch
from pipeline.errors import ShuzhiError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus" / "sample"
REPORTS = ROOT / "corpus" / "reports"
CHROMA_BIN = Path(sys.executable).parent / "chroma"

pytestmark = pytest.mark.slow


@pytest.fixture
def units_dir(tmp_path: Path) -> Path:
    """A few units: the sample's next-year metrics plus one broken file."""
    folder = tmp_path / "units"
    folder.mkdir()
    shutil.copy(SAMPLE / "metrics.yaml", folder / "lanchuan-2025.yaml")
    for path in sorted((SAMPLE / "next").glob("*.yaml"))[:2]:
        shutil.copy(path, folder / path.name)
    (folder / "broken.yaml").write_text("meta:\n  region: 坏县\nmetrics:\n  militia.primary: 很多\n", encoding="utf-8")
    return folder


def _outputs(out: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text("utf-8") for p in sorted(out.glob("*/draft.md"))}


# --------------------------------------------------------------------------- Ray

@pytest.fixture
def local_ray(tmp_path: Path) -> Iterator[object]:
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _node_ip_address="127.0.0.1", object_store_memory=80 * 1024 * 1024)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_executor_matches_the_local_pool(units_dir: Path, tmp_path: Path, local_ray):
    settings = {"seed": 3}
    local = run_batch(units_dir, BatchSettings(out_dir=str(tmp_path / "local"), **settings),
                      workers=2, progress=False)
    ray_report = run_batch(units_dir, BatchSettings(out_dir=str(tmp_path / "ray"), **settings),
                           executor="ray", workers=2, progress=False)

    assert {r.name: r.status for r in ray_report.results} == {r.name: r.status for r in local.results}
    assert ray_report.counts() == {"done": 3, "failed": 1, "skipped": 0}
    failed = next(r for r in ray_report.results if r.status == "failed")
    assert failed.name == "broken" and "broken.yaml" in failed.error
    # Same code path, same outputs: every draft is byte-identical to the process pool's.
    local_md, ray_md = _outputs(tmp_path / "local"), _outputs(tmp_path / "ray")
    assert len(ray_md) == 3
    assert ray_md == local_md
    # The units really ran inside Ray's worker processes, not in this one.
    workers = json.loads((tmp_path / "ray" / "summary.json").read_text("utf-8"))["workers"]
    assert workers and all(not w.endswith(f":{os.getpid()}") for w in workers)

    # The Ray run resumes like any other.
    again = run_batch(units_dir, BatchSettings(out_dir=str(tmp_path / "ray"), **settings),
                      executor="ray", workers=2, resume=True, progress=False)
    assert again.counts() == {"done": 0, "failed": 1, "skipped": 3}


# --------------------------------------------------------------------------- Chroma server

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ChromaServer:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """`chroma run` on loopback, as an operator would start it; killed at teardown."""
    import httpx

    if not CHROMA_BIN.exists():
        pytest.skip("chroma CLI not installed")
    port = _free_port()
    log = (tmp_path / "chroma.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY": "False"}
    process = subprocess.Popen(
        [str(CHROMA_BIN), "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Bounded poll for the heartbeat; waiting on the process doubles as the pause and notices
        # a server that died at start-up.
        for _ in range(300):
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            try:
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"chroma run exited with {process.returncode}: {(tmp_path / 'chroma.log').read_text()}")
        else:
            pytest.fail("Chroma server did not answer its heartbeat within 60 s")
        server = ChromaServer(url, process)
        yield server
    finally:
        ChromaServer(url, process).stop()
        log.close()


def test_batch_reads_a_shared_chroma_server(units_dir: Path, tmp_path: Path, chroma_server: ChromaServer, monkeypatch):
    import chromadb

    from pipeline.index import HybridIndex

    # The operator ingests the corpus once into the shared server.
    index_dir = tmp_path / "shared-index"
    summary = HybridIndex.open(index_dir, chroma_url=chroma_server.url).ingest([REPORTS])
    assert summary.ok and summary.chunks > 50
    # The vectors live in the server, not in a local Chroma folder.
    assert not (index_dir / "chroma").exists()
    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_server.url.rsplit(":", 1)[1]))
    assert sum(client.get_collection(c.name).count() for c in client.list_collections()) == summary.chunks

    # Filtered vector queries go to the server rather than the local vector sidecar, so the
    # drafts below can only get vector hits by reading the shared server. The pool forks, so the
    # workers inherit this.
    monkeypatch.setenv("SHUZHI_CHROMA_FILTER", "1")
    (units_dir / "broken.yaml").unlink()
    settings = BatchSettings(out_dir=str(tmp_path / "out"), chroma_url=chroma_server.url,
                             index_dir=str(index_dir))
    report = run_batch(units_dir, settings, workers=2, progress=False)
    assert report.counts() == {"done": 3, "failed": 0, "skipped": 0}, report.failed
    for folder in sorted(p for p in (tmp_path / "out").iterdir() if p.is_dir()):
        draft = json.loads((folder / "draft.json").read_text("utf-8"))
        sources = {s for section in draft["sections"] for sentence in section["sentences"]
                   for s in sentence["sources"]}
        # Modelled on corpus chunks (chunk ids are `{doc_id}:{position}`).
        assert sources, folder.name
        assert all(":" in s for s in sources)

    # And they really depend on it: with the server gone the batch refuses to start, rather than
    # writing every draft without exemplars.
    chroma_server.stop()
    with pytest.raises(ShuzhiError, match="共享 Chroma 服务.*不可用"):
        run_batch(units_dir, replace(settings, out_dir=str(tmp_path / "down")), workers=1, progress=False)
    assert not list((tmp_path / "down").glob("*/draft.md"))


def test_chroma_url_without_an_index_folder_says_what_is_missing(units_dir: Path, tmp_path: Path, monkeypatch):
    # No server is needed to see the message: the index folder is checked first.
    monkeypatch.setenv("SHUZHI_INDEX", str(tmp_path / "no-index-here"))
    with pytest.raises(ShuzhiError, match="--index"):
        run_batch(units_dir, BatchSettings(out_dir=str(tmp_path / "out"), chroma_url="http://127.0.0.1:9"),
                  workers=1, progress=False)
