"""Contact sheets: many page images on one canvas, each labelled, for seeing a whole document at once."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sandbox.files import atomic_output

BACKGROUND = (236, 236, 236)
LABEL_COLOR = (40, 40, 40)
BROKEN_COLOR = (200, 30, 30)
MAX_SHEET_PIXELS = 60_000_000


def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _thumbnail(item: Path | Image.Image, cell_width: int) -> Image.Image | None:
    """The item scaled to cell_width wide, or None if it cannot be read."""
    try:
        if isinstance(item, Image.Image):
            img = item.copy()
        else:
            with Image.open(item) as im:
                im.draft("RGB", (cell_width * 2, cell_width * 4))
                im.load()
                img = im.copy()
        img = img.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    if img.width == 0 or img.height == 0:
        return None
    height = max(1, round(img.height * cell_width / img.width))
    # very tall pages (long sheets) are capped so one page cannot swallow the sheet
    height = min(height, cell_width * 4)
    return img.resize((cell_width, height), Image.LANCZOS)


def _broken_tile(cell_width: int) -> Image.Image:
    tile = Image.new("RGB", (cell_width, round(cell_width * 1.294)), (250, 235, 235))
    draw = ImageDraw.Draw(tile)
    draw.rectangle([0, 0, tile.width - 1, tile.height - 1], outline=BROKEN_COLOR, width=3)
    draw.line([0, 0, tile.width, tile.height], fill=BROKEN_COLOR, width=3)
    draw.line([0, tile.height, tile.width, 0], fill=BROKEN_COLOR, width=3)
    font = _font(max(12, cell_width // 12))
    text = "unreadable"
    box = draw.textbbox((0, 0), text, font=font)
    x, y = (tile.width - (box[2] - box[0])) // 2, (tile.height - (box[3] - box[1])) // 2
    draw.rectangle([x - 6, y - 4, x + box[2] - box[0] + 6, y + box[3] - box[1] + 8], fill=(250, 235, 235))
    draw.text((x, y), text, fill=BROKEN_COLOR, font=font)
    return tile


def make_contact_sheet(
    images: list[Path | str | Image.Image],
    out_path: Path | str,
    columns: int = 4,
    cell_width: int = 300,
    gap: int = 16,
    labels: list[str] | None = None,
) -> Path:
    """Lay the images out in a grid, `columns` wide, each scaled to `cell_width` with its label
    (default: 1, 2, 3, ...) underneath. An image that cannot be read is drawn as a marked tile.
    Written atomically as PNG; returns out_path."""
    if not images:
        raise ValueError("no images for the contact sheet")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    labels = labels or [str(i + 1) for i in range(len(images))]
    columns = max(1, min(columns, len(images)))
    rows = (len(images) + columns - 1) // columns
    # keep the canvas bounded for very long documents: shrink cells rather than grow without end
    while cell_width > 60 and (columns * (cell_width + gap)) * rows * (cell_width * 1.5 + gap) > MAX_SHEET_PIXELS:
        cell_width = int(cell_width * 0.8)
    tiles = [_thumbnail(Path(i) if isinstance(i, str) else i, cell_width) or _broken_tile(cell_width) for i in images]
    font = _font(max(12, min(28, cell_width // 14)))
    label_h = font.getbbox("Ag")[3] + 10
    row_heights = [max(t.height for t in tiles[r * columns : (r + 1) * columns]) for r in range(rows)]
    width = columns * cell_width + (columns + 1) * gap
    height = sum(row_heights) + rows * (label_h + gap) + gap
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    y = gap
    for r in range(rows):
        for c in range(columns):
            k = r * columns + c
            if k >= len(tiles):
                break
            x = gap + c * (cell_width + gap)
            tile = tiles[k]
            sheet.paste(tile, (x, y))
            draw.rectangle([x - 1, y - 1, x + tile.width, y + tile.height], outline=(160, 160, 160))
            text = labels[k]
            tw = draw.textlength(text, font=font)
            draw.text((x + (cell_width - tw) / 2, y + row_heights[r] + 4), text, fill=LABEL_COLOR, font=font)
        y += row_heights[r] + label_h + gap
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out_path) as tmp:
        sheet.save(tmp, "PNG", compress_level=3)
    return out_path
