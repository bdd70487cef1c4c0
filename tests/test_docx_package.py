"""The fast .docx save (pipeline.output.docx_package) against python-docx's own save of the same draft."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from datetime import datetime

import pytest

from pipeline.models import WordBlock
from pipeline.output import docx_package, docx_writer
from pipeline.output.docx_package import Member, zip_bytes
from pipeline.output.docx_writer import _build, docx_bytes

WHEN = datetime(2025, 1, 10, 9, 30)
FIXED = time.mktime((2025, 3, 4, 5, 6, 8, 0, 0, -1))


def _blocks(title: str, body: str) -> list[WordBlock]:
    return [WordBlock("title", title), WordBlock("h1", "一、坚持理论武装"), WordBlock("body", body),
            WordBlock("signature", "青岚县委书记"), WordBlock("signature", "林某某"), WordBlock("date", "2025-01-10")]


def _python_docx_bytes(blocks: list[WordBlock]) -> bytes:
    doc = _build(blocks, annotate=False, author="林某某", comment_author="林某某", created=WHEN)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both writers stamp zip entries with the local time of the write: freeze it."""
    monkeypatch.setattr(zipfile.time, "time", lambda: FIXED)
    monkeypatch.setattr(docx_package.time, "time", lambda: FIXED)


def test_fast_save_is_python_docx_save_byte_for_byte(frozen_clock: None) -> None:
    """Same members, order, XML, deflate streams and headers: the whole file is identical."""
    for body in ("全年输送合格青年215人。", "基干民兵1800人，完成整组。" * 40, ""):
        blocks = _blocks("2024年度党管武装工作述职报告", body)
        assert docx_bytes(blocks, author="林某某", created=WHEN) == _python_docx_bytes(blocks)


def test_each_write_starts_from_the_template(frozen_clock: None) -> None:
    """The reused copy carries nothing from one draft into the next (body, title, author)."""
    first = _blocks("甲县2024年度述职报告", "甲县的第一份草稿。")
    second = _blocks("乙县2024年度述职报告", "乙县的第二份草稿。")
    docx_bytes(first, author="甲某", created=WHEN)
    again = docx_bytes(second, author="林某某", created=WHEN)
    assert again == _python_docx_bytes(second)
    document = zipfile.ZipFile(io.BytesIO(again)).read("word/document.xml").decode()
    assert "乙县的第二份草稿" in document and "甲县" not in document


def test_a_failed_write_does_not_leak_into_the_next(frozen_clock: None) -> None:
    with pytest.raises(ValueError, match="unknown WordBlock style"):
        docx_bytes([WordBlock("body", "写了一半。"), WordBlock("nonsense", "x")], created=WHEN)
    blocks = _blocks("丙县2024年度述职报告", "完整的草稿。")
    assert docx_bytes(blocks, author="林某某", created=WHEN) == _python_docx_bytes(blocks)


def test_threads_write_their_own_copies() -> None:
    """The web server writes from several threads: each thread gets its own parsed template."""
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


def test_annotated_copies_still_go_through_python_docx() -> None:
    """Comments add a part to the package: that write opens its own document, and the reused copy
    stays fit for the next plain write."""
    body = "全年输送合格青年215人。"
    annotated = [WordBlock("title", "述职报告"), WordBlock("body", body, comments=((6, 10, "来源：征兵"),))]
    names = zipfile.ZipFile(io.BytesIO(docx_bytes(annotated, annotate=True, created=WHEN))).namelist()
    assert "word/comments.xml" in names
    plain = zipfile.ZipFile(io.BytesIO(docx_bytes(annotated, created=WHEN))).namelist()
    assert "word/comments.xml" not in plain


def test_a_package_that_gained_a_part_is_refused() -> None:
    copy = docx_package.TemplateCopy(docx_writer._prepared_template())
    doc = copy.fresh()
    paragraph = doc.add_paragraph()
    doc.add_comment([paragraph.add_run("x")], text="批注", author="甲")
    with pytest.raises(ValueError, match="gained or lost parts"):
        copy.package_bytes()


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
