"""Where a dial gauge's parts are: the dial ellipse, the pivot, the needle and the tick ring.

Everything here works on one "work" copy of the photo (longest side WORK_SIDE, so thresholds
in pixels mean the same on a thumbnail and on a 12-megapixel photo) and returns work pixels.

- The dial: an ellipse fitted to edge contours; its shape gives the affine map that makes an
  oblique dial round again (`Dial.rectify`), so angles are measured as on the dial's own plane.
- The pivot: where the dial's radial lines meet. Every tick and the needle itself point at the
  pivot, and lines through one point still meet in one point in any perspective view, so the
  extended line segments vote for it. The bezel's edge does not: tangents of a circle never
  cross its inside. This finds the pivot where the bezel's centre is wrong (oblique views,
  panel meters pivoting in a corner) and ignores screws and zero knobs, which are not where
  lines converge.
- The needle: a polar profile around the pivot of how far a continuous run of pixels unlike
  the dial face reaches in each direction. The farthest is the tip; the run on the other side
  is the tail (counterweight), so a short wide tail never wins over a long thin tip.
- The tick ring: the band of radii where the profile around the dial alternates fastest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PIL import Image

from tools.vision_cv import detect_circles  # the same Hough search find_circles uses

WORK_SIDE = 800
ANGLE_BINS = 1440  # 0.25 degree per column of the polar profile


@dataclass
class Dial:
    """The dial's ellipse (work pixels) or, for a panel meter, none."""

    cx: float
    cy: float
    major: float  # semi-axes
    minor: float
    angle: float  # degrees of the major axis, OpenCV's convention (image y down)
    support: float  # share of the ellipse along which an edge runs

    @property
    def aspect(self) -> float:
        return self.minor / self.major

    def rectify(self) -> np.ndarray:
        """2x2 map from image vectors to vectors on the dial's plane: stretch along the minor axis."""
        t = math.radians(self.angle + 90)  # OpenCV's angle is that of the first axis; the minor is across it
        u = np.array([math.cos(t), math.sin(t)])
        return np.eye(2) + (self.major / self.minor - 1.0) * np.outer(u, u)


@dataclass
class Needle:
    angle: float  # degrees on the dial's plane, 0 = right, counter-clockwise
    tip: tuple[float, float]  # work pixels
    tail: tuple[float, float]
    tip_reach: float  # rectified pixels from the pivot
    tail_reach: float
    width: float  # pixels, near the middle of the needle
    prominence: float  # tip reach over the best reach elsewhere (1 = no better than anything else)


@dataclass
class Ticks:
    angles: list[float]  # degrees on the dial's plane
    major: list[bool]
    inner: float  # radii of the ring, rectified pixels
    outer: float
    # The ends of the tick arc, the ticks bordering the widest gap: going clockwise from
    # cw_first passes every tick and ends at cw_last (degrees). None when ticks go all round.
    cw_first: float | None
    cw_last: float | None


@dataclass
class Geometry:
    scale: float  # work pixels per photo pixel
    origin: tuple[float, float]  # the photo pixel at work pixel (0, 0)
    dial: Dial | None
    pivot: tuple[float, float]
    pivot_from: str
    pivot_support: int
    rectify: np.ndarray  # 2x2
    radius: float  # how far out the scale can lie, rectified pixels
    needle: Needle | None
    ticks: Ticks | None
    face_lab: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)
    work: np.ndarray | None = None  # the work copy the pixels above refer to

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """Work pixels to photo pixels."""
        return self.origin[0] + x / self.scale, self.origin[1] + y / self.scale

    def plane_angle(self, x: float, y: float) -> tuple[float, float]:
        """(angle in degrees on the dial's plane, rectified distance) of a work pixel from the pivot."""
        v = self.rectify @ np.array([x - self.pivot[0], y - self.pivot[1]])
        return math.degrees(math.atan2(-v[1], v[0])) % 360.0, float(math.hypot(*v))

    def image_point(self, angle: float, r: float) -> tuple[float, float]:
        """The work pixel at a plane angle and rectified distance from the pivot."""
        v = np.linalg.solve(
            self.rectify, np.array([r * math.cos(math.radians(angle)), -r * math.sin(math.radians(angle))])
        )
        return float(self.pivot[0] + v[0]), float(self.pivot[1] + v[1])

    def image_angle(self, plane_angle: float) -> float:
        x, y = self.image_point(plane_angle, 100.0)
        return math.degrees(math.atan2(-(y - self.pivot[1]), x - self.pivot[0])) % 360.0

    def from_image_angle(self, image_angle: float) -> float:
        t = math.radians(image_angle)
        return self.plane_angle(self.pivot[0] + 100 * math.cos(t), self.pivot[1] - 100 * math.sin(t))[0]


def work_copy(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo scaled so its longest side is WORK_SIDE, and the factor work/original."""
    h, w = rgb.shape[:2]
    scale = WORK_SIDE / max(h, w)
    if abs(scale - 1) < 1e-3:
        return rgb, 1.0
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=interp), scale


# -- the dial ------------------------------------------------------------------------------


def find_dial(gray: np.ndarray) -> Dial | None:
    """The best-supported large ellipse: candidates from edge contours and from Hough circles
    (which find round dials whose outline is broken into many contours), each refitted to the
    edge pixels near it whose gradient points across it."""
    h, w = gray.shape
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    # thresholds from the image's own gradients: a pale bezel on a white wall has weak edges
    magnitude = cv2.magnitude(cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1))
    high = float(np.clip(np.percentile(magnitude, 92), 40, 200))
    edges = cv2.Canny(blurred, 0.4 * high, high)
    # and from its brightness, which keeps a strong bezel whole where the gradients above are busy
    median = float(np.median(blurred))
    edges |= cv2.Canny(blurred, max(10, 0.5 * median), max(30, 1.2 * median))
    near_edge = cv2.distanceTransform(255 - edges, cv2.DIST_L2, 3) <= 2.0
    ys, xs = np.nonzero(edges)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)[ys, xs]
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)[ys, xs]
    norm = np.hypot(gx, gy) + 1e-6
    points = np.column_stack([xs, ys, gx / norm, gy / norm]).astype(np.float64)
    smallest = 0.25 * min(h, w)
    candidates = []
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    for c in contours:
        if len(c) < 40 or max(cv2.boundingRect(c)[2:]) < smallest:
            continue
        (ex, ey), (d1, d2), ang = cv2.fitEllipse(c)
        candidates.append((ex, ey, max(d1, d2) / 2, min(d1, d2) / 2, ang if d1 >= d2 else ang + 90))
    best = _best_ellipse(candidates, points, near_edge, smallest)
    if best is None or best.support < 0.75:
        # a broken outline gives no good contour: the Hough search (slower) finds it whole
        circles = [
            (c.x, c.y, c.r, c.r, 0.0) for c in detect_circles(Image.fromarray(gray), smallest, 0.75 * max(h, w), 4)
        ]
        found = _best_ellipse(circles, points, near_edge, smallest)
        if found is not None and (best is None or _ellipse_score(found, smallest) > _ellipse_score(best, smallest)):
            best = found
    return best


def _ellipse_score(d: Dial, smallest: float) -> float:
    return d.support * (d.minor / smallest) ** 0.5


def _best_ellipse(candidates: list[tuple], points: np.ndarray, near_edge: np.ndarray, smallest: float) -> Dial | None:
    """The best-supported of the candidates once each is refitted; large ones win ties."""
    h, w = near_edge.shape
    best = None
    distinct: list[tuple] = []
    for cand in sorted(candidates, key=lambda c: -c[3]):
        # one refit per ring: the pieces of a broken outline give near-identical candidates
        if not any(
            math.hypot(cand[0] - o[0], cand[1] - o[1]) < 0.04 * o[2] and abs(cand[2] - o[2]) < 0.05 * o[2]
            for o in distinct
        ):
            distinct.append(cand)
    for cand in distinct[:10]:
        ellipse = _refit_ellipse(points, *cand)
        if ellipse is None:
            continue
        ex, ey, major, minor, axis_angle = ellipse
        if minor < 0.5 * smallest or minor / max(major, 1e-6) < 0.45 or major > 0.75 * max(h, w):
            continue
        if not (0 <= ex < w and 0 <= ey < h):
            continue
        support = _ellipse_support(near_edge, ex, ey, major, minor, axis_angle)
        dial = Dial(ex, ey, major, minor, axis_angle % 180, support)
        if support >= 0.4 and (best is None or _ellipse_score(dial, smallest) > _ellipse_score(best, smallest)):
            best = dial
    return best


def _refit_ellipse(points: np.ndarray, cx, cy, major, minor, angle):
    """Fit an ellipse to the edge pixels within a band around a candidate, narrowing the band."""
    if major <= 0 or minor <= 0:
        return None
    for band in (0.12, 0.06, 0.03):
        a = math.radians(angle)
        dx, dy = points[:, 0] - cx, points[:, 1] - cy
        u = (dx * math.cos(a) + dy * math.sin(a)) / major
        v = (-dx * math.sin(a) + dy * math.cos(a)) / minor
        rho = np.hypot(u, v) + 1e-9
        # the ellipse's outward normal at (u, v) points along (u/major, v/minor) in its own frame
        nx, ny = u / major, v / minor
        nn = np.hypot(nx, ny) + 1e-12
        nxi = (nx * math.cos(a) - ny * math.sin(a)) / nn
        nyi = (nx * math.sin(a) + ny * math.cos(a)) / nn
        across = np.abs(nxi * points[:, 2] + nyi * points[:, 3]) > 0.8
        near = (np.abs(rho - 1) <= band) & across
        if near.sum() < 30:
            return None
        # a bezel is several concentric rings; fitting them all at once lands between them, on
        # none: keep the ring with the most edge pixels
        counts, edges_at = np.histogram(rho[near], bins=max(3, int(2 * band / 0.01)), range=(1 - band, 1 + band))
        peak = (edges_at[np.argmax(counts)] + edges_at[np.argmax(counts) + 1]) / 2
        near &= np.abs(rho - peak) <= 0.012
        if near.sum() < 30:
            return None
        sel = points[near, :2].astype(np.float32)
        (cx, cy), (d1, d2), ang = cv2.fitEllipse(sel)
        major, minor, angle = max(d1, d2) / 2, min(d1, d2) / 2, ang if d1 >= d2 else ang + 90
        if minor <= 0:
            return None
    return cx, cy, major, minor, angle


def _ellipse_support(near_edge: np.ndarray, cx, cy, major, minor, angle) -> float:
    t = np.linspace(0, 2 * math.pi, 180, endpoint=False)
    a = math.radians(angle)
    xs = cx + major * np.cos(t) * math.cos(a) - minor * np.sin(t) * math.sin(a)
    ys = cy + major * np.cos(t) * math.sin(a) + minor * np.sin(t) * math.cos(a)
    h, w = near_edge.shape
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    if inside.mean() < 0.7:
        return 0.0
    hits = near_edge[ys[inside].astype(int), xs[inside].astype(int)]
    return float(hits.sum() / len(t))


# -- the pivot -----------------------------------------------------------------------------


def line_segments(gray: np.ndarray) -> np.ndarray:
    """LSD segments as rows (x1, y1, x2, y2)."""
    lsd = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD)
    found = lsd.detect(gray)[0]
    return np.zeros((0, 4)) if found is None else found.reshape(-1, 4).astype(np.float64)


def find_pivot(
    segments: np.ndarray, region: tuple[float, float, float, float], disc: tuple[float, float, float] | None = None
) -> tuple[tuple[float, float], int, float, np.ndarray] | None:
    """The point where most extended segments meet, inside `region` (x0, y0, x1, y1) and `disc`
    (cx, cy, r) when given: (the point, how many segments' lines pass through it, how far out
    those segments reach (90th percentile of their far ends' distances), those segments)."""
    x0, y0, x1, y1 = region
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    keep = lengths >= 4
    segs, lengths = segments[keep], lengths[keep]
    if len(segs) < 5:
        return None
    mid = (segs[:, :2] + segs[:, 2:]) / 2
    inside = (mid[:, 0] >= x0) & (mid[:, 0] <= x1) & (mid[:, 1] >= y0) & (mid[:, 1] <= y1)
    segs, lengths, mid = segs[inside], lengths[inside], mid[inside]
    if len(segs) < 5:
        return None
    direction = (segs[:, 2:] - segs[:, :2]) / lengths[:, None]
    # Each segment votes along its extended line, as far as the region reaches; short ticks count
    # as much as long lines (many ticks agreeing is the signal, not one long edge).
    reach = math.hypot(x1 - x0, y1 - y0)
    cell = max(1.0, reach / 400)
    steps = np.arange(-reach, reach, cell)
    px = mid[:, 0:1] + direction[:, 0:1] * steps
    py = mid[:, 1:2] + direction[:, 1:2] * steps
    weight = np.broadcast_to(np.minimum(lengths, 25.0)[:, None], px.shape)
    ok = (px >= x0) & (px < x1) & (py >= y0) & (py < y1)
    gw, gh = int((x1 - x0) / cell) + 1, int((y1 - y0) / cell) + 1
    ix = ((px[ok] - x0) / cell).astype(int)
    iy = ((py[ok] - y0) / cell).astype(int)
    acc = np.bincount(iy * gw + ix, weights=weight[ok], minlength=gw * gh).reshape(gh, gw).astype(np.float32)
    acc = cv2.GaussianBlur(acc, (0, 0), 1.5)
    if disc is not None:
        # a round dial's pivot is well inside it; lines also meet where the needle crosses the rim
        gy, gx = np.mgrid[0:gh, 0:gw]
        acc[np.hypot(x0 + (gx + 0.5) * cell - disc[0], y0 + (gy + 0.5) * cell - disc[1]) > disc[2]] = 0
    iy0, ix0 = np.unravel_index(int(np.argmax(acc)), acc.shape)
    point = np.array([x0 + (ix0 + 0.5) * cell, y0 + (iy0 + 0.5) * cell])
    normals = np.column_stack([-direction[:, 1], direction[:, 0]])
    offsets = (normals * mid).sum(axis=1)
    tolerance = max(2.0, 0.008 * reach)
    count, inlier = 0, np.zeros(len(segs), bool)
    for _ in range(4):
        distance = np.abs(normals @ point - offsets)
        inlier = distance <= tolerance
        count = int(inlier.sum())
        if count < 3:
            break
        wts = np.minimum(lengths[inlier], 25.0)
        n, o = normals[inlier], offsets[inlier]
        # least squares: the point closest to all inlier lines
        a = (n * wts[:, None]).T @ n
        b = (n * wts[:, None]).T @ o
        if abs(np.linalg.det(a)) < 1e-6:
            break
        point = np.linalg.solve(a, b)
        tolerance = max(1.5, tolerance * 0.7)
    if count == 0:
        return None
    far = np.maximum(np.hypot(*(segs[inlier, :2] - point).T), np.hypot(*(segs[inlier, 2:] - point).T))
    return (float(point[0]), float(point[1])), count, float(np.percentile(far, 90)), segs[inlier]


def tick_ellipse(radial: np.ndarray, pivot: tuple[float, float]) -> Dial | None:
    """The ellipse through the outer ends of the ticks (the short segments pointing at the pivot):
    the scale's own circle as the camera sees it, so a deep bezel or a case seen from the side
    does not distort the un-tilting. Needs ticks round at least 200 degrees."""
    if len(radial) < 12:
        return None
    a, b = radial[:, :2] - pivot, radial[:, 2:] - pivot
    da, db = np.hypot(*a.T), np.hypot(*b.T)
    outer = np.where((da > db)[:, None], radial[:, :2], radial[:, 2:])
    distance = np.maximum(da, db)
    length = np.abs(da - db)
    ring = np.median(distance)
    pts = outer[(length < 0.3 * ring) & (distance > 0.5 * ring)]
    if len(pts) < 12:
        return None
    for _ in range(3):
        angles = np.degrees(np.arctan2(pts[:, 1] - pivot[1], pts[:, 0] - pivot[0])) % 360
        covered = np.unique((angles // 10).astype(int))
        if len(covered) < 20 or len(pts) < 12:
            return None
        (cx, cy), (d1, d2), ang = cv2.fitEllipse(pts.astype(np.float32))
        major, minor = max(d1, d2) / 2, min(d1, d2) / 2
        axis = ang if d1 >= d2 else ang + 90
        t = math.radians(axis)
        dx, dy = pts[:, 0] - cx, pts[:, 1] - cy
        u = (dx * math.cos(t) + dy * math.sin(t)) / major
        v = (-dx * math.sin(t) + dy * math.cos(t)) / minor
        residual = np.abs(np.hypot(u, v) - 1)
        keep = residual <= max(0.03, 2.5 * np.median(residual))
        if keep.all():
            break
        pts = pts[keep]
    if minor / major < 0.45 or math.hypot(cx - pivot[0], cy - pivot[1]) > 0.08 * major:
        return None
    return Dial(float(cx), float(cy), major, minor, axis % 180, 1.0)


# -- polar profiles -------------------------------------------------------------------------


def polar_map(
    pivot: tuple[float, float], rectify: np.ndarray, radius: float, bins: int = ANGLE_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """remap() maps whose row i, column r is the work pixel at plane angle i * 360/bins, distance r."""
    angles = np.radians(np.arange(bins) * 360.0 / bins)
    radii = np.arange(int(radius))
    vx = np.cos(angles)[:, None] * radii[None, :]
    vy = -np.sin(angles)[:, None] * radii[None, :]
    inv = np.linalg.inv(rectify)
    mx = pivot[0] + inv[0, 0] * vx + inv[0, 1] * vy
    my = pivot[1] + inv[1, 0] * vx + inv[1, 1] * vy
    return mx.astype(np.float32), my.astype(np.float32)


def contrast_map(lab: np.ndarray, face: np.ndarray) -> np.ndarray:
    """How unlike the dial face each pixel is: distance in Lab, lightness counted double
    (needles and print are mostly darker; glare is lighter and counts less)."""
    diff = lab.astype(np.float32) - face.astype(np.float32)
    light = diff[..., 0]
    light = np.where(light > 0, 0.5 * light, light)  # brighter than the face: glare more often than a needle
    return np.sqrt(4 * light**2 + diff[..., 1] ** 2 + diff[..., 2] ** 2)


def face_colour(lab_polar: np.ndarray, radius: float, rows: np.ndarray | None = None) -> np.ndarray:
    """The dial face's colour: the median of the ring halfway out, where the face dominates,
    within the scale's sector when known (round a panel meter's corner pivot, most of the ring
    is the meter's frame and the wall behind it)."""
    band = lab_polar[rows if rows is not None else slice(None), int(0.3 * radius) : int(0.75 * radius)].reshape(-1, 3)
    return np.median(band, axis=0)


def scale_sector(
    radial: np.ndarray, pivot: tuple[float, float], rectify: np.ndarray, bins: int = ANGLE_BINS
) -> np.ndarray | None:
    """Which angle bins the scale covers, from the directions of the segments that point at the
    pivot; None when they go (nearly) all round."""
    mid = (radial[:, :2] + radial[:, 2:]) / 2 - np.array(pivot)
    v = mid @ rectify.T
    angles = np.sort(np.degrees(np.arctan2(-v[:, 1], v[:, 0])) % 360.0)
    if len(angles) < 5:
        return None
    gaps = np.diff(np.concatenate([angles, [angles[0] + 360.0]]))
    i = int(np.argmax(gaps))
    if gaps[i] < 60.0:
        return None
    first, arc = angles[(i + 1) % len(angles)], 360.0 - gaps[i]  # counter-clockwise from first
    offset = (np.arange(bins) * 360.0 / bins - first) % 360.0
    return offset <= arc


def find_needle(score: np.ndarray, threshold: float, hub: int) -> tuple[int, np.ndarray] | None:
    """The tip's angle bin and the reach of every angle, from a polar score map (angles x radii)."""
    n_r = score.shape[1]
    fg = (score > threshold).astype(np.uint8)
    # A thin needle may fall between angle samples far out: widen every mark by one bin each way.
    fg = cv2.dilate(fg, np.ones((3, 1), np.uint8))
    gap = max(3, n_r // 40)  # print across the needle, a glint: bridge short breaks along the radius
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((1, gap), np.uint8)).astype(bool)
    # the end of the run each sample belongs to: the next unmarked sample along the radius
    idx = np.broadcast_to(np.arange(n_r), fg.shape)
    next_gap = np.minimum.accumulate(np.where(fg, n_r, idx)[:, ::-1], axis=1)[:, ::-1]
    # a needle's run begins at the hub; a hub cap or ring may break it, so any run that starts
    # near the pivot counts, and the one reaching farthest is the needle's
    starts = np.where(fg[:, 1:hub], next_gap[:, 1:hub], 0)
    reach = starts.max(axis=1)
    if reach.max() < 2 * hub:
        return None
    return int(np.argmax(_circular_smooth(reach.astype(float), 2))), reach


def _circular_smooth(values: np.ndarray, k: int) -> np.ndarray:
    padded = np.concatenate([values[-k:], values, values[:k]])
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    return np.convolve(padded, kernel, mode="valid")


def refine_needle_angle(score: np.ndarray, tip_bin: int, reach: int, hub: int, threshold: float) -> tuple[float, float]:
    """The needle's axis by a weighted line fit to its middle, as (angle degrees, width in px).

    At each radius the needle's cross-section is the run of marked angles around the coarse tip
    angle; the fit through their centres ignores a slightly wrong pivot."""
    bins, _ = score.shape
    deg_per_bin = 360.0 / bins
    xs, ys, ws, widths = [], [], [], []
    lo, hi = max(hub, int(0.25 * reach)), int(0.92 * reach)
    centre = tip_bin
    for r in range(lo, hi, max(1, (hi - lo) // 60)):
        half = int(min(40, max(4, math.degrees(math.atan2(12, max(r, 1))) / deg_per_bin)))
        window = np.arange(centre - half, centre + half + 1)
        column = score[window % bins, r]
        marked = column > threshold
        if not marked.any():
            continue
        # the contiguous run of marked samples nearest the expected centre
        mid = half
        idx = np.nonzero(marked)[0]
        k = idx[np.argmin(np.abs(idx - mid))]
        a = b = k
        while a - 1 >= 0 and marked[a - 1]:
            a -= 1
        while b + 1 < len(marked) and marked[b + 1]:
            b += 1
        weights = column[a : b + 1] - threshold + 1e-3
        centre_bin = window[a] + float((np.arange(a, b + 1) - a) @ weights / weights.sum())
        theta = math.radians(centre_bin * deg_per_bin)
        xs.append(r * math.cos(theta))
        ys.append(r * math.sin(theta))
        ws.append(float(weights.sum()))
        widths.append((b - a + 1) * math.radians(deg_per_bin) * r)
    if len(xs) < 4:
        return tip_bin * deg_per_bin, 0.0
    pts = np.column_stack([xs, ys])
    w = np.array(ws)
    mean = (pts * w[:, None]).sum(axis=0) / w.sum()
    cov = ((pts - mean) * w[:, None]).T @ (pts - mean)
    vals, vecs = np.linalg.eigh(cov)
    axis = vecs[:, np.argmax(vals)]
    if axis @ mean < 0:
        axis = -axis
    return math.degrees(math.atan2(axis[1], axis[0])) % 360.0, float(np.median(widths))


def find_ticks(score: np.ndarray, threshold: float) -> Ticks | None:
    """The ring of ticks: the band of radii where marks alternate along the circle most often."""
    bins, n_r = score.shape
    fg = score > threshold
    transitions = np.count_nonzero(fg != np.roll(fg, 1, axis=0), axis=0).astype(float)
    transitions[: int(0.3 * n_r)] = 0  # the ring is well away from the pivot
    if transitions.max() < 12:
        return None
    smooth = np.convolve(transitions, np.ones(3) / 3, mode="same")
    peak = int(np.argmax(smooth))
    level = 0.45 * smooth[peak]
    inner = peak
    while inner > 0 and smooth[inner - 1] >= level:
        inner -= 1
    outer = peak
    while outer < n_r - 1 and smooth[outer + 1] >= level:
        outer += 1
    band = fg[:, inner : outer + 1]
    if band.shape[1] == 0:
        return None
    coverage = band.mean(axis=1)
    marked = coverage >= 0.5
    # ticks are runs of marked angles; their radial length tells major from minor
    angles, lengths = [], []
    runs = _runs(marked)
    for a, b in runs:
        if (b - a + 1) * 360.0 / bins > 8:  # a printed arc or band, not a tick
            continue
        centre = (a + b) / 2 % bins
        lengths.append(float(coverage[np.arange(a, b + 1) % bins].max()))
        angles.append(centre * 360.0 / bins)
    if len(angles) < 5:
        return None
    lengths_arr = np.array(lengths)
    major = (
        list(lengths_arr >= np.percentile(lengths_arr, 70) * 0.999) if len(set(lengths)) > 1 else [True] * len(angles)
    )
    first = last = None
    ordered = sorted(angles)
    gaps = [((ordered[(i + 1) % len(ordered)] - ordered[i]) % 360.0, i) for i in range(len(ordered))]
    widest, i = max(gaps)
    typical = float(np.median([g for g, _ in gaps]))
    if widest > max(25.0, 4 * typical):
        # the gap runs counter-clockwise from ordered[i]; clockwise, the ticks start there
        first, last = ordered[i], ordered[(i + 1) % len(ordered)]
    return Ticks(angles, major, float(inner), float(outer), first, last)


def _runs(marked: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True; a run that wraps round the end has last >= n."""
    n = len(marked)
    if marked.all() or not marked.any():
        return []
    shift = int(np.argmin(marked))  # start where the profile is unmarked, so no run wraps
    rolled = np.roll(marked, -shift)
    runs, i = [], 0
    while i < n:
        if rolled[i]:
            j = i
            while j + 1 < n and rolled[j + 1]:
                j += 1
            runs.append((i + shift, j + shift))  # may pass n: index modulo n
            i = j + 1
        else:
            i += 1
    return runs


# -- all of it ------------------------------------------------------------------------------


def read_geometry(rgb: np.ndarray, pivot: tuple[float, float] | None = None) -> Geometry:
    """Dial, pivot, needle and ticks of an RGB photo (pixels of the photo in, pixels of the photo
    out through Geometry.to_image). `pivot`: given by the caller, in photo pixels.

    A dial that fills little of the frame is cut out and enlarged first, so ticks and a thin
    needle have enough pixels wherever the gauge sits in the photo."""
    work, scale = work_copy(rgb)
    origin = (0.0, 0.0)
    dial = find_dial(cv2.cvtColor(work, cv2.COLOR_RGB2GRAY))
    if dial is not None and 2.3 * dial.major < 0.75 * max(work.shape[:2]):
        half = 1.15 * dial.major / scale
        cx, cy = dial.cx / scale, dial.cy / scale
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(rgb.shape[1], int(cx + half) + 1), min(rgb.shape[0], int(cy + half) + 1)
        crop, crop_scale = work_copy(rgb[y0:y1, x0:x1])
        # the same ellipse in the enlarged cut-out's pixels
        k = crop_scale / scale
        dial = replace(
            dial,
            cx=(dial.cx - x0 * scale) * k,
            cy=(dial.cy - y0 * scale) * k,
            major=dial.major * k,
            minor=dial.minor * k,
        )
        work, scale, origin = crop, crop_scale, (float(x0), float(y0))
    given = None if pivot is None else ((pivot[0] - origin[0]) * scale, (pivot[1] - origin[1]) * scale)
    geo = measure_gauge(work, dial, given)
    geo.scale, geo.origin, geo.work = scale, origin, work
    return geo


def measure_gauge(work: np.ndarray, dial: Dial | None, pivot: tuple[float, float] | None = None) -> Geometry:
    """Pivot, needle and ticks of a work-size RGB photo whose dial is known (or None)."""
    h, w = work.shape[:2]
    gray = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
    notes: list[str] = []
    if dial is not None:
        extent = dial.major * 1.05
        region = (
            max(0, dial.cx - extent),
            max(0, dial.cy - extent),
            min(w, dial.cx + extent),
            min(h, dial.cy + extent),
        )
        disc = (dial.cx, dial.cy, 0.6 * dial.minor)
    else:
        region, disc = (0.0, 0.0, float(w), float(h)), None
        notes.append("no round dial outline found; treating the whole image as the dial")
    support, ring, radial = 0, None, None
    if pivot is not None:
        pivot_from = "given"
    else:
        found = find_pivot(line_segments(gray), region, disc)
        if found is not None and found[1] >= 6:
            pivot, support, ring, radial = found
            pivot_from = "where the ticks' and needle's lines meet"
        elif dial is not None:
            pivot, pivot_from = (dial.cx, dial.cy), "the dial's centre (too few radial lines to locate the pivot)"
        else:
            pivot, pivot_from = (w / 2, h / 2), "the image centre (no dial or radial lines found)"
    scale_ring = tick_ellipse(radial, pivot) if radial is not None else None
    if scale_ring is not None:
        rectify = scale_ring.rectify() if scale_ring.aspect < 0.97 else np.eye(2)
    else:
        # only a clearly elliptical, well-traced outline is worth un-tilting by: a few percent of
        # aspect from a poor fit would bend every angle more than it corrects
        oblique = dial is not None and dial.support >= 0.6 and dial.aspect < 0.95
        rectify = dial.rectify() if oblique else np.eye(2)
    # how far out the scale may reach: to the dial's rim, or for a panel meter just past the
    # ticks whose lines met at the pivot
    if dial is not None:
        radius = dial.major * 1.02 + math.hypot(pivot[0] - dial.cx, pivot[1] - dial.cy)
    elif ring is not None:
        radius = 1.1 * ring
    else:
        radius = 0.5 * max(w, h)
    radius = max(20.0, radius)
    mx, my = polar_map(pivot, rectify, radius)
    lab_polar = cv2.remap(
        cv2.cvtColor(work, cv2.COLOR_RGB2LAB), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    sector = scale_sector(radial, pivot, rectify) if radial is not None else None
    if sector is not None:
        # allow a needle resting a little outside its scale (on its stop below zero)
        margin = int(20 * ANGLE_BINS / 360)
        sector = (
            np.convolve(
                np.concatenate([sector[-margin:], sector, sector[:margin]]).astype(float),
                np.ones(2 * margin + 1),
                "valid",
            )
            > 0
        )
    face = face_colour(lab_polar, radius, sector)
    score = contrast_map(lab_polar, face)
    inside = np.clip(score[:, int(0.1 * radius) : int(0.85 * radius)], 0, 255).astype(np.uint8).reshape(1, -1)
    threshold = max(18.0, 0.8 * float(cv2.threshold(inside, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]))
    geo = Geometry(
        1.0,
        (0.0, 0.0),
        dial,
        pivot,
        pivot_from,
        support,
        rectify,
        radius,
        None,
        None,
        tuple(float(v) for v in face),
        notes,
    )
    geo.needle = _needle(geo, score if sector is None else np.where(sector[:, None], score, 0), threshold)
    geo.ticks = find_ticks(score, threshold)
    return geo


def _needle(geo: Geometry, score: np.ndarray, threshold: float) -> Needle | None:
    """The needle from the polar contrast profile: tip by reach, axis by a line fit, tail opposite."""
    hub = max(4, int(0.2 * geo.radius))
    found = find_needle(score, threshold, hub)
    if found is None:
        return None
    tip_bin, reach = found
    bins = score.shape[0]
    angle, width = refine_needle_angle(score, tip_bin, int(reach[tip_bin]), hub // 2, threshold)
    window = np.arange(-40, 41)  # ±10 degrees
    opposite = (window + tip_bin + bins // 2) % bins
    tail_reach = float(reach[opposite].max())
    elsewhere = np.ones(bins, bool)
    elsewhere[(window + tip_bin) % bins] = False
    elsewhere[opposite] = False
    tip_reach = float(reach[tip_bin])
    return Needle(
        angle,
        geo.image_point(angle, tip_reach),
        geo.image_point((angle + 180) % 360, tail_reach),
        tip_reach,
        tail_reach,
        width,
        tip_reach / max(float(reach[elsewhere].max()) if elsewhere.any() else 0.0, 1.0),
    )
