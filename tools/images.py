"""The run's image store: ids, files on disk, lineage, and mapping regions back to the original.

Every image a tool makes gets the next id (`img1`, `img2`, …) and a PNG file in the run's
`images/` folder. Each record keeps its parent and an affine map from its own pixel
coordinates to its parent's, so a point or box in any derived image can be carried back
onto the original it came from.
"""

from __future__ import annotations

import io
import json
import os
import threading
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

from sandbox.files import atomic_copy, atomic_output, atomic_write_text

Affine = list[float]  # [a, b, c, d, e, f]: parent_x = a*x + b*y + c, parent_y = d*x + e*y + f
IDENTITY: Affine = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]

# The decoders an input may reach: Pillow's other plugins (EPS through Ghostscript, the many
# rarely used ones) stay out of reach of a hostile file.
IMAGE_FORMATS = ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"]

# Longest side of the bytes sent to a model for each detail level.
DETAIL_MAX_SIDE = {"low": 768, "high": 1536}


class ImageInputError(ValueError):
    """A user-supplied file that cannot be used as an image."""


@dataclass
class ImageRecord:
    id: str
    file: str  # name inside the images folder
    width: int
    height: int
    parent: str | None = None
    op: str = "input"
    params: dict[str, Any] = field(default_factory=dict)
    to_parent: Affine = field(default_factory=lambda: list(IDENTITY))
    source: str | None = None  # for inputs: the path the user gave

    def describe(self) -> str:
        origin = f"{self.op} of {self.parent}" if self.parent else (f"input {self.source}" if self.source else self.op)
        return f"{self.id}: {self.width}x{self.height} px, {origin}"


def open_image_checked(source: Path | BinaryIO, name: str | None = None, max_pixels: int | None = None) -> Image.Image:
    """Open an image file (or file object named `name`), refusing what Pillow cannot read and
    anything over `max_pixels` (default: Pillow's decompression-bomb limit), judged from the
    header before any pixel is decoded."""
    return _open_checked(source, name, max_pixels, decode=True)


def check_image_header(
    source: Path | BinaryIO, name: str | None = None, max_pixels: int | None = None
) -> tuple[int, int]:
    """The checks of open_image_checked that need only the header (a format Pillow reads, a size
    under the limit), without decoding a pixel: for files that will be decoded later, once."""
    return _open_checked(source, name, max_pixels, decode=False)


def _open_checked(source, name, max_pixels, decode: bool):
    shown = name or str(source)
    limit = max_pixels or Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns (on stderr) before its own limit; the check below says it in one line.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            probe = Image.open(source, formats=IMAGE_FORMATS)
        with probe:
            width, height = probe.size
            if limit and width * height > limit:
                raise ImageInputError(
                    f"{shown}: {width}x{height} pixels is above the {limit:,}-pixel limit "
                    "(possible decompression bomb); downscale it first"
                )
            if not decode:
                return width, height
            probe.load()
            return eight_bit(ImageOps.exif_transpose(probe))
    except ImageInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageInputError(f"{shown}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"{shown}: not a readable image ({exc.__class__.__name__}: {exc})") from None


def eight_bit(img: Image.Image) -> Image.Image:
    """8-bit "L" or "RGB" pixels from any mode: alpha flattened onto white, palettes expanded,
    16-bit and float images scaled to 0-255 (converting them directly would clip them)."""
    if img.mode in ("RGB", "L"):
        return img
    if img.mode == "1":
        return img.convert("L")
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if img.mode == "F" or arr.max(initial=0) > 65535 or arr.min(initial=0) < 0:
            lo, hi = float(arr.min(initial=0)), float(arr.max(initial=0))
            arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        elif arr.max(initial=0) > 255:
            arr = arr / 257.0
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
    if img.mode in ("P", "PA") or "A" in img.mode or "a" in img.mode or img.info.get("transparency") is not None:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


class ImageStore:
    def __init__(self, folder: Path, cache_size: int = 8):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, ImageRecord] = {}
        self._cache: OrderedDict[str, Image.Image] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- adding -----------------------------------------------------------------
    def _next_id(self) -> str:
        return f"img{len(self.records) + 1}"

    def add_input(
        self, path: Path, label: str | None = None, image: Image.Image | None = None, link: bool = False
    ) -> ImageRecord:
        """Register a user's image file. The bytes are copied unchanged (no re-encoding).
        `image`: the file already decoded by open_image_checked, so a large photo is decoded once.
        `link`: hard-link the file instead of copying it, so a large photo is stored once; only for
        a file nothing will write to (a copy falls back where a link cannot be made)."""
        img = image if image is not None else open_image_checked(Path(path))
        with self._lock:
            image_id = self._next_id()
            suffix = Path(path).suffix.lower() or ".png"
            name = f"{image_id}{suffix}"
            if not (link and _hard_link(Path(path), self.folder / name)):
                atomic_copy(path, self.folder / name)
            rec = ImageRecord(image_id, name, img.width, img.height, source=label or str(path))
            self.records[image_id] = rec
            self._remember(image_id, img)
        self._save_index()
        return rec

    def add(
        self,
        img: Image.Image,
        parent: str | None,
        op: str,
        params: dict[str, Any] | None = None,
        to_parent: Affine | None = None,
        photo: bool = False,
    ) -> ImageRecord:
        """Store a derived image. `photo=True` keeps it as a high-quality JPEG: a zoom of a camera
        photo gains nothing from PNG, which encodes sensor noise ~20x slower and ~6x bigger.
        Drawings, thresholds and anything with sharp synthetic edges stay PNG (lossless)."""
        with self._lock:
            image_id = self._next_id()
            name = f"{image_id}.jpg" if photo else f"{image_id}.png"
            _atomic_save(img, self.folder / name)
            rec = ImageRecord(
                image_id, name, img.width, img.height, parent, op, params or {}, to_parent or list(IDENTITY)
            )
            self.records[image_id] = rec
            self._remember(image_id, img)
        self._save_index()
        return rec

    # -- reading ------------------------------------------------------------------
    def record(self, image_id: str) -> ImageRecord:
        try:
            return self.records[image_id]
        except KeyError:
            known = ", ".join(self.records) or "none yet"
            raise KeyError(f"unknown image id {image_id!r} (known: {known})") from None

    def get(self, image_id: str) -> Image.Image:
        """The decoded image. Decoding a large photo costs far more than a crop, so keep a few."""
        rec = self.record(image_id)
        with self._lock:
            if image_id in self._cache:
                self._cache.move_to_end(image_id)
                return self._cache[image_id]
        with Image.open(self.folder / rec.file) as im:
            im.load()
            img = eight_bit(ImageOps.exif_transpose(im))
        with self._lock:
            self._remember(image_id, img)
        return img

    def path(self, image_id: str) -> Path:
        return self.folder / self.record(image_id).file

    def is_photo(self, image_id: str) -> bool:
        """Whether the image is stored lossy (a JPEG/WebP photo), so what is derived from it may be too."""
        return Path(self.record(image_id).file).suffix.lower() in (".jpg", ".jpeg", ".webp")

    def encoded(self, image_id: str, detail: str = "high") -> tuple[bytes, str]:
        """Bytes for a model: the file itself when small enough, else a downscaled copy."""
        rec = self.record(image_id)
        limit = DETAIL_MAX_SIDE.get(detail, DETAIL_MAX_SIDE["high"])
        path = self.folder / rec.file
        mime = _mime_for(path)
        if max(rec.width, rec.height) <= limit and mime in ("image/png", "image/jpeg", "image/webp"):
            return path.read_bytes(), mime
        img = self.get(image_id).copy()
        img.thumbnail((limit, limit), Image.LANCZOS)
        buf = io.BytesIO()
        if mime == "image/jpeg":
            img.convert("RGB").save(buf, "JPEG", quality=90)
        else:
            img.save(buf, "PNG")
            mime = "image/png"
        return buf.getvalue(), mime

    # -- lineage --------------------------------------------------------------------
    def root_of(self, image_id: str) -> str:
        rec = self.record(image_id)
        while rec.parent:
            rec = self.record(rec.parent)
        return rec.id

    def to_root(self, image_id: str) -> Affine:
        """The affine map from this image's pixels to its root image's pixels."""
        m = list(IDENTITY)
        rec = self.record(image_id)
        while rec.parent:
            m = compose(rec.to_parent, m)
            rec = self.record(rec.parent)
        return m

    def map_points(self, image_id: str, points: list[tuple[float, float]]) -> tuple[str, list[tuple[float, float]]]:
        """Pixel points in `image_id` → (root id, pixel points in the root)."""
        m = self.to_root(image_id)
        return self.root_of(image_id), [apply(m, x, y) for x, y in points]

    def map_box(
        self, image_id: str, box: tuple[float, float, float, float]
    ) -> tuple[str, tuple[float, float, float, float]]:
        """A pixel box in `image_id` → (root id, the bounding pixel box of its image in the root)."""
        x0, y0, x1, y1 = box
        root, pts = self.map_points(image_id, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return root, (min(xs), min(ys), max(xs), max(ys))

    # -- internals ---------------------------------------------------------------------
    def _remember(self, image_id: str, img: Image.Image) -> None:
        self._cache[image_id] = img
        self._cache.move_to_end(image_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _save_index(self) -> None:
        with self._lock:
            data = {k: asdict(v) for k, v in self.records.items()}
        atomic_write_text(self.folder / "index.json", json.dumps(data, indent=1))

    @classmethod
    def load(cls, folder: Path) -> "ImageStore":
        store = cls(folder)
        index = Path(folder) / "index.json"
        if index.exists():
            for k, v in json.loads(index.read_text()).items():
                store.records[k] = ImageRecord(**v)
        return store


def compose(outer: Affine, inner: Affine) -> Affine:
    """outer ∘ inner: first apply inner, then outer."""
    a, b, c, d, e, f = outer
    p, q, r, s, t, u = inner
    return [a * p + b * s, a * q + b * t, a * r + b * u + c, d * p + e * s, d * q + e * t, d * r + e * u + f]


def apply(m: Affine, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return (a * x + b * y + c, d * x + e * y + f)


def _mime_for(path: Path) -> str:
    return {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".webp": "image/webp",
    }.get(path.suffix.lower(), "application/octet-stream")


def _atomic_save(img: Image.Image, dest: Path) -> None:
    with atomic_output(dest) as tmp:
        if dest.suffix == ".jpg":
            img.save(tmp, "JPEG", quality=95, subsampling=0)
        else:
            img.save(tmp, "PNG", compress_level=3)


def _hard_link(src: Path, dest: Path) -> bool:
    """Link `dest` to `src` (never through a link); False where the file system cannot."""
    try:
        os.link(src, dest, follow_symlinks=False)
    except OSError:
        return False
    return True
