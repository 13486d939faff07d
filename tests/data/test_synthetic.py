import numpy as np
import pytest

from fgkeras.data import synthetic


def test_deterministic_by_seed_and_split():
    a = synthetic.generate(32, seed=3)
    b = synthetic.generate(32, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.part_bbox, b.part_bbox)
    c = synthetic.generate(32, seed=4)
    assert not np.array_equal(a.images, c.images)


def test_splits_are_disjoint():
    train = synthetic.generate(200, split="train", num_classes=4)
    test = synthetic.generate(200, split="test", num_classes=4)
    flat_train = {img.tobytes() for img in train.images}
    assert not any(img.tobytes() in flat_train for img in test.images)


def test_arrays_shapes_dtypes_and_balance():
    d = synthetic.generate(40, num_classes=8, image_size=48)
    assert d.images.shape == (40, 48, 48, 3) and d.images.dtype == np.uint8
    assert d.labels.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(d.labels), [5] * 8)
    assert d.attributes.shape == (40, 6) and set(np.unique(d.attributes)) == {0, 1}
    assert d.attributes.sum(axis=1).tolist() == [3] * 40  # one colour per part
    assert d.hierarchy[:, 2].tolist() == d.labels.tolist()
    assert len(d.text) == 40 and all(t.startswith(("a ", "this ")) for t in d.text)


def test_boxes_are_valid_and_parts_lie_in_object():
    d = synthetic.generate(64, difficulty=1.0)
    for boxes in (d.bbox, d.part_bbox.reshape(-1, 4)):
        assert np.all(boxes >= 0) and np.all(boxes <= 1)
        assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    obj = d.bbox[:, None]
    tol = 1.5 / 64
    assert np.all(d.part_bbox[..., :2] >= obj[..., :2] - tol)
    assert np.all(d.part_bbox[..., 2:] <= obj[..., 2:] + tol)
    parts_area = np.prod(d.part_bbox[..., 2:] - d.part_bbox[..., :2], axis=-1)
    assert parts_area.max() < 0.15  # the deciding parts are small


def test_part_pixels_have_the_class_colours():
    """The crown/wing/tail box centres show the class's palette colours."""
    d = synthetic.generate(64, difficulty=0.0, image_size=64)
    palette = np.array(list(synthetic.PALETTE.values())[:2], np.float32)
    hits = 0
    for i in range(64):
        for k in range(3):
            y0, x0, y1, x1 = d.part_bbox[i, k] * 64
            patch = d.images[i, int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))]
            want = palette[d.info.part_colors[d.labels[i], k]]
            dist = np.linalg.norm(patch.reshape(-1, 3).astype(np.float32) - want, axis=1)
            hits += (dist < 60).mean() > 0.2
    assert hits / (64 * 3) > 0.9


def test_class_info_hierarchy_is_consistent():
    info = synthetic.class_info(27)
    assert len(set(info.class_names)) == 27
    assert len(info.hierarchy_names["family"]) == 3
    # every genus has exactly one family
    for genus in range(len(info.hierarchy_names["genus"])):
        fams = set(info.hierarchy[info.hierarchy[:, 1] == genus, 0].tolist())
        assert len(fams) == 1
    assert info.attribute_names[0] == "has_crown_color::red"


@pytest.mark.parametrize(
    "kwargs",
    [{"num_classes": 1}, {"num_examples": 0}, {"image_size": 16}, {"difficulty": 2},
     {"split": "dev"}],
)  # fmt: skip
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received|split"):
        synthetic.generate(**{"num_examples": 4, **kwargs})
