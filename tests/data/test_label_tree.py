"""Label trees: building, distances, JSON, and how sources and `load` expose them."""

import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import fgkeras.data as fd
from fgkeras.data import sources
from fgkeras.data.label_tree import (
    LabelTree,
    flat_tree,
    from_child_parent,
    resolve_label_tree,
)

BIRDS = {
    "wren": "songbird", "robin": "songbird", "hawk": "raptor", "owl": "raptor",
    "songbird": "bird", "raptor": "bird", "bat": "mammal",
}  # fmt: skip
CLASSES = ["wren", "robin", "hawk", "owl", "bat"]


def test_from_child_parent_walks_up_and_pads_short_chains():
    tree = from_child_parent(BIRDS, CLASSES, levels=["class", "order", "species"])
    assert tree.levels == ["class", "order", "species"]
    assert tree.names[0] == ["bird", "mammal"] and tree.names[1] == ["songbird", "raptor", "mammal"]
    # "bat" has one ancestor: it repeats its parent down to the missing level.
    assert tree.ancestors.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [0, 1, 3], [1, 2, 4]]
    assert tree.parents(1).tolist() == [0, 0, 1] and tree.parents(2).tolist() == [0, 0, 1, 1, 2]
    assert from_child_parent(BIRDS, CLASSES).levels == ["level0", "level1", "label"]


def test_tree_distance_is_levels_below_the_common_ancestor():
    tree = from_child_parent(BIRDS, CLASSES)
    a, b = [0, 0, 0, 0, 2], [0, 1, 2, 4, 3]
    assert tree.distance(a, b).tolist() == [0, 1, 2, 3, 1]
    assert np.array_equal(tree.distance(b, a), tree.distance(a, b))  # symmetric
    every = np.arange(5)
    matrix = np.array([tree.distance(np.full(5, i), every) for i in every])
    for i in every:  # ultrametric: d(a, c) <= max(d(a, b), d(b, c))
        assert np.all(matrix[i][:, None] <= np.maximum(matrix[i][None, :], matrix))


@pytest.mark.parametrize(
    "mapping, classes, match",
    [
        ({"wren": "songbird"}, ["wren", "robin", "owl"], r"no parent to 2 of 3 classes: \['robin'"),
        ({"a": "x", "x": "y", "y": "x"}, ["a"], "cycle: a -> x -> y -> x"),
        ({"a": "b", "b": "x"}, ["a", "b"], "class 'b' an ancestor of class 'a'"),
        ({}, ["a"], "non-empty"),
    ],
)
def test_from_child_parent_errors_name_the_problem(mapping, classes, match):
    with pytest.raises(ValueError, match=match):
        from_child_parent(mapping, classes)


def test_label_tree_validation_errors():
    with pytest.raises(ValueError, match="two parents"):
        LabelTree(["g", "s", "label"], [["x", "y"], ["s"], ["a", "b"]], [[0, 0, 0], [1, 0, 1]])
    with pytest.raises(ValueError, match="has 1 nodes"):
        LabelTree(["g", "label"], [["x"], ["a", "b"]], [[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="keys 'levels', 'names' and 'ancestors'"):
        LabelTree.from_config({"levels": ["label"]})


def test_json_round_trip_and_file_mapping(tmp_path):
    tree = from_child_parent(BIRDS, CLASSES)
    again = LabelTree.from_config(json.loads(json.dumps(tree.to_config())))
    assert again == tree and repr(again) == "LabelTree(level0 (2) → level1 (3) → label (5))"
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(BIRDS))
    assert from_child_parent(str(path), CLASSES) == tree
    with pytest.raises(FileNotFoundError, match="No label tree file"):
        from_child_parent(str(tmp_path / "none.json"), CLASSES)
    # A tree over more classes is cut down by name; a class it lacks is named.
    assert resolve_label_tree(tree, ["owl", "wren"]).ancestors.tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="no class"):
        resolve_label_tree(tree, ["owl", "eagle"])
    assert flat_tree(["a", "b"]).distance([0], [1]).tolist() == [1]


def test_synthetic_source_info_holds_the_class_ancestors():
    ds = fd.load("synthetic", "test", image_size=16, batch_size=8, num_examples=8,
                 features=("hierarchy",), shuffle=False)  # fmt: skip
    tree = LabelTree.from_source_info(ds.source_info, ds.class_names)
    assert tree.levels == ["family", "genus", "species"] and tree.num_classes == 8
    x, y = next(iter(ds))
    np.testing.assert_array_equal(x["hierarchy"].numpy(), tree.level_labels(y.numpy()))


def test_classes_filter_keeps_the_ancestors_consistent():
    ds = fd.load("synthetic", "test", image_size=16, batch_size=16, num_examples=32,
                 features=("hierarchy",), classes=[6, 1, 5], shuffle=False)  # fmt: skip
    full = LabelTree.from_source_info(
        fd.load("synthetic", "test", image_size=16, num_examples=8).source_info,
        fd.load("synthetic", "test", image_size=16, num_examples=8).class_names,
    )
    tree = LabelTree.from_source_info(ds.source_info, ds.class_names)
    assert tree == full.subset([6, 1, 5])  # rows of the kept classes; coarse indices kept
    x, y = next(iter(ds))
    np.testing.assert_array_equal(x["hierarchy"].numpy(), tree.level_labels(y.numpy()))


def test_label_tree_argument_gives_a_folder_a_hierarchy(class_folder):
    mapping = {"alpha": "warm", "beta": "cold", "gamma": "cold"}
    ds = fd.load(str(class_folder), image_size=16, batch_size=12, shuffle=False,
                 label_tree=mapping, features=("hierarchy",))  # fmt: skip
    info = ds.source_info
    assert info["hierarchy_levels"] == ["level0", "label"]
    assert info["hierarchy_names"]["level0"] == ["warm", "cold"]
    assert info["class_ancestors"] == [[0, 0], [1, 1], [1, 2]]
    x, y = next(iter(ds))
    assert x["hierarchy"].numpy().tolist() == [[int(v > 0), v] for v in y.numpy()]
    with pytest.raises(ValueError, match=r"no parent to 1 of 3 classes: \['gamma'\]"):
        fd.load(str(class_folder), image_size=16, label_tree={"alpha": "w", "beta": "c"})
    # After `classes`, the tree only needs the kept classes.
    sub = fd.load(str(class_folder), image_size=16, classes=["gamma", "alpha"],
                  label_tree={"gamma": "cold", "alpha": "warm"})  # fmt: skip
    assert sub.source_info["class_ancestors"] == [[0, 0], [1, 1]]


def test_label_tree_on_stream_sources(monkeypatch):
    monkeypatch.setattr(sources, "FASHION_MNIST_DIRS", ())
    monkeypatch.delenv("FGKERAS_DATA_DIR", raising=False)
    warmth = {"T-shirt/top": "light", "Shirt": "light", "Pullover": "warm", "Coat": "warm"}
    with tfds.testing.mock_data(num_examples=8):
        ds = fd.load("fashion_mnist_tops", "train", image_size=28, batch_size=8,
                     features=("hierarchy",))  # fmt: skip
        x, y = next(iter(ds))
        mine = fd.load("fashion_mnist_tops", "train", image_size=28, batch_size=8,
                       features=("hierarchy",), label_tree=warmth)  # fmt: skip
        x_mine, y_mine = next(iter(mine))
    assert ds.source_info["hierarchy_levels"] == ["group", "label"]
    assert x["hierarchy"].numpy().tolist() == [[0, v] for v in y.numpy()]  # all upper body
    assert mine.source_info["class_ancestors"] == [[0, 0], [1, 1], [1, 2], [0, 3]]
    groups = {0: 0, 1: 1, 2: 1, 3: 0}
    assert x_mine["hierarchy"].numpy().tolist() == [[groups[v], v] for v in y_mine.numpy()]


def test_fashion_mnist_tree_follows_the_issue():
    tree = sources.fashion_mnist_tree()
    group = {name: tree.names[0][g] for name, (g, _) in zip(tree.class_names, tree.ancestors)}
    assert tree.levels == ["group", "label"]
    assert tree.names[0] == ["upper body", "full body", "lower body", "footwear", "bags"]
    assert {n for n, g in group.items() if g == "upper body"} == {
        "T-shirt/top", "Pullover", "Coat", "Shirt"}  # fmt: skip
    assert group["Dress"] == "full body" and group["Trouser"] == "lower body"
    assert {n for n, g in group.items() if g == "footwear"} == {"Sandal", "Sneaker", "Ankle boot"}
    assert group["Bag"] == "bags"


@pytest.mark.skipif(sources.fashion_mnist_dir() is None and os.environ.get("CI") != "true",
                    reason="Fashion-MNIST IDX files not installed")  # fmt: skip
def test_fashion_mnist_idx_source_has_the_group_hierarchy():
    ds = fd.load("fashion_mnist", "test", image_size=28, batch_size=64, limit=64,
                 features=("hierarchy",))  # fmt: skip
    tree = LabelTree.from_source_info(ds.source_info, ds.class_names)
    assert tree == sources.fashion_mnist_tree()
    x, y = next(iter(ds))
    np.testing.assert_array_equal(x["hierarchy"].numpy(), tree.level_labels(y.numpy()))


def test_aircraft_class_ancestors_at_every_label_level(aircraft_dir):
    ds = fd.load(str(aircraft_dir.parent), "test", image_size=16)
    tree = LabelTree.from_source_info(ds.source_info, ds.class_names)
    assert tree.levels == ["manufacturer", "family", "variant"]
    # 707-320 and 727-200 are Boeings of two families; A300B4 is an Airbus A300.
    assert tree.ancestors.tolist() == [[1, 0, 0], [1, 1, 1], [0, 2, 2]]
    assert tree.distance([0, 0], [1, 2]).tolist() == [2, 3]
    family = fd.load("fgvc_aircraft", "test", data_dir=str(aircraft_dir), level="family")
    tree = LabelTree.from_source_info(family.source_info, family.class_names)
    assert tree.levels == ["manufacturer", "family"] and tree.names[0] == ["Airbus", "Boeing"]


def test_oxford_pet_breeds_map_to_their_species():
    with tfds.testing.mock_data(num_examples=4):
        ds = fd.load("oxford_iiit_pet", "train", image_size=16, batch_size=4)
    tree = LabelTree.from_source_info(ds.source_info, ds.class_names)
    species = dict(zip(tree.class_names, (tree.names[0][g] for g in tree.ancestors[:, 0])))
    assert species["Abyssinian"].lower() == "cat" and species["beagle"].lower() == "dog"
    assert sum(s.lower() == "cat" for s in species.values()) == 12
