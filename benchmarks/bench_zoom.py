"""Zoom latency on a 12-megapixel JPEG: the first call (decodes the photo) against repeated calls
on the same source (served from the image store's decoded-image cache).

Target: repeated zooms at least 5x faster than the first. Run: python3 benchmarks/bench_zoom.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.images import ImageStore  # noqa: E402
from tools.registry import Toolbox, ToolContext  # noqa: E402
from tools.vision import TOOLS  # noqa: E402

WIDTH, HEIGHT = 4000, 3000
REPEATS = 10
TRIALS = 3  # fresh stores; medians smooth out a busy machine
TARGET_RATIO = 5.0


def photo_like(path: Path) -> None:
    """Smooth gradients plus sensor noise and some edges: decodes like a real camera JPEG."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = np.stack(
        [
            120 + 80 * np.sin(xx / 390.0) * np.cos(yy / 270.0),
            110 + 70 * np.cos(xx / 510.0 + yy / 800.0),
            100 + 60 * np.sin((xx + yy) / 650.0),
        ],
        axis=2,
    )
    base[(xx // 250 + yy // 250) % 7 == 0] *= 0.55  # hard-edged patches
    noisy = base + rng.normal(0, 12, base.shape).astype(np.float32)
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "photo.jpg"
        photo_like(src)
        size_mb = src.stat().st_size / 1e6
        folder = tmp / "images"
        ImageStore(folder).add_input(src)
        toolbox = Toolbox(TOOLS)
        regions = [(100 + 60 * i, 150 + 40 * i, 250 + 60 * i, 300 + 40 * i) for i in range(REPEATS + 1)]

        def zoom(ctx: ToolContext, region) -> float:
            x_min, y_min, x_max, y_max = region
            started = time.perf_counter()
            out = toolbox.call(
                "zoom", {"image": "img1", "x_min": x_min, "y_min": y_min, "x_max": x_max, "y_max": y_max}, ctx
            )
            elapsed = (time.perf_counter() - started) * 1000
            assert not out.is_error, out.text
            return elapsed

        firsts, repeated = [], []
        for _ in range(TRIALS):
            # a store opened afresh, as a resumed run would: nothing decoded yet
            ctx = ToolContext(images=ImageStore.load(folder), home=tmp / "home")
            firsts.append(zoom(ctx, regions[0]))
            repeated += [zoom(ctx, r) for r in regions[1:]]
    first = statistics.median(firsts)
    median = statistics.median(repeated)
    ratio = first / median
    print(
        f"source: {WIDTH}x{HEIGHT} JPEG ({WIDTH * HEIGHT / 1e6:.0f} MP, {size_mb:.1f} MB); each zoom: 600x600 px crop -> 1024x1024"
    )
    print(f"first zoom (decode included): {first:8.1f} ms median of {TRIALS} fresh stores")
    print(
        f"repeated zoom (cached decode): {median:8.1f} ms median of {len(repeated)} (min {min(repeated):.1f}, max {max(repeated):.1f})"
    )
    print(
        f"ratio first/repeated: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x) {'OK' if ratio >= TARGET_RATIO else 'BELOW TARGET'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
