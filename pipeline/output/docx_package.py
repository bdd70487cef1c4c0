"""A drafted .docx as the prepared template with two parts replaced, without python-docx.

Every draft is built on the same prepared template (`docx_template.build_template`, kept by
`docx_writer`). Of its ~20 parts only the document body (`word/document.xml`) and the core properties
(`docProps/core.xml`) differ between drafts; the rest (the styles alone are ~800 KB of XML) cost more
to parse, serialise and deflate than the whole report. `TemplateParts` reads the template's zip once:
each unchanged part is copied as the deflated bytes the template already holds, the two changed ones
are deflated afresh, in the template's member order.

That is the file python-docx's `Document.save` writes (same members in the same order, same deflate
streams, same zip headers, as `zipfile.writestr` makes them); only the zip entries' times are the
time of the write. `tests/test_docx_package.py` holds the two side by side.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass

DOCUMENT_PART = "word/document.xml"
CORE_PART = "docProps/core.xml"

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


class TemplateParts:
    """The prepared template's members, read once: the unchanged ones as the deflated bytes the
    template holds, and the text of the two a draft replaces."""

    def __init__(self, template: bytes):
        self.template = template
        self.members: list[Member] = []
        with zipfile.ZipFile(io.BytesIO(template)) as archive:
            for info in archive.infolist():
                if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x08 and not info.extra:
                    # The local header's own name and extra lengths locate the data (APPNOTE 4.3.7).
                    name_len, extra_len = struct.unpack_from("<2H", template, info.header_offset + 26)
                    start = info.header_offset + _LOCAL.size + name_len + extra_len
                    member = Member(info.filename.encode("ascii"), info.CRC, info.file_size,
                                    template[start:start + info.compress_size])
                else:           # not what zipfile.writestr makes: deflate the part here
                    member = Member.deflate(info.filename, archive.read(info))
                self.members.append(member)
            self.document = archive.read(DOCUMENT_PART).decode("utf-8")
            self.core = archive.read(CORE_PART).decode("utf-8")

    def package(self, replaced: dict[str, bytes]) -> bytes:
        """The template with the parts named in `replaced` (by member name) replaced."""
        names = {m.name.decode("ascii") for m in self.members}
        if set(replaced) - names:
            raise KeyError(f"the template has no part {sorted(set(replaced) - names)}")
        return zip_bytes([Member.deflate(m.name.decode("ascii"), replaced[m.name.decode("ascii")])
                          if m.name.decode("ascii") in replaced else m for m in self.members])


_PARTS: dict[int, TemplateParts] = {}
_PARTS_LOCK = threading.Lock()


def template_parts(template: bytes) -> TemplateParts:
    """The parts of `template` (kept per template object for the process; members are never changed)."""
    parts = _PARTS.get(id(template))
    if parts is None or parts.template is not template:
        with _PARTS_LOCK:
            parts = TemplateParts(template)
            _PARTS.clear()
            _PARTS[id(template)] = parts
    return parts


__all__ = ["CORE_PART", "DOCUMENT_PART", "Member", "TemplateParts", "template_parts", "zip_bytes"]
