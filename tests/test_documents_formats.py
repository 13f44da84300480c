"""Format sniffing and hostile input: every bad file gives a one-line DocumentError, quickly."""

from __future__ import annotations

import struct
import zipfile

import pytest

from tests.documents_builders import make_docx, make_pdf, make_pptx, make_xlsx_with_stale_value, rewrite_part
from tools.documents import DocumentError, detect_format
from tools.documents.formats import MAX_UNCOMPRESSED_BYTES, cfb_stream_names


def one_line_error(exc_info) -> str:
    message = str(exc_info.value)
    assert message and "\n" not in message
    return message


def test_formats_are_sniffed_from_bytes_not_names(tmp_path):
    docx = make_docx(tmp_path / "a.docx")
    pptx = make_pptx(tmp_path / "b.pptx")
    xlsx = make_xlsx_with_stale_value(tmp_path / "c.xlsx")
    pdf = make_pdf(tmp_path / "d.pdf")
    assert [detect_format(p) for p in (docx, pptx, xlsx, pdf)] == ["docx", "pptx", "xlsx", "pdf"]
    # the same bytes under misleading names
    for src, wrong_name, expected in [
        (pdf, "looks.docx", "pdf"),
        (docx, "looks.pdf", "docx"),
        (xlsx, "looks.pptx", "xlsx"),
    ]:
        renamed = tmp_path / wrong_name
        renamed.write_bytes(src.read_bytes())
        assert detect_format(renamed) == expected


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr("word/document.xml", b"\0" * 60_000_000)  # ~60 KB compressed, 1000x ratio
    with pytest.raises(DocumentError) as exc:
        detect_format(bomb)
    assert "zip bomb" in one_line_error(exc)


def test_zip_with_lying_sizes_is_refused(tmp_path):
    """A central directory claiming gigabytes is refused from the directory alone."""
    src = make_xlsx_with_stale_value(tmp_path / "ok.xlsx")
    data = bytearray(src.read_bytes())
    claimed = MAX_UNCOMPRESSED_BYTES // 2 + 1
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:  # central directory entries
        struct.pack_into("<I", data, pos + 24, claimed)  # uncompressed size
        struct.pack_into("<I", data, pos + 20, claimed)  # compressed size (keeps the ratio innocent)
        pos += 4
    liar = tmp_path / "liar.xlsx"
    liar.write_bytes(bytes(data))
    with pytest.raises(DocumentError) as exc:
        detect_format(liar)
    assert "limit" in one_line_error(exc)


def test_xml_entity_bomb_inside_a_part_is_refused(tmp_path):
    good = make_docx(tmp_path / "good.docx")
    lol = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10) for i in range(1, 10)
        )
        + b"]>\n"
    )
    bomb = rewrite_part(good, tmp_path / "bomb.docx", "word/document.xml", lambda data: lol + data.split(b"?>", 1)[1])
    with pytest.raises(DocumentError) as exc:
        detect_format(bomb)
    assert "entity" in one_line_error(exc)


def test_truncated_empty_and_non_documents(tmp_path):
    good = make_pptx(tmp_path / "good.pptx")
    truncated = tmp_path / "cut.pptx"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    text = tmp_path / "notes.docx"
    text.write_text("just some text, not a document\n")
    png = tmp_path / "picture.pdf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    expectations = {truncated: "truncated", empty: "empty", text: "plain text", png: "PNG"}
    for path, word in expectations.items():
        with pytest.raises(DocumentError) as exc:
            detect_format(path)
        assert word in one_line_error(exc), path
    with pytest.raises(DocumentError):
        detect_format(tmp_path / "missing.docx")


def test_encrypted_pdf_says_so_but_owner_only_encryption_opens(tmp_path):
    locked = make_pdf(tmp_path / "locked.pdf", user_password="secret", owner_password="owner")
    with pytest.raises(DocumentError) as exc:
        detect_format(locked)
    assert "encrypted" in one_line_error(exc)
    owner_only = make_pdf(tmp_path / "owner.pdf", user_password="", owner_password="owner")
    assert detect_format(owner_only) == "pdf"


def _cfb(names: list[str]) -> bytes:
    """A minimal compound file: header, one FAT sector, one directory sector with `names`."""
    sector = 512
    header = bytearray(sector)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHH", header, 0x18, 0x3E, 3, 0xFFFE)
    struct.pack_into("<H", header, 0x1E, 9)
    struct.pack_into("<H", header, 0x20, 6)
    struct.pack_into("<I", header, 0x2C, 1)  # one FAT sector
    struct.pack_into("<i", header, 0x30, 1)  # directory starts at sector 1
    struct.pack_into("<i", header, 0x44, -2)  # no DIFAT chain
    difat = [0] + [-1] * 108
    struct.pack_into("<109i", header, 0x4C, *difat)
    fat = [-3, -2] + [-1] * 126  # sector 0 is the FAT, sector 1 the directory (end of chain)
    fat_sector = struct.pack("<128i", *fat)
    directory = bytearray(sector)
    for i, name in enumerate(["Root Entry", *names][:4]):
        encoded = name.encode("utf-16-le") + b"\0\0"
        directory[i * 128 : i * 128 + len(encoded)] = encoded
        struct.pack_into("<H", directory, i * 128 + 0x40, len(encoded))
    return bytes(header) + fat_sector + bytes(directory)


def test_legacy_and_encrypted_compound_files(tmp_path):
    cases = {"doc": ["WordDocument", "1Table"], "xls": ["Workbook"], "ppt": ["PowerPoint Document"]}
    for fmt, names in cases.items():
        path = tmp_path / f"legacy.{fmt}"
        path.write_bytes(_cfb(names))
        assert cfb_stream_names(path) >= set(names)
        assert detect_format(path) == fmt
    encrypted = tmp_path / "secret.docx"
    encrypted.write_bytes(_cfb(["EncryptionInfo", "EncryptedPackage"]))
    with pytest.raises(DocumentError) as exc:
        detect_format(encrypted)
    assert "encrypted" in one_line_error(exc)
    broken = tmp_path / "broken.xls"
    data = bytearray(_cfb(["Workbook"]))
    struct.pack_into("<i", data, 0x30, 4000)  # directory sector far past the end
    broken.write_bytes(bytes(data))
    with pytest.raises(DocumentError) as exc:
        detect_format(broken)
    assert "corrupt" in one_line_error(exc)
