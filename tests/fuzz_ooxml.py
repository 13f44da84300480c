"""Mutations of real OOXML packages, for the fuzz pass over the corpus (tests/test_fuzz_documents.py,
scripts/fuzz_documents.py).

Each mutation changes one XML part of a DOCX/PPTX/XLSX the way real-world writers differ from
Word: an element the schema lets a writer leave out is left out, an arbitrary element is
dropped, the children of an element come in another order, or the attributes of every element
are written in another order. Each is made from a seeded `random.Random`, so a failure is
reproduced from its seed alone, and says what it did (`detail`).

What the reader must do with each (`classify`):
- reordered attributes mean nothing in XML: the inspection must equal the original's;
- a dropped optional element must be read (the LibreOffice repair is allowed; the sweep script
  lists those, since a reader of ours tripping on a missing element is worth fixing);
- anything else may be refused, but with a clear one-line DocumentError: never the catch-all
  message a reader's own exception ends in (a crash).
"""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

KINDS = ("drop_optional", "drop_element", "reorder_children", "reorder_attributes")
NEUTRAL = {"reorder_attributes"}  # the inspection must not change at all

# Elements a real writer may leave out, and readers tend to assume are there (local names).
OPTIONAL = {
    "docx": {
        "tblPr",
        "tblGrid",
        "gridCol",
        "tblW",
        "tblLook",
        "tblStyle",
        "tcPr",
        "tcW",
        "trPr",
        "pPr",
        "rPr",
        "pStyle",
        "sectPr",
        "pgSz",
        "pgMar",
        "cols",
        "rFonts",
        "sz",
        "jc",
        "spacing",
        "ind",
        "docGrid",
        "style",
        "name",
        "basedOn",
        "docDefaults",
        "latentStyles",
        "numPr",
        "extent",
        "docPr",
        "graphicFrameLocks",
    },
    "pptx": {
        "spPr",
        "xfrm",
        "off",
        "ext",
        "bodyPr",
        "lstStyle",
        "pPr",
        "rPr",
        "endParaRPr",
        "nvPr",
        "ph",
        "cNvSpPr",
        "prstGeom",
        "solidFill",
        "latin",
        "sldSz",
        "notesSz",
        "clrMapOvr",
        "txStyles",
        "grpSpPr",
        "chOff",
        "chExt",
        "normAutofit",
        "spAutoFit",
        "defRPr",
    },
    "xlsx": {
        "dimension",
        "sheetViews",
        "sheetFormatPr",
        "cols",
        "col",
        "pageMargins",
        "mergeCells",
        "v",
        "f",
        "is",
        "numFmts",
        "fonts",
        "fills",
        "borders",
        "cellStyleXfs",
        "cellXfs",
        "cellStyles",
        "dxfs",
        "bookViews",
        "workbookPr",
        "calcPr",
        "definedNames",
        "sheetPr",
        "rPr",
        "sz",
        "name",
        "family",
        "scheme",
    },
}
# The parts worth mutating: those the readers parse.
PARTS = {
    "docx": ("word/document.xml", "word/styles.xml", "word/header", "word/footer", "word/comments.xml"),
    "pptx": (
        "ppt/presentation.xml",
        "ppt/slides/slide",
        "ppt/slideLayouts/slideLayout",
        "ppt/slideMasters/slideMaster",
    ),
    "xlsx": ("xl/workbook.xml", "xl/worksheets/sheet", "xl/styles.xml", "xl/sharedStrings.xml"),
}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


@dataclass
class Mutant:
    source: Path  # the corpus file it was made from
    kind: str
    part: str
    detail: str  # what was done, for the failure message
    data: bytes  # the mutated package

    @property
    def label(self) -> str:
        return f"{self.source.parent.name}/{self.source.name} {self.kind} {self.part}: {self.detail}"


def ooxml_kind(path: Path) -> str | None:
    """docx/pptx/xlsx from the package's content types (not the extension); None for anything else."""
    try:
        with zipfile.ZipFile(path) as zf:
            types = zf.read("[Content_Types].xml").decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError, OSError):
        return None
    for kind, marker in (
        ("docx", "wordprocessingml.document.main"),
        ("docx", "ms-word.document"),
        ("pptx", "presentationml.presentation.main"),
        ("pptx", "ms-powerpoint.presentation"),
        ("xlsx", "spreadsheetml.sheet.main"),
        ("xlsx", "ms-excel.sheet.macroEnabled"),
    ):
        if marker in types:
            return kind
    return None


def mutate(path: Path, kind: str, rng: random.Random) -> Mutant | None:
    """One mutation of `kind` in one part of the package at `path`; None when nothing fits."""
    doc_kind = ooxml_kind(path)
    if doc_kind is None:
        return None
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        parts = [i.filename for i in infos if i.filename.endswith(".xml") and i.filename.startswith(PARTS[doc_kind])]
        rng.shuffle(parts)
        for part in parts:
            try:
                root = etree.fromstring(zf.read(part), PARSER)
            except etree.XMLSyntaxError:
                continue
            detail = _apply(kind, root, doc_kind, rng)
            if detail is None:
                continue
            xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            return Mutant(path, kind, part, detail, _repack(zf, infos, part, xml))
    return None


def _apply(kind: str, root, doc_kind: str, rng: random.Random) -> str | None:
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    if kind == "drop_optional":
        found = [e for e in elements if e is not root and etree.QName(e).localname in OPTIONAL[doc_kind]]
        if not found:
            return None
        victim = rng.choice(found)
        detail = f"dropped <{_short(victim)}> ({sum(1 for e in found if e.tag == victim.tag)} in the part)"
        victim.getparent().remove(victim)
        return detail
    if kind == "drop_element":
        found = [e for e in elements if e is not root and e.getparent() is not root]  # keep the part's skeleton
        if not found:
            return None
        victim = rng.choice(found)
        victim.getparent().remove(victim)
        return f"dropped <{_short(victim)}>"
    if kind == "reorder_children":
        found = [e for e in elements if len([c for c in e if isinstance(c.tag, str)]) >= 2]
        if not found:
            return None
        parent = rng.choice(found)
        children = list(parent)
        order = children[:]
        while order == children:
            rng.shuffle(order)
        for child in children:
            parent.remove(child)
        parent.extend(order)
        return f"shuffled the {len(children)} children of <{_short(parent)}>"
    if kind == "reorder_attributes":
        changed = 0
        for e in elements:
            items = list(e.attrib.items())
            if len(items) < 2:
                continue
            shuffled = items[:]
            rng.shuffle(shuffled)
            if shuffled != items:
                e.attrib.clear()
                e.attrib.update(shuffled)
                changed += 1
        return f"reordered the attributes of {changed} elements" if changed else None
    raise ValueError(f"unknown mutation {kind!r}")


def _short(e) -> str:
    q = etree.QName(e)
    prefix = e.prefix or ""
    return f"{prefix}:{q.localname}" if prefix else q.localname


def _repack(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], part: str, xml: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in infos:  # names and dates kept, so a mutant is the same bytes from the same seed
            member = zipfile.ZipInfo(info.filename, info.date_time)
            member.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(member, xml if info.filename == part else zf.read(info))
    return buf.getvalue()


# -- judging what the reader did -------------------------------------------------------------------

CRASH_MARKERS = (
    "cannot be processed (",
    "cannot read its",
    "the document worker failed",
    "the document worker crashed",
)


@dataclass
class Verdict:
    ok: bool
    why: str = ""


def classify(mutant: Mutant, outcome: dict | Exception, original: dict | None) -> Verdict:
    """Whether the reader's outcome on `mutant` is acceptable (see the module docstring).
    `outcome`: the inspection, or the exception the call raised; `original`: the inspection of the
    unmutated file, None when that was refused (then the mutant may be refused too)."""
    from tools.documents.formats import DocumentError

    if isinstance(outcome, Exception):
        message = str(outcome)
        if not isinstance(outcome, DocumentError):
            return Verdict(False, f"raised {type(outcome).__name__}: {message}")
        if "\n" in message or any(m in message for m in CRASH_MARKERS):
            return Verdict(False, f"crashed: {message}")
        if original is not None and (mutant.kind in NEUTRAL or mutant.kind == "drop_optional"):
            return Verdict(False, f"refused a file it must read: {message}")
        return Verdict(True, f"refused clearly: {message}")
    if mutant.kind in NEUTRAL and original is not None and comparable(outcome) != comparable(original):
        return Verdict(False, "the inspection changed though the XML means the same")
    if repaired(outcome) and not (original and repaired(original)):
        return Verdict(
            True,
            "read from a LibreOffice repair: " + "; ".join(n for n in outcome.get("notes", []) if "malformed" in n),
        )
    return Verdict(True, "read")


def repaired(inspection: dict) -> bool:
    return str(inspection.get("converted_from") or "").endswith("(repaired)")


def comparable(inspection: dict) -> dict:
    return {k: v for k, v in inspection.items() if k not in ("file", "size_bytes")}
