"""What a document file really is, and whether it is safe to hand to a parser.

The format is sniffed from the bytes, never the extension. Before any library or LibreOffice
opens a file, the checks here refuse what would exhaust memory or time: zip archives whose
members inflate past a size or ratio limit, XML parts that declare a DTD (entity-expansion
bombs), encrypted containers, and files that are empty or truncated.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path


class DocumentError(ValueError):
    """A one-line, user-facing reason a document cannot be used (CLI exit 2, tool error)."""


# Limits on what a package may inflate to. Real office files compress XML ~5-30x; the largest
# corpus file inflates to well under 100 MB.
MAX_UNCOMPRESSED_BYTES = 1_000_000_000
MAX_MEMBER_RATIO = 200  # a member larger than RATIO_FLOOR inflating more than this is a bomb
RATIO_FLOOR = 10_000_000
MAX_ZIP_MEMBERS = 20_000
XML_SCAN_CHUNK = 1 << 20
# Cells a workbook may hold: openpyxl needs about 1 KB of memory per cell, LibreOffice about as
# much, and the document worker has a few GB. Real workbooks in the corpus hold at most ~40 000.
MAX_CELLS = 1_000_000
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:c|table-cell)[\s>/]")

OOXML_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.ms-word.document.macroEnabled.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": "docx",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml": "pptx",
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml": "pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.template.macroEnabled.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": "xlsb",
}
ODF_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.graphics": "odg",
}
OOXML_FORMATS = {"docx", "pptx", "xlsx"}
ODF_FORMATS = {"odt", "odp", "ods", "odg"}
LEGACY_FORMATS = {"doc", "ppt", "xls", "xlsb", "rtf"}
# What each format is converted to when the python readers need OOXML.
OOXML_EQUIVALENT = {
    "odt": "docx",
    "doc": "docx",
    "rtf": "docx",
    "odp": "pptx",
    "ppt": "pptx",
    "ods": "xlsx",
    "xls": "xlsx",
    "xlsb": "xlsx",
    "docx": "docx",
    "pptx": "pptx",
    "xlsx": "xlsx",
}

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class Sniffed:
    format: str
    strict: bool = False  # ISO/IEC 29500 Strict namespaces (python readers cannot open these)
    macros: bool = False


def detect_format(path: str | Path) -> str:
    """The document's format from its bytes ("docx", "pptx", "xlsx", "pdf", "odt", "doc", ...).

    Raises DocumentError for missing, empty, truncated, corrupt, encrypted, bomb-like or
    unsupported files.
    """
    return sniff(path).format


def sniff(path: str | Path) -> Sniffed:
    path = Path(path)
    if not path.exists():
        raise DocumentError(f"{path}: no such file")
    if path.is_dir():
        raise DocumentError(f"{path}: is a directory, not a document")
    size = path.stat().st_size
    if size == 0:
        raise DocumentError(f"{path.name}: empty file (0 bytes)")
    with open(path, "rb") as fh:
        head = fh.read(2048)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(path)
    if head.startswith(CFB_MAGIC):
        return Sniffed(_sniff_cfb(path))
    if b"%PDF-" in head[:1024]:
        from tools.documents.pdfcheck import check_pdf

        check_pdf(path)
        return Sniffed("pdf")
    if head.startswith(b"{\\rtf"):
        return Sniffed("rtf")
    if (
        len(head) >= 4
        and struct.unpack("<H", head[:2])[0] in (0x0009, 0x0209, 0x0409)
        and head[2:4] in (b"\x04\x00", b"\x06\x00")
    ):
        return Sniffed("xls")  # BIFF2-4 worksheet stored as a bare stream, not in a CFB container
    kind = _describe_other(head)
    raise DocumentError(
        f"{path.name}: not a supported document ({kind}); supported: DOCX, PPTX, XLSX, ODT/ODP/ODS, DOC/PPT/XLS, PDF"
    )


def _describe_other(head: bytes) -> str:
    signatures = {
        b"\x89PNG": "a PNG image",
        b"\xff\xd8\xff": "a JPEG image",
        b"GIF8": "a GIF image",
        b"\x1f\x8b": "gzip data",
        b"Rar!": "a RAR archive",
        b"7z\xbc\xaf": "a 7-zip archive",
    }
    for magic, name in signatures.items():
        if head.startswith(magic):
            return f"it is {name}"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "it is HTML"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512]):
        return "it is plain text"
    return "unrecognised content"


# -- zip packages (OOXML, ODF) -------------------------------------------------------------


def _sniff_zip(path: Path) -> Sniffed:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DocumentError(f"{path.name}: corrupt or truncated zip package ({exc})") from None
    with zf:
        infos = zf.infolist()
        check_zip_limits(path, infos)
        names = {i.filename for i in infos}
        if "mimetype" in names:
            mimetype = _read_small(zf, "mimetype", path).decode("ascii", "replace").strip()
            fmt = ODF_MIMETYPES.get(mimetype)
            if fmt is None:
                raise DocumentError(f"{path.name}: OpenDocument type {mimetype!r} is not supported")
            check_xml_parts(path, zf, infos)
            return Sniffed(fmt)
        if "[Content_Types].xml" not in names:
            raise DocumentError(f"{path.name}: a zip archive but not an Office document (no [Content_Types].xml)")
        check_xml_parts(path, zf, infos)
        types = _read_small(zf, "[Content_Types].xml", path).decode("utf-8", "replace")
        fmt = None
        for content_type, name in OOXML_MAIN_TYPES.items():
            if f'"{content_type}"' in types:
                fmt = name
                break
        if fmt is None:
            raise DocumentError(f"{path.name}: an OPC package with no Word, PowerPoint or Excel main part")
        strict = any(
            _starts_with_strict(zf, i)
            for i in infos
            if i.filename.endswith(".xml") and "/" in i.filename and i.filename.count("/") == 1
        )
        macros = "vbaProject" in types or any(n.endswith("vbaProject.bin") for n in names)
        return Sniffed(fmt, strict=strict, macros=macros)


def check_zip_limits(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse zip bombs from the central directory alone, before inflating anything."""
    if len(infos) > MAX_ZIP_MEMBERS:
        raise DocumentError(
            f"{path.name}: {len(infos)} archive members is above the limit of {MAX_ZIP_MEMBERS} (possible zip bomb)"
        )
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_MEMBER_RATIO * max(info.compress_size, 1):
            raise DocumentError(
                f"{path.name}: member {info.filename} inflates {info.file_size // max(info.compress_size, 1)}x "
                f"to {info.file_size:,} bytes (zip bomb); refusing to open it"
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DocumentError(
            f"{path.name}: inflates to {total:,} bytes, above the {MAX_UNCOMPRESSED_BYTES:,}-byte limit (possible zip bomb)"
        )


def check_xml_parts(path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse XML parts that declare a DTD: entity expansion ("billion laughs") and external
    entities both need one, and no valid OOXML or ODF part has one. The scan ignores NUL bytes,
    so a part in UTF-16 or UTF-32 (with or without a byte-order mark) is read as well as UTF-8;
    a part that does not start like XML in one of those is refused, since a parser might
    decode it some other way (EBCDIC) and find a DTD the scan did not. Workbooks whose sheets
    hold more than MAX_CELLS cells are refused too."""
    cells = 0
    for info in infos:
        name = info.filename
        if not (name.endswith((".xml", ".rels", ".vml")) or name == "[Content_Types].xml"):
            continue
        counts_cells = name.startswith("xl/worksheets/") or name == "content.xml"
        try:
            with zf.open(info) as part:
                tail = b""
                first = True
                while chunk := part.read(XML_SCAN_CHUNK):
                    text = chunk.replace(b"\x00", b"")
                    if first:
                        first = False
                        start = text.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n")
                        if start and not start.startswith(b"<"):
                            raise DocumentError(
                                f"{path.name}: XML part {name} is not in an encoding this reader accepts "
                                "(UTF-8, UTF-16 or UTF-32); refusing to parse it"
                            )
                    window = tail + text
                    if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                        raise _dtd_error(path, name)
                    if counts_cells:
                        cells += len(_CELL.findall(window)) - len(_CELL.findall(tail))
                        if cells > MAX_CELLS:
                            raise DocumentError(
                                f"{path.name}: holds more than {MAX_CELLS:,} cells, above what the "
                                "document worker reads; split the workbook or delete unused rows"
                            )
                    tail = window[-32:]
        except DocumentError:
            raise
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            RuntimeError,
            ValueError,
            NotImplementedError,
            zlib.error,
        ) as exc:
            raise DocumentError(
                f"{path.name}: corrupt or truncated package part {name} ({exc.__class__.__name__}: {exc})"
            ) from None


def _dtd_error(path: Path, part: str) -> DocumentError:
    return DocumentError(
        f"{path.name}: XML part {part} declares a DTD/entities (possible entity-expansion bomb); refusing to parse it"
    )


def _read_small(zf: zipfile.ZipFile, name: str, path: Path, limit: int = 4_000_000) -> bytes:
    try:
        with zf.open(name) as fh:
            return fh.read(limit)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError, zlib.error) as exc:
        raise DocumentError(f"{path.name}: corrupt package part {name} ({exc})") from None


def _starts_with_strict(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    try:
        with zf.open(info) as fh:
            head = fh.read(4096)
    except Exception:
        return False
    return b"http://purl.oclc.org/ooxml/" in head


# -- CFB / OLE2 compound files: legacy Office and encrypted OOXML ----------------------------


def _sniff_cfb(path: Path) -> str:
    names = cfb_stream_names(path)
    if "EncryptedPackage" in names or "EncryptionInfo" in names:
        raise DocumentError(
            f"{path.name}: password-protected (encrypted) Office file; remove the password in Office/LibreOffice and try again"
        )
    if "WordDocument" in names:
        return "doc"
    if "PowerPoint Document" in names:
        return "ppt"
    if "Workbook" in names or "Book" in names:
        return "xls"
    raise DocumentError(f"{path.name}: an OLE2 compound file that is not a Word, Excel or PowerPoint document")


def cfb_stream_names(path: Path) -> set[str]:
    """Names in a compound file's directory, following the FAT chain with loop and bounds checks."""
    data = path.read_bytes() if path.stat().st_size <= 200_000_000 else None
    if data is None:
        raise DocumentError(f"{path.name}: OLE2 file larger than 200 MB is not supported")
    corrupt = DocumentError(f"{path.name}: corrupt OLE2 compound file (broken sector chain)")
    if len(data) < 512:
        raise DocumentError(f"{path.name}: truncated OLE2 compound file ({len(data)} bytes)")
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        raise corrupt
    sector = 1 << shift
    n_sectors = (len(data) - sector) // sector + 1

    def sector_bytes(i: int) -> bytes:
        off = (i + 1) * sector
        if i < 0 or off >= len(data):
            raise corrupt
        return data[off : off + sector].ljust(sector, b"\xff")

    difat = list(struct.unpack_from("<109i", data, 0x4C))
    next_difat = struct.unpack_from("<i", data, 0x44)[0]
    seen = set()
    while next_difat >= 0:
        if next_difat in seen or len(seen) > n_sectors:
            raise corrupt
        seen.add(next_difat)
        block = sector_bytes(next_difat)
        entries = struct.unpack(f"<{sector // 4}i", block)
        difat.extend(entries[:-1])
        next_difat = entries[-1]
    fat: list[int] = []
    for s in difat:
        if s < 0:
            continue
        fat.extend(struct.unpack(f"<{sector // 4}i", sector_bytes(s)))
    dir_sector = struct.unpack_from("<i", data, 0x30)[0]
    names: set[str] = set()
    visited = set()
    while dir_sector >= 0:
        if dir_sector in visited or dir_sector >= len(fat):
            raise corrupt
        visited.add(dir_sector)
        block = sector_bytes(dir_sector)
        for off in range(0, len(block) - 127, 128):
            length = struct.unpack_from("<H", block, off + 0x40)[0]
            if 2 <= length <= 64:
                names.add(block[off : off + length - 2].decode("utf-16-le", "replace"))
        dir_sector = fat[dir_sector]
    if not names:
        raise corrupt
    return names
