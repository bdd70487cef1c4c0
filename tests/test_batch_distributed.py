"""The batch against real services: a local Ray instance and a Chroma server on loopback.

Both start real processes (no mocks), so they are marked slow; they still run in `make test`.
Ray and the Chroma server only ever bind and connect to 127.0.0.1 / unix sockets, which the
offline guard in conftest.py allows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from pipeline.batch.runner import BatchSettings, run_batch
from pipeline.errors import InputError, ShuzhiError, UsageError

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


def _in_fresh_process(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`shuzhi ARGV` in a new interpreter and an empty working directory: another machine."""
    code = "import sys; from pipeline.cli import run; sys.exit(run(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if k != "SHUZHI_INDEX"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_batch_reads_a_shared_chroma_server(units_dir: Path, tmp_path: Path, chroma_server: ChromaServer,
                                            monkeypatch, capsys):
    import chromadb

    from pipeline.cli import run
    from pipeline.index.hybrid import HybridIndex
    from pipeline.index.remote import SHARED_COLLECTION

    url = chroma_server.url
    # This process plays the machines that have no index folder: an empty working directory and
    # no SHUZHI_INDEX, so nothing local can be found or written.
    machine = tmp_path / "machine-a"
    machine.mkdir()
    monkeypatch.chdir(machine)
    monkeypatch.delenv("SHUZHI_INDEX", raising=False)

    with pytest.raises(InputError, match="shuzhi ingest .*--chroma-url"):
        HybridIndex.open(None, chroma_url=url, read_only=True)

    # The operator ingests the corpus once into the shared server, with no index folder.
    files = sorted(p for p in REPORTS.iterdir() if p.is_file())
    summary = HybridIndex.open(None, chroma_url=url).ingest([REPORTS])
    assert summary.ok and summary.chunks > 50
    assert len(summary.added) == summary.documents == len(files)
    assert not list(machine.iterdir())
    # The server holds the texts and full metadata, not only vectors.
    client = chromadb.HttpClient(host="127.0.0.1", port=int(url.rsplit(":", 1)[1]))
    collection = client.get_collection(SHARED_COLLECTION)
    assert collection.count() == summary.chunks
    sample = collection.get(limit=1, include=["documents", "metadatas"])
    assert sample["documents"][0] and sample["metadatas"][0]["path"].startswith(str(REPORTS))

    # A second machine (a new interpreter, no local state) re-ingests: every file is unchanged.
    second = tmp_path / "machine-b"
    second.mkdir()
    again = _in_fresh_process(["ingest", str(REPORTS), "--chroma-url", url, "--json"], second)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["unchanged"] == [str(p) for p in files]
    assert json.loads(again.stdout)["added"] == [] and not list(second.iterdir())

    # Any machine can search it.
    shared = HybridIndex.open(None, chroma_url=url, read_only=True)
    hit = shared.search("渔船纳入海上民兵船只管理", k=3)[0]
    assert "36艘渔船" in hit.chunk.text and hit.chunk.path.endswith("chengpu-2021.md")
    assert hit.chunk.region == "澄浦县" and hit.chunk.year == 2021
    assert len(shared.all_chunks()) == summary.chunks
    assert {d["path"] for d in shared.documents()} == {str(p) for p in files}
    capsys.readouterr()
    assert run(["search", "渔船纳入海上民兵船只管理", "--chroma-url", url, "--json", "-k", "2"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["chunk_id"] == hit.chunk.chunk_id

    # The batch with --chroma-url and no --index: workers rebuild the index from the server.
    # Filtered vector queries go to the server too (not only the in-memory copy); the pool forks,
    # so the workers inherit this.
    monkeypatch.setenv("SHUZHI_CHROMA_FILTER", "1")
    (units_dir / "broken.yaml").unlink()
    settings = BatchSettings(out_dir=str(tmp_path / "out"), chroma_url=url, index_dir=None)
    report = run_batch(units_dir, settings, workers=2, progress=False)
    assert report.counts() == {"done": 3, "failed": 0, "skipped": 0}, report.failed
    corpus_ids = {c.chunk_id for c in shared.all_chunks()}
    for folder in sorted(p for p in (tmp_path / "out").iterdir() if p.is_dir()):
        draft = json.loads((folder / "draft.json").read_text("utf-8"))
        sources = {s for section in draft["sections"] for sentence in section["sentences"]
                   for s in sentence["sources"]}
        # Modelled on corpus chunks, which only the server could have supplied.
        assert sources and sources <= corpus_ids, folder.name

    # A changed file is replaced on the server, whoever ingests it; readers see the new generation.
    extra = tmp_path / "extra"
    extra.mkdir()
    changed = extra / "chengpu-2021-revised.md"
    changed.write_text((REPORTS / "chengpu-2021.md").read_text("utf-8").replace("36艘渔船", "38艘渔船"), "utf-8")
    assert HybridIndex.open(None, chroma_url=url).ingest([extra]).added == (str(changed),)
    changed.write_text(changed.read_text("utf-8").replace("38艘渔船", "39艘渔船"), "utf-8")
    replaced = HybridIndex.open(None, chroma_url=url).ingest([extra])
    assert replaced.replaced == (str(changed),) and replaced.documents == len(files) + 1
    texts = [c.text for c in HybridIndex.open(None, chroma_url=url, read_only=True).all_chunks()
             if c.path == str(changed)]
    assert any("39艘渔船" in t for t in texts) and not any("38艘渔船" in t for t in texts)
    assert collection.count() == replaced.chunks
    with pytest.raises(UsageError, match="hash-v1:512"):
        HybridIndex.open(None, chroma_url=url, embedder="hash:512").ingest([extra])
    with pytest.raises(UsageError, match="hash-v1:512"):
        HybridIndex.open(None, chroma_url=url, embedder="hash:512", read_only=True)

    # A local index folder with --chroma-url still works as before: vectors in the server (in a
    # collection of its own), texts and BM25 in the folder.
    index_dir = tmp_path / "local-index"
    local = HybridIndex.open(index_dir, chroma_url=url).ingest([REPORTS / "chengpu-2021.md"])
    assert local.ok and not (index_dir / "chroma").exists()
    assert len(client.list_collections()) == 3          # shared chunks, shared manifest, the folder's
    reopened = HybridIndex.open(index_dir, chroma_url=url, read_only=True)
    assert reopened.search("渔船纳入海上民兵船只管理", k=1, region="澄浦县")[0].chunk.chunk_id == hit.chunk.chunk_id

    # With the server gone the batch refuses to start, rather than writing every draft without
    # exemplars.
    chroma_server.stop()
    with pytest.raises(ShuzhiError, match=re.escape(url)):
        run_batch(units_dir, replace(settings, out_dir=str(tmp_path / "down")), workers=1, progress=False)
    assert not list((tmp_path / "down").glob("*/draft.md"))


def test_batch_with_an_unreachable_chroma_server_names_it(units_dir: Path, tmp_path: Path, monkeypatch):
    # Nothing listens on port 9: the message names the address, and no draft is written.
    monkeypatch.setenv("SHUZHI_INDEX", str(tmp_path / "no-index-here"))
    with pytest.raises(ShuzhiError, match=r"127\.0\.0\.1:9"):
        run_batch(units_dir, BatchSettings(out_dir=str(tmp_path / "out"), chroma_url="http://127.0.0.1:9"),
                  workers=1, progress=False)
    assert not list((tmp_path / "out").glob("*/draft.md"))
