"""The hand labels of the real gauge photos in ../shared/gauges-dev (see its README.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

GAUGES_DEV = Path(__file__).resolve().parents[2] / "shared" / "gauges-dev"


def load_labels(folder: Path = GAUGES_DEV) -> list[dict]:
    """One dict per photo, or [] when the folder is not there."""
    if not (folder / "labels.tsv").exists():
        return []
    with open(folder / "labels.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def full_scale(row: dict) -> float:
    return float(row["max_value"]) - float(row["min_value"])


def labelled_value(row: dict, image_angle: float) -> float:
    """The label's own calibration (angles in the image, from the hand-marked pivot) applied to
    an angle: linear between the scale's ends, or interpolated between the marks."""
    start = float(row["min_angle"])
    cw = row["direction"] == "cw"
    sweep = ((start - float(row["max_angle"])) if cw else (float(row["max_angle"]) - start)) % 360.0

    def travel(a: float) -> float:
        t = ((start - a) if cw else (a - start)) % 360.0
        return t - 360 if t > 360 - (360 - sweep) / 2 else t  # just below the start is negative

    if row["scale"] == "linear":
        low, high = float(row["min_value"]), float(row["max_value"])
        return low + (high - low) * travel(image_angle) / sweep
    marks = sorted(
        (travel(float(a)), float(v)) for v, a in (m.split("@") for m in row["marks_value_at_angle"].split(";"))
    )
    t = travel(image_angle)
    i = int(min(max(np.searchsorted([m[0] for m in marks], t) - 1, 0), len(marks) - 2))
    (t0, v0), (t1, v1) = marks[i], marks[i + 1]
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
