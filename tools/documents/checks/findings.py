"""A QA finding: which rule, how bad, where on which rendered page, and what to do about it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SEVERITIES = ("error", "warning", "info")

# Rule ids and what each one means (docs/checks-and-edits.md explains each in full).
RULES = {
    "text-overflow": "text does not fit its box (or runs off the slide)",
    "off-page": "a shape or text lies partly or wholly outside the page/slide",
    "text-overlap": "two text boxes overlap",
    "small-font": "text below a readable size",
    "placeholder-text": "leftover placeholder text (lorem ipsum, xxxx, TODO, {{...}})",
    "font-substituted": "a font the document names is not installed; the render used another",
    "formula-error": "a formula evaluates to an error after recalculation",
    "formula-no-cached-value": "a formula has no stored value (readers that do not recalculate show blank)",
    "blank-page": "a page with nothing on it",
    "no-text-layer": "a page with content but no extractable text (scanned or outlined)",
    "empty-slide": "a slide with no text and no pictures",
}


@dataclass
class Box:
    """A region of a rendered page in 0-1000 coordinates of that page."""

    x_min: int
    y_min: int
    x_max: int
    y_max: int

    @classmethod
    def from_points(cls, left: float, top: float, right: float, bottom: float, page_w: float, page_h: float) -> "Box":
        """From a box in points (top-left origin) on a page of page_w x page_h points, clipped to the page."""

        def clip(v: float) -> int:
            return int(round(min(1000.0, max(0.0, v))))

        return cls(
            clip(left / page_w * 1000),
            clip(top / page_h * 1000),
            clip(right / page_w * 1000),
            clip(bottom / page_h * 1000),
        )

    def __str__(self) -> str:
        return f"({self.x_min},{self.y_min})-({self.x_max},{self.y_max})"


@dataclass
class Finding:
    rule: str
    severity: str
    message: str
    fix: str
    page: int | None = None  # 1-based page or slide of the render
    box: Box | None = None  # where on that page, 0-1000
    element: str | None = None  # the shape, cell, paragraph or font concerned
    file: str | None = None
    evidence: str = "structure"  # "render" when measured on the rendered pages
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["extra"]:
            data.pop("extra")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Finding":
        """A finding as to_dict wrote it (the worker's report, read back in the agent)."""
        fields = {
            k: data[k]
            for k in ("rule", "severity", "message", "fix", "page", "element", "file", "evidence", "extra")
            if k in data
        }
        if fields.get("severity") not in SEVERITIES or not isinstance(fields.get("rule"), str):
            raise ValueError(f"not a finding: {str(data)[:120]}")
        box = data.get("box")
        return cls(**fields, box=Box(**{k: int(box[k]) for k in ("x_min", "y_min", "x_max", "y_max")}) if box else None)

    def where(self) -> str:
        parts = []
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.element:
            parts.append(self.element)
        if self.box is not None:
            parts.append(f"at {self.box}")
        return ", ".join(parts) or "whole file"


# Words that mean "someone meant to replace this". Case matters for TODO/TBD/FIXME (a "todo
# list" in prose is fine); lorem ipsum and runs of x are caught in any case.
PLACEHOLDER = re.compile(
    r"\blorem\b|\bipsum dolor\b|(?<![a-z])x{4,}(?![a-z])|\bTODO\b|\bTBD\b|\bFIXME\b|\{\{|\}\}|"
    r"\bclick to (?:add|edit)\b|\[insert\b|<insert\b",
    re.IGNORECASE,
)
_CASE_SENSITIVE = {"todo", "tbd", "fixme"}


def placeholder_matches(text: str) -> list[str]:
    found = []
    for m in PLACEHOLDER.finditer(text):
        word = m.group(0)
        if word.lower() in _CASE_SENSITIVE and word != word.upper():
            continue
        found.append(word)
    return found


def snippet(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class CheckReport:
    file: Path
    format: str
    findings: list[Finding]
    pages: list[Path] = field(default_factory=list)  # rendered page PNGs (empty when not rendered)
    page_numbers: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def summary(self) -> str:
        c = self.counts()
        if not self.findings:
            return f"{self.file.name}: clean, no findings"
        return f"{self.file.name}: {c['error']} error(s), {c['warning']} warning(s), {c['info']} note(s)"

    def to_dict(self) -> dict:
        return {
            "file": str(self.file),
            "format": self.format,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
        }

    def format_text(self) -> str:
        lines = [self.summary()]
        for n, f in enumerate(self.findings, 1):
            lines.append(f"{n}. [{f.severity}] {f.rule} ({f.where()}): {f.message}")
            lines.append(f"   fix: {f.fix}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: Any, file: Path) -> "CheckReport":
        """The report as to_dict wrote it, checked: the worker's word is data, not objects."""
        if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
            raise ValueError("the document worker returned no check report")
        findings = [Finding.from_dict(f) for f in data["findings"]]
        notes = [n for n in data.get("notes", []) if isinstance(n, str)]
        return cls(file, str(data.get("format", "?")), findings, notes=notes)
