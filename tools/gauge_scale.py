"""A dial's scale: the numbers printed on it, placed at their angles, and the calibration from
needle angle to value they imply (linear, or piecewise for non-linear scales), plus the unit.

Angles are degrees on the dial's plane (0 = right, counter-clockwise), measured from the pivot.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

# Units as printed on dials, matched case-insensitively after removing spaces and brackets.
UNITS = {
    "psi": "psi",
    "lb/in2": "psi",
    "lbin2": "psi",
    "psig": "psi",
    "ps": "psi",  # the needle often hides the i
    "bar": "bar",
    "mbar": "mbar",
    "kpa": "kPa",
    "mpa": "MPa",
    "pa": "Pa",
    "kg/cm2": "kg/cm²",
    "kgf/cm2": "kg/cm²",
    "kg/cm²": "kg/cm²",
    "inhg": "inHg",
    "mmhg": "mmHg",
    "inh2o": "inH2O",
    "mmh2o": "mmH2O",
    "°c": "°C",
    "℃": "°C",
    "oc": "°C",
    "°f": "°F",
    "℉": "°F",
    "v": "V",
    "kv": "kV",
    "mv": "mV",
    "a": "A",
    "ma": "mA",
    "ka": "kA",
    "μa": "µA",
    "ua": "µA",
    "hz": "Hz",
    "w": "W",
    "kw": "kW",
    "%": "%",
    "rpm": "rpm",
    "x1000rpm": "×1000 rpm",
    "rh%": "%RH",
    "%rh": "%RH",
}
# Single letters that are units only when printed alone in capitals (a lone "a" or "w" is a word).
CAPITAL_ONLY = {"v", "a", "w"}

_NUMBER = re.compile(r"^[-−–]?(\d+(\.\d+)?|\.\d+)$")
# Letters OCR confuses with digits, replaced only inside tokens that are otherwise numbers.
_DIGIT_LOOKALIKES = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1", "|": "1", "S": "5", ",": "."}
)


@dataclass
class Number:
    text: str
    value: float
    angle: float  # plane degrees from the pivot, of the number's centre
    radius: float  # rectified pixels from the pivot
    box: tuple[float, float, float, float]  # work pixels
    used: bool = False


@dataclass
class Calibration:
    """Value as a function of angle: marks (value, angle) in order of increasing value."""

    marks: list[tuple[float, float]]
    direction: str  # "cw" or "ccw": the way values increase
    kind: str  # "linear" or "piecewise"
    source: str  # "inferred from N numbers", "given", ...

    @property
    def min_value(self) -> float:
        return self.marks[0][0]

    @property
    def max_value(self) -> float:
        return self.marks[-1][0]

    @property
    def min_angle(self) -> float:
        return self.marks[0][1]

    @property
    def max_angle(self) -> float:
        return self.marks[-1][1]

    @property
    def sweep(self) -> float:
        return self.travel(self.max_angle, wrap=False) or 360.0

    def travel(self, angle: float, wrap: bool = True) -> float:
        """Degrees from the scale's start to `angle` the way values increase; just short of the
        start (a needle resting on its stop below zero) is negative."""
        t = (self.min_angle - angle) % 360.0 if self.direction == "cw" else (angle - self.min_angle) % 360.0
        if wrap and t > 360.0 - 0.5 * (360.0 - self._sweep_raw()):
            t -= 360.0
        return t

    def _sweep_raw(self) -> float:
        s = (
            (self.min_angle - self.max_angle) % 360.0
            if self.direction == "cw"
            else (self.max_angle - self.min_angle) % 360.0
        )
        return s or 360.0

    def value_at(self, angle: float) -> float:
        t = self.travel(angle)
        ts = [self.travel(a, wrap=False) if i else 0.0 for i, (_, a) in enumerate(self.marks)]
        vs = [v for v, _ in self.marks]
        if self.kind == "linear" or len(self.marks) == 2:
            slope, intercept = np.polyfit(ts, vs, 1)
            return float(slope * t + intercept)
        # piecewise: interpolate between neighbouring marks, extend the end segments
        if t <= ts[0]:
            i = 0
        elif t >= ts[-1]:
            i = len(ts) - 2
        else:
            i = max(k for k in range(len(ts) - 1) if ts[k] <= t)
        t0, t1, v0, v1 = ts[i], ts[i + 1], vs[i], vs[i + 1]
        return float(v0 + (v1 - v0) * (t - t0) / (t1 - t0)) if t1 != t0 else float(v0)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "direction": self.direction,
            "min_value": _clean(self.min_value),
            "max_value": _clean(self.max_value),
            "min_angle": round(self.min_angle, 2),
            "max_angle": round(self.max_angle, 2),
            "marks": [{"value": _clean(v), "angle": round(a, 2)} for v, a in self.marks],
            "source": self.source,
        }


def _clean(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(v, 6)


def parse_number(text: str) -> float | None:
    t = text.strip().rstrip(".").translate(_DIGIT_LOOKALIKES)
    if t[:1] in ("=", "~") and t[1:2].isdigit():  # a minus sign read with a stray stroke
        t = "-" + t[1:]
    if not _NUMBER.match(t) or len(t) > 7:
        return None
    return float(t.replace("−", "-").replace("–", "-"))


def parse_unit(text: str) -> str | None:
    key = re.sub(r"[\s()\[\]]", "", text).lower().replace("²", "2").replace("º", "°")
    if key in CAPITAL_ONLY and not text.strip().isupper():
        return None
    return UNITS.get(key)


def infer_calibration(
    numbers: list[Number], ring_radius: float, ticks: list[float] | None
) -> tuple[Calibration | None, list[Calibration]]:
    """The scale the numbers spell out: group them by radius (two scales are two rings), keep in
    each the numbers that increase steadily round the dial, and fit angle → value. Returns the
    main scale and the others: the outermost with 4 or more numbers in order (a dial's main scale
    is its outer one), else the one with the most."""
    scales = []
    for group in _rings(numbers, ring_radius):
        found = _scale_of(group, ticks)
        if found is not None:
            cal, used = found
            scales.append((len(cal.marks), float(np.median([n.radius for n in used])), cal, used))
    for n in numbers:
        n.used = False
    if not scales:
        return None, []
    scales.sort(key=lambda s: (min(s[0], 4), s[1] if s[0] >= 4 else s[0]), reverse=True)
    for n in scales[0][3]:
        n.used = True
    return scales[0][2], [s[2] for s in scales[1:]]


def _rings(numbers: list[Number], ring_radius: float) -> list[list[Number]]:
    ordered = sorted(numbers, key=lambda n: n.radius)
    groups: list[list[Number]] = []
    for n in ordered:
        if groups and n.radius - groups[-1][-1].radius <= 0.1 * ring_radius:
            groups[-1].append(n)
        else:
            groups.append([n])
    return [g for g in groups if len(g) >= 3]


def _scale_of(group: list[Number], ticks: list[float] | None) -> tuple[Calibration, list[Number]] | None:
    # Where the scale starts: try a cut before each number, both ways round, and keep the
    # ordering in which the most numbers increase steadily (the widest gap between numbers is
    # not always the dead zone: a 320-degree scale's gap is narrower than its number spacing).
    best = None
    for cut in group:
        for direction in ("cw", "ccw"):
            sign = 1 if direction == "cw" else -1
            items = sorted(group, key=lambda n: (sign * (cut.angle - n.angle)) % 360.0)
            keep = _longest_increasing(items)
            if best is None or len(keep) > len(best[1]):
                best = (direction, keep)
    direction, keep = best
    keep = _evenly_spread(keep, direction)
    if len(keep) < 3:
        return None
    marks = [(n.value, _snap(n.angle, ticks)) for n in keep]
    travel = np.array([(marks[0][1] - a) % 360.0 if direction == "cw" else (a - marks[0][1]) % 360.0 for _, a in marks])
    vals = np.array([v for v, _ in marks])
    span = vals[-1] - vals[0]
    if span <= 0 or travel[-1] <= 0:
        return None
    # a linear scale if some line explains at least 3/4 of the marks within 2% of the span;
    # the rest are misreads (a glint turning 100 into 106) and are dropped
    best_inliers = None
    for a in range(len(marks)):
        for b in range(a + 1, len(marks)):
            if travel[b] == travel[a]:
                continue
            slope = (vals[b] - vals[a]) / (travel[b] - travel[a])
            if slope <= 0:
                continue
            inliers = np.abs(vals[a] + slope * (travel - travel[a]) - vals) <= 0.02 * span
            if best_inliers is None or inliers.sum() > best_inliers.sum():
                best_inliers = inliers
    if best_inliers is not None and best_inliers.sum() >= max(3, math.ceil(0.75 * len(marks))):
        chosen = [m for m, ok in zip(marks, best_inliers) if ok]
        used = [n for n, ok in zip(keep, best_inliers) if ok]
        kind = "linear"
    else:
        chosen, used, kind = marks, keep, "piecewise"
    return Calibration(chosen, direction, kind, f"inferred from {len(chosen)} numbers on the dial"), used


def _evenly_spread(items: list[Number], direction: str) -> list[Number]:
    """Drop numbers whose spacing (degrees per unit) is far from the others': a number misread,
    or one from another ring, breaks the rhythm even a non-linear scale keeps."""
    items = list(items)
    while len(items) >= 3:
        steps = []
        for a, b in zip(items, items[1:]):
            degrees = ((a.angle - b.angle) if direction == "cw" else (b.angle - a.angle)) % 360.0
            steps.append(max(degrees, 1e-3) / (b.value - a.value))
        typical = float(np.median(steps))
        worst = max(range(len(steps)), key=lambda i: abs(math.log(steps[i] / typical)))
        if abs(math.log(steps[worst] / typical)) <= math.log(3.5):
            break
        items.pop(0 if worst == 0 else worst + 1)
    return items


def _longest_increasing(items: list[Number]) -> list[Number]:
    """The longest run (not necessarily contiguous) of strictly increasing values, in order."""
    best: list[list[Number]] = []
    for k, n in enumerate(items):
        options = [seq for seq in best[:k] if seq[-1].value < n.value]
        best.append(max(options, key=len) + [n] if options else [n])
    return max(best, key=len) if best else []


def _snap(angle: float, ticks: list[float] | None) -> float:
    """A number sits on its major tick; the tick's angle is sharper than the text box's centre."""
    if not ticks:
        return angle
    nearest = min(ticks, key=lambda t: abs((t - angle + 180) % 360 - 180))
    return nearest if abs((nearest - angle + 180) % 360 - 180) <= 2.5 else angle


def linear_calibration(
    min_angle: float, max_angle: float, min_value: float, max_value: float, direction: str, source: str
) -> Calibration:
    return Calibration([(min_value, min_angle), (max_value, max_angle)], direction, "linear", source)
