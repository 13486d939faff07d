"""Fixtures for the data tests: tiny image folders and raw dataset layouts."""

import io
import os

import numpy as np
import pytest
from PIL import Image


def write_image(path, size=(24, 32), color=(200, 30, 30), fmt=None, mode="RGB"):
    """Write a solid-colour image (height, width) with PIL; return its path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h, w = size
    img = Image.new("RGB", (w, h), color)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, fmt)
    return str(path)


def jpeg_bytes(size=(24, 32), color=(200, 30, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size[::-1], color).save(buf, "JPEG", quality=95)
    return buf.getvalue()


@pytest.fixture
def class_folder(tmp_path):
    """data/<cls>/img{i}.png with 3 classes x 4 images; each class a distinct colour."""
    root = tmp_path / "folder"
    colors = {"alpha": (250, 0, 0), "beta": (0, 250, 0), "gamma": (0, 0, 250)}
    for name, color in colors.items():
        for i in range(4):
            write_image(root / name / f"img{i}.png", (20 + i, 30), color)
    return root


@pytest.fixture
def cub_dir(tmp_path):
    """A 2-class, 4-image CUB_200_2011 folder with boxes, parts and attributes."""
    root = tmp_path / "CUB_200_2011"
    classes = ["001.Albatross", "002.Auklet"]
    images = []
    for k, cls in enumerate(classes):
        for j in range(2):
            name = f"{cls}/{cls[4:]}_{j}.jpg"
            write_image(root / "images" / name, (100, 200), (50 + 100 * k, 80, 80))
            images.append(name)
    (root / "images.txt").write_text("".join(f"{i + 1} {n}\n" for i, n in enumerate(images)))
    (root / "classes.txt").write_text("".join(f"{k + 1} {c}\n" for k, c in enumerate(classes)))
    (root / "image_class_labels.txt").write_text("1 1\n2 1\n3 2\n4 2\n")
    (root / "train_test_split.txt").write_text("1 1\n2 0\n3 1\n4 0\n")
    (root / "bounding_boxes.txt").write_text(
        "1 20.0 10.0 100.0 50.0\n2 0.0 0.0 200.0 100.0\n3 50.0 25.0 50.0 50.0\n4 0 0 10 10\n"
    )
    (root / "parts").mkdir()
    (root / "parts" / "parts.txt").write_text("1 back\n2 beak\n")
    (root / "parts" / "part_locs.txt").write_text(
        "".join(f"{i} 1 100.0 50.0 1\n{i} 2 0.0 0.0 0\n" for i in range(1, 5))
    )
    (root / "attributes").mkdir()
    (root / "attributes" / "image_attribute_labels.txt").write_text(
        # the real file has some lines with an extra field
        "".join(f"{i} 1 {i % 2} 3 1.5\n{i} 2 1 4 2.0 extra\n{i} 3 0 1 0.5\n" for i in range(1, 5))
    )
    (root / "attributes" / "class_attribute_labels_continuous.txt").write_text(
        "50.0 100.0 0.0\n25.0 100.0 12.5\n"
    )
    (tmp_path / "attributes.txt").write_text(
        "1 has_bill_shape::curved\n2 has_wing_color::blue\n3 has_size::small\n"
    )
    return root


@pytest.fixture
def aircraft_dir(tmp_path):
    """A tiny FGVC-Aircraft data/ folder: 3 variants, 2 families, 2 manufacturers."""
    root = tmp_path / "fgvc-aircraft-2013b" / "data"
    variants = ["707-320", "727-200", "A300B4"]
    families = ["Boeing 707", "Boeing 727", "A300"]
    makers = ["Boeing", "Boeing", "Airbus"]
    (root / "images").mkdir(parents=True)
    (root / "variants.txt").write_text("\n".join(variants) + "\n")
    (root / "families.txt").write_text("\n".join(families) + "\n")
    (root / "manufacturers.txt").write_text("Airbus\nBoeing\n")
    ids = {"train": ["1000001", "1000002", "1000003"], "test": ["1000004", "1000005"]}
    owner = {"1000001": 0, "1000002": 1, "1000003": 2, "1000004": 0, "1000005": 2}
    for split, split_ids in ids.items():
        for level, names in (("variant", variants), ("family", families),
                             ("manufacturer", makers)):  # fmt: skip
            (root / f"images_{level}_{split}.txt").write_text(
                "".join(f"{i} {names[owner[i]]}\n" for i in split_ids)
            )
    for i in owner:
        write_image(root / "images" / f"{i}.jpg", (120, 200), (90, 90, 200))
    (root / "images_box.txt").write_text("".join(f"{i} 1 1 100 60\n" for i in owner))
    return root


@pytest.fixture
def random_images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
