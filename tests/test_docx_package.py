"""A plain draft's .docx written without python-docx (pipeline.output.docx_writer's XML and
pipeline.output.docx_package) against python-docx's own build and save of the same draft."""

from __future__ import annotations

import io
import sys
import threading
import time
import zipfile
from datetime import datetime

import pytest

from pipeline.models import WordBlock
from pipeline.output import docx_package, docx_template, docx_writer
from pipeline.output.docx_layout import plan_paragraphs, title_of
from pipeline.output.docx_package import Member, zip_bytes
from pipeline.output.docx_writer import docx_bytes

WHEN = datetime(2025, 1, 10, 9, 30)
FIXED = time.mktime((2025, 3, 4, 5, 6, 8, 0, 0, -1))


def _blocks(title: str, body: str, *, signature: str = "林某某") -> list[WordBlock]:
    return [WordBlock("title", title), WordBlock("h1", "一、坚持理论武装"), WordBlock("body", body),
            WordBlock("signature", "青岚县委书记"), WordBlock("signature", signature), WordBlock("date", "2025-01-10")]


def _python_docx_bytes(blocks: list[WordBlock], author: str = "林某某") -> bytes:
    doc = docx_template.build_document(docx_writer._prepared_template(), plan_paragraphs(blocks), annotate=False,
                                       author=author, comment_author=author, title=title_of(blocks), when=WHEN)
    return docx_template.save(doc)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both writers stamp zip entries with the local time of the write: freeze it."""
    monkeypatch.setattr(zipfile.time, "time", lambda: FIXED)
    monkeypatch.setattr(docx_package.time, "time", lambda: FIXED)


DRAFTS = [
    _blocks("2024年度党管武装工作述职报告", "全年输送合格青年215人。"),
    _blocks("2024年度述职报告", "基干民兵1800人，完成整组。" * 40),
    _blocks("", ""),
    # what lxml escapes, keeps, or python-docx turns into other elements
    _blocks("A&B <县> \"述职\" 'x'", "甲&乙<丙>丁\t戊\n己\r\n庚  ", signature=" 林某某 "),
    _blocks("标题", "\u3000\u3000全角空格开头。"),
    _blocks("标题", "\x01\x02只剩这些"),
    [WordBlock("body", "\x0b")],
    [WordBlock("title", "甲"), WordBlock("title", "乙"), WordBlock("subtitle", "丙"), WordBlock("h2", "（一）丁"),
     WordBlock("h3", "1. 戊"), WordBlock("date", "2025/12/31")],
    [WordBlock("signature", "青岚县委书记、县人武部党委第一书记")],
]


@pytest.mark.parametrize("blocks", DRAFTS)
def test_plain_draft_is_python_docx_save_byte_for_byte(blocks: list[WordBlock], frozen_clock: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Same members, order, XML, deflate streams and headers: the whole file is identical."""
    build = docx_template.build_document
    for author in ("林某某", "A&B <x>", "", "\r甲\t"):
        with monkeypatch.context() as patched:      # the plain writer, not python-docx, made `ours`
            patched.setattr(docx_template, "build_document", None)
            ours = docx_bytes(blocks, author=author, created=WHEN)
        assert docx_template.build_document is build
        assert ours == _python_docx_bytes(blocks, author), author


def test_what_python_docx_refuses_goes_through_python_docx(frozen_clock: None) -> None:
    """A title over 255 characters or a character XML cannot hold: python-docx builds (and refuses)."""
    with pytest.raises(ValueError, match="255"):
        docx_bytes(_blocks("长" * 256, "正文。"), created=WHEN)
    with pytest.raises(ValueError):
        docx_bytes(_blocks("标题\x01", "正文。"), created=WHEN)


def test_a_plain_draft_does_not_import_python_docx() -> None:
    """Once the template is in the temp folder, a plain draft needs neither python-docx nor lxml."""
    import subprocess

    docx_writer._prepared_template()          # the temp-folder copy exists
    code = ("import sys; from pipeline.models import WordBlock; from pipeline.output.docx_writer import docx_bytes; "
            "docx_bytes([WordBlock('title', '报告'), WordBlock('body', '正文。')]); "
            "print('docx' in sys.modules, 'lxml' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "False False", done.stderr


def test_threads_write_their_own_drafts() -> None:
    results: dict[int, bytes] = {}

    def write(i: int) -> None:
        for _ in range(5):
            results[i] = docx_bytes(_blocks(f"{i}号县述职报告", f"第{i}号草稿正文。" * 20), created=WHEN)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, data in results.items():
        archive = zipfile.ZipFile(io.BytesIO(data))
        assert archive.testzip() is None
        document = archive.read("word/document.xml").decode()
        assert f"第{i}号草稿正文" in document
        assert all(f"第{j}号草稿" not in document for j in results if j != i)


def test_annotated_copies_go_through_python_docx() -> None:
    body = "全年输送合格青年215人。"
    annotated = [WordBlock("title", "述职报告"), WordBlock("body", body, comments=((6, 10, "来源：征兵"),))]
    names = zipfile.ZipFile(io.BytesIO(docx_bytes(annotated, annotate=True, created=WHEN))).namelist()
    assert "word/comments.xml" in names
    plain = zipfile.ZipFile(io.BytesIO(docx_bytes(annotated, created=WHEN))).namelist()
    assert "word/comments.xml" not in plain


def test_zip_bytes_is_what_zipfile_writes(frozen_clock: None) -> None:
    blobs = {"a.xml": b"<a/>" * 300, "dir/b.bin": bytes(range(256)) * 40, "empty": b""}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, blob in blobs.items():
            archive.writestr(name, blob)
    ours = zip_bytes([Member.deflate(name, blob) for name, blob in blobs.items()])
    assert ours == buffer.getvalue()
    assert {n: zipfile.ZipFile(io.BytesIO(ours)).read(n) for n in blobs} == blobs


def test_the_prepared_template_is_kept_in_the_temp_folder_and_rebuilt_when_damaged(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import tempfile

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    built = docx_writer._build_template()
    docx_writer._prepared_template.cache_clear()
    try:
        first = docx_writer._prepared_template()
        cached = list(tmp_path.glob("shuzhi-docx-template-*.bin"))
        assert len(cached) == 1 and _same_template(first, built)
        docx_writer._prepared_template.cache_clear()
        assert docx_writer._prepared_template() == first               # read back, not rebuilt
        for damage in (b"", cached[0].read_bytes()[:100], cached[0].read_bytes()[:-1] + b"!"):
            cached[0].write_bytes(damage)
            docx_writer._prepared_template.cache_clear()
            again = docx_writer._prepared_template()
            assert _same_template(again, built)
            assert cached[0].read_bytes()[32:] == again                # and written afresh
        cached[0].chmod(0o666)                                         # writable by others: not trusted
        cached[0].write_bytes(cached[0].read_bytes()[:32] + b"x")
        docx_writer._prepared_template.cache_clear()
        assert _same_template(docx_writer._prepared_template(), built)
    finally:
        docx_writer._prepared_template.cache_clear()


def _same_template(a: bytes, b: bytes) -> bool:
    """The same parts with the same content (zip entry times aside)."""
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    return za.namelist() == zb.namelist() and all(za.read(n) == zb.read(n) for n in za.namelist())
