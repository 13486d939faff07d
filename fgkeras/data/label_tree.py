"""Label trees: every class's ancestors, level by level, as one value.

A `LabelTree` is a class hierarchy with the same number of levels above
every class, coarse to fine (family → genus → species):

- ``levels``: the level names, coarse first; the last level is the classes;
- ``names``: for each level, the names of its nodes (``names[-1]`` are the
  class names);
- ``ancestors``: int ``[num_classes, L]``, ``ancestors[c, l]`` is the node
  of level ``l`` above class ``c`` (``ancestors[c, -1] == c``).

Sources put the table in their ``source_info`` as ``class_ancestors`` (a
list of lists), beside ``hierarchy_levels`` and ``hierarchy_names``;
`LabelTree.from_source_info` reads it back. `from_child_parent` builds a tree
from any ``{child: parent}`` map of names (``fgkeras.data.load(...,
label_tree=...)``).

The *tree distance* of two classes is the number of levels below their
lowest common ancestor: ``d(a, b) = L − #{levels where a and b share their
ancestor}``, 0 for the same class, 1 for siblings, ``L`` for classes under
different roots (the height of the LCA, as in Bertinetto et al., "Making
Better Mistakes", CVPR 2020, https://arxiv.org/abs/1912.09393).

>>> tree = from_child_parent({"wren": "songbird", "robin": "songbird", "hawk": "raptor"},
...                          ["wren", "robin", "hawk"], levels=["order", "species"])
>>> tree.ancestors.tolist(), tree.names[0]
([[0, 0], [0, 1], [1, 2]], ['songbird', 'raptor'])
>>> tree.distance([0, 0, 0], [0, 1, 2]).tolist()
[0, 1, 2]
"""

from __future__ import annotations

import json
import os

import numpy as np

CLASS_LEVEL = "label"


class LabelTree:
    """A class hierarchy: level names, node names per level, each class's ancestors.

    Args:
        levels: level names, coarse first; the last is the class level.
        names: one list of node names per level (the last: the class names).
        ancestors: int ``[num_classes, len(levels)]``: the node of each
            level above each class; the last column is the class itself.
            Two classes that share a node share every coarser node too (a
            node has one parent).

    Raises:
        ValueError: if the shapes, indices or the one-parent rule are broken.

    >>> tree = LabelTree(["group", "label"], [["cats", "dogs"], ["lion", "tiger", "wolf"]],
    ...                  [[0, 0], [0, 1], [1, 2]])
    >>> tree.level_sizes, tree.parents(1).tolist()
    ([2, 3], [0, 0, 1])
    >>> LabelTree(["a", "b"], [["x", "y"], ["c", "d"]], [[0, 0], [1, 0]])
    Traceback (most recent call last):
    ...
    ValueError: The last column of `ancestors` must be the class index ...
    """

    def __init__(self, levels, names, ancestors):
        self.levels = [str(level) for level in levels]
        self.names = [[str(name) for name in level_names] for level_names in names]
        table = np.asarray(ancestors)
        if table.ndim == 1 and table.size == 0:
            table = table.reshape(0, len(self.levels))
        if table.ndim != 2 or not np.issubdtype(table.dtype, np.integer):
            raise ValueError(
                "`ancestors` must be an integer table [num_classes, num_levels]. "
                f"Received: ancestors of shape {table.shape} and dtype {table.dtype}"
            )
        self.ancestors = table.astype(np.int32)
        self._validate()

    def _validate(self):
        levels, names, table = self.levels, self.names, self.ancestors
        if not levels or len(set(levels)) != len(levels):
            raise ValueError(f"`levels` must be distinct level names. Received: levels={levels}")
        if len(names) != len(levels) or table.shape[1] != len(levels):
            raise ValueError(
                f"A tree of {len(levels)} levels needs {len(levels)} lists of names and "
                f"ancestors of width {len(levels)}. Received: {len(names)} name lists, "
                f"ancestors of shape {table.shape}"
            )
        if not len(table) or len(names[-1]) != len(table):
            raise ValueError(
                f"`ancestors` needs one row per class ({len(names[-1])} class names). "
                f"Received: {len(table)} rows"
            )
        if not np.array_equal(table[:, -1], np.arange(len(table))):
            raise ValueError(
                "The last column of `ancestors` must be the class index itself (0, 1, ...). "
                f"Received: {table[:, -1].tolist()[:10]}"
            )
        for level, (level_names, column) in enumerate(zip(names, table.T)):
            if column.min() < 0 or column.max() >= len(level_names):
                raise ValueError(
                    f"Level {levels[level]!r} has {len(level_names)} nodes, but `ancestors` "
                    f"names node {int(column.min() if column.min() < 0 else column.max())}."
                )
        for level in range(1, len(levels)):
            self.parents(level)  # raises when a node has two parents

    @property
    def num_levels(self) -> int:
        """Number of levels L, the class level included."""
        return len(self.levels)

    @property
    def num_classes(self) -> int:
        """Number of classes (nodes of the last level)."""
        return len(self.ancestors)

    @property
    def class_names(self) -> list:
        """The class names (``names[-1]``)."""
        return list(self.names[-1])

    @property
    def level_sizes(self) -> list:
        """Number of nodes of each level, coarse first."""
        return [len(level_names) for level_names in self.names]

    def parents(self, level: int) -> np.ndarray:
        """Parent (a node of ``level - 1``) of every node of ``level``; -1: no class under it.

        >>> from_child_parent({"a": "x", "b": "x"}, ["a", "b"]).parents(1).tolist()
        [0, 0]
        """
        if not 1 <= level < self.num_levels:
            raise ValueError(
                f"`level` must be from 1 to {self.num_levels - 1} (level 0 has no parents). "
                f"Received: level={level!r}"
            )
        parents = np.full(self.level_sizes[level], -1, np.int32)
        for child, parent in zip(self.ancestors[:, level], self.ancestors[:, level - 1]):
            if parents[child] not in (-1, parent):
                raise ValueError(
                    f"Node {self.names[level][child]!r} of level {self.levels[level]!r} has two "
                    f"parents: {self.names[level - 1][parents[child]]!r} and "
                    f"{self.names[level - 1][parent]!r}. A label tree gives each node one parent."
                )
            parents[child] = parent
        return parents

    def level_labels(self, labels) -> np.ndarray:
        """``[N, L]`` node indices of each level for class labels ``[N]``.

        >>> from_child_parent({"a": "x", "b": "y"}, ["a", "b"]).level_labels([1, 0]).tolist()
        [[1, 1], [0, 0]]
        """
        return self.ancestors[np.asarray(labels, np.int64).reshape(-1)]

    def distance(self, a, b) -> np.ndarray:
        """Tree distance of classes ``a`` and ``b`` (arrays): levels below their common ancestor.

        ``L − #{l : ancestors[a, l] == ancestors[b, l]}``: 0 for the same
        class, ``L`` for classes under different roots.

        >>> tree = from_child_parent({"a": "x", "b": "x", "c": "y"}, ["a", "b", "c"])
        >>> tree.distance([0, 0, 0], [0, 1, 2]).tolist()
        [0, 1, 2]
        """
        a_nodes, b_nodes = self.level_labels(a), self.level_labels(b)
        return (self.num_levels - np.sum(a_nodes == b_nodes, axis=1)).astype(np.int64)

    def subset(self, classes) -> LabelTree:
        """The tree of ``classes`` only (indices), renumbered in that order; coarser nodes kept.

        >>> tree = from_child_parent({"a": "x", "b": "y", "c": "y"}, ["a", "b", "c"])
        >>> sub = tree.subset([2, 0])
        >>> sub.ancestors.tolist(), sub.class_names, sub.names[0]
        ([[1, 0], [0, 1]], ['c', 'a'], ['x', 'y'])
        """
        classes = [int(c) for c in classes]
        table = self.ancestors[classes].copy()
        table[:, -1] = np.arange(len(classes))
        names = [*self.names[:-1], [self.names[-1][c] for c in classes]]
        return LabelTree(self.levels, names, table)

    def to_config(self) -> dict:
        """A JSON-ready dict; `LabelTree.from_config` reads it back.

        >>> tree = from_child_parent({"a": "x"}, ["a"])
        >>> LabelTree.from_config(json.loads(json.dumps(tree.to_config()))) == tree
        True
        """
        return {
            "levels": list(self.levels),
            "names": [list(level_names) for level_names in self.names],
            "ancestors": self.ancestors.tolist(),
        }

    @classmethod
    def from_config(cls, config: dict) -> LabelTree:
        """The tree of a `to_config` dict."""
        if not isinstance(config, dict) or set(config) != {"levels", "names", "ancestors"}:
            raise ValueError(
                "A label tree config is a dict with keys 'levels', 'names' and 'ancestors' "
                f"(LabelTree.to_config()). Received: {str(config)[:200]}"
            )
        return cls(config["levels"], config["names"], config["ancestors"])

    @classmethod
    def from_source_info(cls, info: dict, class_names) -> LabelTree | None:
        """The tree of a source's ``source_info`` (``class_ancestors``), or None if it has none.

        The ancestors' width says how many of ``hierarchy_levels`` are at or
        above the class level (FGVC-Aircraft by family: manufacturer, family).

        >>> import fgkeras
        >>> ds = fgkeras.data.load("synthetic", "test", image_size=16, num_examples=4)
        >>> LabelTree.from_source_info(ds.source_info, ds.class_names).levels
        ['family', 'genus', 'species']
        """
        rows = (info or {}).get("class_ancestors")
        if rows is None:
            return None
        table = np.asarray(rows, np.int32).reshape(len(class_names), -1)
        width = table.shape[1]
        levels = list(info.get("hierarchy_levels") or [])[:width]
        if len(levels) != width:
            levels = [f"level{i}" for i in range(width - 1)] + [CLASS_LEVEL]
        hierarchy_names = info.get("hierarchy_names") or {}
        names = []
        for level, column in zip(levels[:-1], table.T):
            known = hierarchy_names.get(level)
            names.append(
                list(known) if known else [f"{level}_{i}" for i in range(column.max() + 1)]
            )
        return cls(levels, [*names, list(class_names)], table)

    def source_info(self) -> dict:
        """The ``source_info`` entries of this tree (levels, names, ``class_ancestors``)."""
        return {
            "hierarchy_levels": list(self.levels),
            "hierarchy_names": dict(zip(self.levels, (list(n) for n in self.names))),
            "class_ancestors": self.ancestors.tolist(),
        }

    def __eq__(self, other):
        return (
            isinstance(other, LabelTree)
            and self.levels == other.levels
            and self.names == other.names
            and np.array_equal(self.ancestors, other.ancestors)
        )

    def __repr__(self):
        sizes = " → ".join(
            f"{level} ({size})" for level, size in zip(self.levels, self.level_sizes)
        )
        return f"LabelTree({sizes})"


def flat_tree(class_names) -> LabelTree:
    """The one-level tree of ``class_names`` (no hierarchy above the classes).

    >>> flat_tree(["a", "b"]).ancestors.tolist()
    [[0], [1]]
    """
    names = [str(name) for name in class_names]
    return LabelTree([CLASS_LEVEL], [names], np.arange(len(names))[:, None])


def from_child_parent(mapping, class_names, levels=None) -> LabelTree:
    """Build a `LabelTree` from a ``{child: parent}`` map of names.

    Each class's ancestors are found by walking up the map until a name has
    no parent (a root). Classes whose chain is shorter than the longest one
    repeat their parent down to the missing levels, so every class has one
    node per level and common ancestors stay common. Nodes of each level are
    numbered in order of first appearance, walking the classes in order.
    Entries of the map that are no class's ancestor are ignored.

    Args:
        mapping: ``{child name: parent name}``; or the path of a JSON file
            holding it.
        class_names: the classes (the leaves), index = label.
        levels: level names, coarse first; None names them ``"level0"``,
            ``"level1"``, ... and the class level ``"label"``. Defaults to None.

    Raises:
        ValueError: a class without parent (all are named), a cycle, or a
            class that is another class's ancestor.

    >>> tree = from_child_parent({"T-shirt": "upper", "Coat": "upper", "Bag": "bags",
    ...                           "upper": "clothes"}, ["T-shirt", "Bag", "Coat"])
    >>> tree.levels, tree.names[:2]
    (['level0', 'level1', 'label'], [['clothes', 'bags'], ['upper', 'bags']])
    >>> tree.ancestors.tolist()
    [[0, 0, 0], [1, 1, 1], [0, 0, 2]]
    >>> from_child_parent({"a": "x"}, ["a", "b", "c"])
    Traceback (most recent call last):
    ...
    ValueError: label_tree gives no parent to 2 of 3 classes: ['b', 'c']. ...
    """
    mapping = _read_mapping(mapping)
    class_names = [str(name) for name in class_names]
    missing = [name for name in class_names if name not in mapping]
    if missing:
        shown = missing[:10] + (["..."] if len(missing) > 10 else [])
        raise ValueError(
            f"label_tree gives no parent to {len(missing)} of {len(class_names)} classes: "
            f"{shown}. A label tree maps every class name to its parent, e.g. "
            f"{{{class_names[0]!r}: 'group name', ...}}."
        )
    classes = set(class_names)
    chains = []
    for name in class_names:
        chain, node = [name], name
        while node in mapping:
            node = mapping[node]
            if node in chain:
                raise ValueError(
                    f"label_tree has a cycle: {' -> '.join([*chain, node])}. Received: label_tree"
                )
            if node in classes:
                raise ValueError(
                    f"label_tree makes class {node!r} an ancestor of class {name!r}; classes "
                    "must be the leaves of the tree (map each class to a group, not to a class)."
                )
            chain.append(node)
        chains.append(chain[::-1])
    depth = max(len(chain) for chain in chains)
    chains = [chain[:-1] + [chain[-2]] * (depth - len(chain)) + chain[-1:] for chain in chains]
    if levels is None:
        levels = [f"level{i}" for i in range(depth - 1)] + [CLASS_LEVEL]
    levels = [str(level) for level in levels]
    if len(levels) != depth:
        raise ValueError(
            f"label_tree has {depth} levels (the classes included) but {len(levels)} level "
            f"names were given. Received: levels={levels}"
        )
    names = [[] for _ in range(depth)]
    table = np.zeros((len(class_names), depth), np.int32)
    for row, chain in enumerate(chains):
        for level, node in enumerate(chain):
            if node not in names[level]:
                names[level].append(node)
            table[row, level] = names[level].index(node)
    return LabelTree(levels, names, table)


def _read_mapping(mapping) -> dict:
    if isinstance(mapping, str | os.PathLike):
        path = os.fspath(mapping)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"No label tree file {path!r}: pass a {{child: parent}} dict or the path of a "
                "JSON file holding one."
            )
        with open(path, encoding="utf-8") as f:
            mapping = json.load(f)
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError(
            "label_tree must be a non-empty {child name: parent name} dict (or a JSON file of "
            f"one). Received: label_tree={str(mapping)[:200]}"
        )
    return {str(child): str(parent) for child, parent in mapping.items()}


def resolve_label_tree(value, class_names=None) -> LabelTree | None:
    """A `LabelTree` from a tree, its config, a ``{child: parent}`` map or a JSON file; None stays.

    A tree over more classes than ``class_names`` is cut down to them (by
    name); a map needs ``class_names``.

    >>> resolve_label_tree({"a": "x", "b": "x"}, ["b", "a"]).class_names
    ['b', 'a']
    """
    if value is None:
        return None
    if isinstance(value, LabelTree):
        tree = value
    elif isinstance(value, dict) and set(value) == {"levels", "names", "ancestors"}:
        tree = LabelTree.from_config(value)
    else:
        if class_names is None:
            raise ValueError("A {child: parent} label_tree needs the class names.")
        return from_child_parent(value, class_names)
    if class_names is None or list(class_names) == tree.class_names:
        return tree
    missing = [name for name in class_names if name not in tree.class_names]
    if missing:
        raise ValueError(
            f"The label tree has no class {missing[:10]}; it covers {tree.num_classes} classes "
            f"({tree.class_names[:5]} ...)."
        )
    return tree.subset([tree.class_names.index(name) for name in class_names])
