"""Saving a drafted .docx without re-serialising and re-compressing the parts a draft never changes.

`docx_writer` builds every draft on the same prepared template. Of its ~20 parts only the document
body (`word/document.xml`) and the core properties (`docProps/core.xml`) differ between drafts; the
styles alone (styles.xml and stylesWithEffects.xml, ~800 KB of XML) cost more to parse, serialise and
deflate than the whole report. `TemplateCopy` keeps one parsed copy of the template per thread, gives
each write a pristine body and core properties, and `package_bytes` writes the package with the
unchanged parts' deflated bytes computed once.

The file is what python-docx's `Document.save` writes (same members in the same order, same XML,
same deflate stream, same zip headers); only the zip entries' times are the time of the write.
`tests/test_docx_package.py` holds the two side by side.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from docx import Document
from docx.document import Document as DocxDocument
from docx.opc.packuri import CONTENT_TYPES_URI, PACKAGE_URI, PackURI
from docx.opc.part import Part
from docx.opc.pkgwriter import _ContentTypesItem
from docx.oxml.parser import parse_xml

DOCUMENT_PART = "/word/document.xml"
CORE_PART = "/docProps/core.xml"

# Zip record layouts (PKWARE APPNOTE 4.3.7, 4.3.12, 4.3.16), as Python's zipfile writes them.
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_VERSION = 20                        # deflate
_UNIX = 3                            # "made by" system zipfile records on POSIX
_ATTRIBUTES = 0o600 << 16            # what zipfile.writestr gives a member


@dataclass(frozen=True)
class Member:
    """One deflated zip member, ready to be written at any offset."""

    name: bytes
    crc: int
    size: int
    data: bytes                       # raw deflate stream

    @classmethod
    def deflate(cls, name: str, blob: bytes) -> Member:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        return cls(name.encode("ascii"), zlib.crc32(blob), len(blob), compressor.compress(blob) + compressor.flush())


def zip_bytes(members: list[Member], when: tuple[int, ...] | None = None) -> bytes:
    """A zip archive of `members` in order, stamped `when` (local time, as zipfile.writestr does)."""
    year, month, day, hour, minute, second = (when or time.localtime(time.time()))[:6]
    dos_date = (year - 1980) << 9 | month << 5 | day
    dos_time = hour << 11 | minute << 5 | second // 2
    out = io.BytesIO()
    central = []
    for m in members:
        offset = out.tell()
        out.write(_LOCAL.pack(b"PK\x03\x04", _VERSION, 0, 0, zipfile.ZIP_DEFLATED, dos_time, dos_date,
                              m.crc, len(m.data), m.size, len(m.name), 0))
        out.write(m.name)
        out.write(m.data)
        central.append(_CENTRAL.pack(b"PK\x01\x02", _VERSION, _UNIX, _VERSION, 0, 0, zipfile.ZIP_DEFLATED,
                                     dos_time, dos_date, m.crc, len(m.data), m.size, len(m.name), 0, 0, 0, 0,
                                     _ATTRIBUTES, offset) + m.name)
    start = out.tell()
    for record in central:
        out.write(record)
    out.write(_END.pack(b"PK\x05\x06", 0, 0, len(members), len(members), out.tell() - start, start, 0))
    return out.getvalue()


class TemplateCopy:
    """One parsed copy of a template package, reused write after write by one thread.

    A write may change only the document body and the core properties (`fresh` hands out both
    pristine); every other part keeps the template's bytes, deflated once. A write that adds
    parts (comments) must not use it: `package_bytes` refuses a package whose parts changed."""

    def __init__(self, template: bytes):
        self.template = template
        self.document = Document(io.BytesIO(template))
        package = self.document.part.package
        self._parts: dict[str, Part] = {str(p.partname): p for p in package.iter_parts()}
        with zipfile.ZipFile(io.BytesIO(template)) as archive:
            self._pristine = {name: archive.read(name.lstrip("/")) for name in (DOCUMENT_PART, CORE_PART)}
        self._static: dict[str, Member] = {}

    def fresh(self) -> DocxDocument:
        """The document with the template's own (empty) body and core properties."""
        for name, xml in self._pristine.items():
            self._parts[name]._element = parse_xml(xml)
        return self._parts[DOCUMENT_PART].document

    def package_bytes(self) -> bytes:
        """The package as python-docx would save it (see the module docstring)."""
        package = self.document.part.package
        parts = package.parts
        if {str(p.partname) for p in parts} != set(self._parts):
            raise ValueError("the package gained or lost parts; save it with python-docx instead")
        members = [self._static_member(CONTENT_TYPES_URI, lambda: _ContentTypesItem.from_parts(parts).blob),
                   self._static_member(PACKAGE_URI.rels_uri, lambda: package.rels.xml)]
        for part in parts:
            changing = str(part.partname) in self._pristine
            if changing:
                members.append(Member.deflate(part.partname.membername, part.blob))
            else:
                members.append(self._static_member(part.partname, lambda part=part: part.blob))
            if len(part.rels):
                if changing:        # the body's relationships are written afresh, like its XML
                    members.append(Member.deflate(part.partname.rels_uri.membername, part.rels.xml))
                else:
                    members.append(self._static_member(part.partname.rels_uri, lambda part=part: part.rels.xml))
        return zip_bytes(members)

    def _static_member(self, uri: PackURI, blob: Callable[[], bytes]) -> Member:
        """A member no write changes, deflated the first time it is written."""
        member = self._static.get(uri.membername)
        if member is None:
            member = self._static[uri.membername] = Member.deflate(uri.membername, blob())
        return member


_LOCAL_COPIES = threading.local()


def template_copy(template: bytes) -> TemplateCopy:
    """This thread's copy of `template` (a new one when the template bytes changed)."""
    copy = getattr(_LOCAL_COPIES, "copy", None)
    if copy is None or copy.template is not template:
        copy = _LOCAL_COPIES.copy = TemplateCopy(template)
    return copy


__all__ = ["Member", "TemplateCopy", "template_copy", "zip_bytes"]
