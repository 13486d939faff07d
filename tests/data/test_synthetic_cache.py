import os

import numpy as np
import pytest

from fgkeras.data import synthetic, synthetic_cache
from fgkeras.data.sources import get_examples

SPLIT = dict(num_classes=4, image_size=32, difficulty=0.3, seed=7, split="validation")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FGKERAS_CACHE_DIR", str(tmp_path))
    return tmp_path


def cached_files(folder):
    return sorted(os.listdir(folder / "synthetic")) if (folder / "synthetic").exists() else []


def assert_same(a, b):
    for name in ("images", "labels", "bbox", "part_bbox", "attributes", "text", "hierarchy"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype, name
    assert a.info.class_names == b.info.class_names


def test_second_draw_is_read_from_disk_and_equal(cache, monkeypatch):
    drawn = synthetic_cache.generate(300, **SPLIT)
    assert len(cached_files(cache)) == 1
    assert_same(drawn, synthetic.generate(300, **SPLIT))

    def no_drawing(*args, **kwargs):
        raise AssertionError("drew the split again instead of reading the cache")

    monkeypatch.setattr(synthetic, "generate", no_drawing)
    assert_same(synthetic_cache.generate(300, **SPLIT), drawn)


def test_each_argument_has_its_own_file(cache):
    synthetic_cache.generate(300, **SPLIT)
    synthetic_cache.generate(300, **{**SPLIT, "seed": 8})
    synthetic_cache.generate(300, **{**SPLIT, "difficulty": 0.4})
    assert len(cached_files(cache)) == 3


def test_a_changed_generator_does_not_read_old_files(cache, monkeypatch):
    before = synthetic_cache.cache_path(str(cache), "test", 300, 4, 32, 0.3, 7)
    monkeypatch.setattr(synthetic_cache, "_generator_hash", lambda: "edited")
    assert synthetic_cache.cache_path(str(cache), "test", 300, 4, 32, 0.3, 7) != before


def test_a_damaged_file_is_drawn_again_and_replaced(cache):
    expected = synthetic_cache.generate(300, **SPLIT)
    (path,) = [cache / "synthetic" / name for name in cached_files(cache)]
    path.write_bytes(b"not a zip file")
    assert_same(synthetic_cache.generate(300, **SPLIT), expected)
    assert_same(synthetic_cache.generate(300, **SPLIT), expected)  # now read back
    assert path.stat().st_size > 300 * 32 * 32 * 3


def test_empty_setting_turns_the_cache_off(cache, monkeypatch):
    monkeypatch.setenv("FGKERAS_CACHE_DIR", "")
    synthetic_cache.generate(300, **SPLIT)
    assert cached_files(cache) == []


def test_an_unwritable_cache_still_returns_the_split(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")  # a folder cannot be made under a file
    monkeypatch.setenv("FGKERAS_CACHE_DIR", str(blocker))
    assert_same(synthetic_cache.generate(300, **SPLIT), synthetic.generate(300, **SPLIT))


def test_small_splits_and_bad_arguments_skip_the_cache(cache):
    synthetic_cache.generate(32, **SPLIT)
    assert cached_files(cache) == []
    with pytest.raises(ValueError, match="difficulty"):
        synthetic_cache.generate(300, **{**SPLIT, "difficulty": 2.0})
    assert cached_files(cache) == []


def test_the_synthetic_source_reads_through_the_cache(cache):
    examples = get_examples(
        "synthetic", "test", num_examples=300, num_classes=5, native_size=32, data_seed=11
    )
    assert len(cached_files(cache)) == 1
    assert examples.table["image"].shape == (300, 32, 32, 3)
