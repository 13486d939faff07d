"""Raw CUB-200-2011 with Reed et al.'s ``text_c10`` captions: the ``text`` feature."""

import os
import shutil

import numpy as np
import pytest

import fgkeras.data as fd
from fgkeras.data import raw_layouts, sources
from tests.data.conftest import write_image

CLASSES = ["001.Albatross", "002.Auklet", "003.Cardinal"]
TRAIN_IDS = [1, 2, 4, 5, 7, 8]  # the third image of each class is a test image


def caption(image_id, k):
    return f"bird {image_id} has a red crown, sentence {k}"


def write_cub_with_captions(base):
    """``base/CUB_200_2011`` (3 classes x 3 images) and ``base/text_c10`` (10 lines each).

    Image ``i`` (1-based) is a solid colour whose red channel is ``20 * i``.
    """
    root = base / "CUB_200_2011"
    images = [f"{c}/{c[4:]}_{j}.jpg" for c in CLASSES for j in range(3)]
    for i, name in enumerate(images, 1):
        write_image(root / "images" / name, (20, 24), (20 * i, 60, 60))
        lines = "".join(caption(i, k) + "\n" for k in range(10))
        path = base / "text_c10" / (os.path.splitext(name)[0] + ".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(lines)
    (root / "images.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(images, 1)))
    (root / "classes.txt").write_text("".join(f"{k} {c}\n" for k, c in enumerate(CLASSES, 1)))
    (root / "image_class_labels.txt").write_text("".join(f"{i} {(i - 1) // 3 + 1}\n"
                                                         for i in range(1, 10)))  # fmt: skip
    (root / "train_test_split.txt").write_text("".join(f"{i} {int(i in TRAIN_IDS)}\n"
                                                       for i in range(1, 10)))  # fmt: skip
    return root


@pytest.fixture
def cub_text(tmp_path):
    return write_cub_with_captions(tmp_path)


def examples_of(ds):
    """``[(image id, text, label)]`` of every example: the id read from the red channel."""
    found = []
    for x, y in ds:
        reds = x["image"].numpy()[:, 8, 8, 0]
        texts = [t.decode() for t in x["text"].numpy()]
        found += [(int(round(r / 20)), t, int(c)) for r, t, c in zip(reds, texts, y.numpy())]
    return found


def test_first_caption_of_each_image_follows_its_image_through_shuffling(cub_text):
    assert sources.detect(str(cub_text.parent)) == "cub200_raw"
    ds = fd.load(str(cub_text.parent), "train", features=("text",), image_size=16,
                 batch_size=4, shuffle=True, seed=3)  # fmt: skip
    found = examples_of(ds)
    assert sorted(i for i, _, _ in found) == TRAIN_IDS
    for image_id, text, label in found:
        assert text == caption(image_id, 0)
        assert label == (image_id - 1) // 3
    test = examples_of(fd.load(str(cub_text), "test", features=("text",), image_size=16))
    assert test == [(i, caption(i, 0), (i - 1) // 3) for i in (3, 6, 9)]


def test_class_descriptions_are_the_training_images_captions_whatever_the_split(cub_text):
    want = [[caption(i, k) for k in range(5) for i in pair] for pair in ((1, 2), (4, 5), (7, 8))]
    for split in ("train", "test"):
        ds = fd.load(str(cub_text), split, features=("text",), image_size=16)
        assert ds.source_info["class_descriptions"] == want  # first captions first
    every = raw_layouts.cub_source(data_dir=str(cub_text), class_captions=None)
    assert every.info["class_descriptions"][2] == [caption(i, k) for k in range(10)
                                                   for i in (7, 8)]  # fmt: skip
    one = raw_layouts.cub_source("test", data_dir=str(cub_text), class_captions=1)
    assert one.info["class_descriptions"] == [[caption(1, 0)], [caption(4, 0)], [caption(7, 0)]]
    with pytest.raises(ValueError, match="class_captions"):
        raw_layouts.cub_source(data_dir=str(cub_text), class_captions=0)


def test_all_captions_gives_one_example_per_caption(cub_text):
    ds = fd.load(str(cub_text), "train", features=("text",), image_size=16, batch_size=16,
                 captions="all", seed=0)  # fmt: skip
    found = examples_of(ds)
    assert ds.source_info["num_examples"] == 60
    assert sorted(found) == sorted((i, caption(i, k), (i - 1) // 3)
                                   for i in TRAIN_IDS for k in range(10))  # fmt: skip
    with pytest.raises(ValueError, match="captions must be one of"):
        fd.load(str(cub_text), captions="random")


def test_class_filter_keeps_captions_with_their_images(cub_text):
    ds = fd.load(str(cub_text), "train", features=("text",), image_size=16,
                 classes=["003.Cardinal", "001.Albatross"], shuffle=True, seed=1)  # fmt: skip
    found = examples_of(ds)
    assert sorted(found) == [(1, caption(1, 0), 1), (2, caption(2, 0), 1),
                             (7, caption(7, 0), 0), (8, caption(8, 0), 0)]  # fmt: skip
    descriptions = ds.source_info["class_descriptions"]
    assert [group[0] for group in descriptions] == [caption(7, 0), caption(1, 0)]


@pytest.mark.parametrize("place", ["inside", "release", "text_dir"])
def test_caption_folder_inside_cub_in_the_release_folder_or_given(cub_text, place):
    base = cub_text.parent
    target = {"inside": cub_text / "text_c10", "release": base / "cvpr2016_cub" / "text_c10",
              "text_dir": base / "elsewhere" / "captions"}[place]  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(base / "text_c10"), str(target))
    options = {"text_dir": str(target)} if place == "text_dir" else {}
    ds = fd.load(str(cub_text), "test", features=("text",), image_size=16, **options)
    assert [t for _, t, _ in examples_of(ds)] == [caption(i, 0) for i in (3, 6, 9)]
    with pytest.raises(FileNotFoundError, match="No text_c10 caption folder at text_dir="):
        fd.load(str(cub_text), text_dir=str(base / "nowhere"))


def test_without_captions_the_source_has_no_text(cub_text):
    shutil.rmtree(cub_text.parent / "text_c10")
    with pytest.raises(ValueError, match=r"has no feature\(s\) \['text'\]"):
        fd.load(str(cub_text), features=("text",), image_size=16)
    assert "class_descriptions" not in fd.load(str(cub_text), image_size=16).source_info


def test_captions_none_reads_no_captions(cub_text):
    examples = raw_layouts.cub_source(data_dir=str(cub_text), captions=None)
    assert "text" not in examples.features
    assert "class_descriptions" not in examples.info


def test_missing_caption_file_is_named_or_its_image_skipped(cub_text):
    missing = cub_text.parent / "text_c10" / CLASSES[1] / "Auklet_1.txt"  # image 5, train
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 6 CUB images .*Auklet_1\.txt"):
        fd.load(str(cub_text), features=("text",), image_size=16, on_error="raise")
    with pytest.warns(UserWarning, match=r"Skipped 1 of 6 CUB images .*Auklet_1\.txt"):
        ds = fd.load(str(cub_text), features=("text",), image_size=16, captions="all")
    found = examples_of(ds)
    assert sorted({i for i, _, _ in found}) == [1, 2, 4, 7, 8] and len(found) == 50
    assert ds.source_info["skipped"][0][0].endswith("Auklet_1.jpg")
    # Class descriptions take the captions that are there.
    assert ds.source_info["class_descriptions"][1] == [caption(4, k) for k in range(10)]


def test_no_caption_file_at_all_is_an_error_even_when_skipping(cub_text):
    for path in (cub_text.parent / "text_c10").rglob("*.txt"):
        path.write_text("\n")  # empty files count as missing
    with pytest.raises(FileNotFoundError, match="None of the 6 CUB images has a caption file"):
        fd.load(str(cub_text), features=("text",), image_size=16)


def test_image_text_trains_on_cub_captions(cub_text, tmp_path):
    import keras

    import fgkeras

    run = tmp_path / "run"
    fgkeras.train("image_text", str(cub_text), str(run), backbone="tiny", weights=None,
                  image_size=16, epochs=1, batch_size=8, source_options={"captions": "all"},
                  val_split=None, verbose=0)  # fmt: skip
    model = keras.models.load_model(run / "model.keras")
    assert model.scorer.descriptions[0][:2] == [caption(1, 0), caption(2, 0)]
    assert {"bird", "crown", "sentence"} <= set(model.text_encoder.vocabulary)
    assert np.isfinite(float(model.scorer.logit_scale))
