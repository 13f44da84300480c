"""The image store: ids, files, lineage maps, decoded cache, input checks and pixel modes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tools.images import IDENTITY, ImageInputError, ImageStore, apply, compose, eight_bit, open_image_checked


def test_compose_applies_inner_first():
    scale = [2.0, 0.0, 0.0, 0.0, 2.0, 0.0]
    shift = [1.0, 0.0, 10.0, 0.0, 1.0, 5.0]
    assert apply(compose(shift, scale), 3, 4) == (16.0, 13.0)  # scale, then shift
    assert apply(compose(scale, shift), 3, 4) == (26.0, 18.0)  # shift, then scale
    assert compose(IDENTITY, shift) == shift


def test_ids_files_and_lineage_map_back_to_the_root(tmp_path):
    src = tmp_path / "in.png"
    Image.new("RGB", (400, 300), "white").save(src)
    store = ImageStore(tmp_path / "images")
    root = store.add_input(src)
    assert root.id == "img1" and (store.folder / root.file).read_bytes() == src.read_bytes()  # copied unchanged
    crop = store.add(Image.new("RGB", (200, 100)), parent="img1", op="zoom", to_parent=[0.5, 0, 100, 0, 0.5, 50])
    flip = store.add(Image.new("RGB", (200, 100)), parent=crop.id, op="flip", to_parent=[-1, 0, 200, 0, 1, 0])
    assert (crop.id, flip.id) == ("img2", "img3")
    assert store.root_of("img3") == "img1"
    # the flipped image's left edge is the crop's right edge: x 100+0.5*200 = 200 in the root
    assert store.map_points("img3", [(0, 0), (200, 100)]) == ("img1", [(200.0, 50.0), (100.0, 100.0)])
    assert store.map_box("img3", (0, 0, 200, 100)) == ("img1", (100.0, 50.0, 200.0, 100.0))
    reloaded = ImageStore.load(tmp_path / "images")
    assert reloaded.map_box("img3", (0, 0, 200, 100)) == store.map_box("img3", (0, 0, 200, 100))
    assert reloaded.get("img2").size == (200, 100)


def test_unknown_id_names_the_known_ones(tmp_path):
    store = ImageStore(tmp_path)
    store.add(Image.new("L", (4, 4)), parent=None, op="test")
    with pytest.raises(KeyError, match="unknown image id 'img7' \\(known: img1\\)"):
        store.record("img7")


def test_decoded_images_are_cached_and_evicted_oldest_first(tmp_path):
    store = ImageStore(tmp_path, cache_size=2)
    for _ in range(3):
        store.add(Image.new("RGB", (8, 8)), parent=None, op="test")
    assert list(store._cache) == ["img2", "img3"]
    first = store.get("img1")  # decoded from disk again
    assert store.get("img1") is first and list(store._cache) == ["img3", "img1"]


def test_encoded_downscales_big_images_and_sends_small_files_as_they_are(tmp_path):
    store = ImageStore(tmp_path)
    small = store.add(Image.new("RGB", (300, 200), "red"), parent=None, op="test")
    big = store.add(Image.new("RGB", (4000, 1000), "blue"), parent=None, op="test")
    data, mime = store.encoded(small.id)
    assert mime == "image/png" and data == store.path(small.id).read_bytes()
    data, mime = store.encoded(big.id, detail="low")
    assert Image.open(io.BytesIO(data)).size == (768, 192)


def test_bad_input_files_are_one_line_errors(tmp_path, monkeypatch):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(ImageInputError, match="not a readable image"):
        open_image_checked(junk)
    huge = tmp_path / "huge.png"
    Image.new("L", (3000, 3000)).save(huge)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(ImageInputError, match="decompression bomb"):
        open_image_checked(huge)


def test_eight_bit_flattens_alpha_on_white_and_scales_sixteen_bit():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    assert eight_bit(rgba).mode == "RGB" and eight_bit(rgba).getpixel((0, 0)) == (255, 255, 255)
    half = Image.new("RGBA", (4, 4), (0, 0, 0, 128))
    assert eight_bit(half).getpixel((0, 0)) == (127, 127, 127)
    wide = Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.uint16))
    assert list(np.asarray(eight_bit(wide))[0]) == [0, 128, 255]
    floats = Image.fromarray(np.array([[-1.0, 0.0, 1.0]], dtype=np.float32))
    assert list(np.asarray(eight_bit(floats))[0]) == [0, 128, 255]
    palette = Image.new("P", (2, 2))
    palette.putpalette([0, 0, 0, 10, 200, 30])
    palette.putpixel((1, 1), 1)
    assert eight_bit(palette).getpixel((1, 1)) == (10, 200, 30)


def test_inputs_in_unusual_modes_are_stored_and_read_as_eight_bit(tmp_path):
    src = tmp_path / "deep.png"
    Image.fromarray(np.full((10, 10), 65535, dtype=np.uint16)).save(src)
    store = ImageStore(tmp_path / "images")
    rec = store.add_input(src)
    assert store.get(rec.id).mode == "L" and store.get(rec.id).getpixel((0, 0)) == 255
    assert ImageStore.load(tmp_path / "images").get(rec.id).getpixel((0, 0)) == 255  # decoded afresh
