"""Coarse-to-fine recognition over a label tree: a recurrent decoder emits one level per step.

`hierarchical`: backbone → global average pooling ("pooler", the image
feature x) → a GRU (or LSTM) unrolled over the L levels of a
`fgkeras.data.label_tree.LabelTree` (family → genus → species), each step
conditioned on the previous level's prediction (see
`fgkeras.layers.tree_decoder` for the recursion). Every level has its own
logits; the last level's are the model's output, the class logits.

The idea of decoding a label path with an RNN, one level per step, follows
Guo, Liu, Bakker, Guo and Lew, "CNN-RNN: a large-scale hierarchical image
classification framework", Multimedia Tools and Applications 77, 2018
(https://doi.org/10.1007/s11042-017-5443-x); tree-consistent decoding
restricts each level to the children of the node predicted above it, as
top-down hierarchical classifiers do.

Training (`HierarchicalModel.train_losses`) sums one cross-entropy per level,
Σ_l w_l CE(z_l, a_l(y)), the level-l labels a_l(y) read from the tree's
ancestors table; with teacher forcing (the default) step l reads the
embedding of the *true* node of level l−1.
"""

import re
import types

import keras
from keras import layers, ops

from fgkeras.data.label_tree import LabelTree, flat_tree, resolve_label_tree
from fgkeras.layers import SelectStep
from fgkeras.layers.tree_decoder import ChildMask, DecoderStep, PredictionEmbedding
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes
from fgkeras.models.multi_pass import MultiPassModel, replica_scaled
from fgkeras.models.registry import register_model

DECODINGS = ("greedy", "tree")
GUO_2018 = "CNN-RNN: a large-scale hierarchical image classification framework"


def level_layer_name(level: str) -> str:
    """The suffix of a level's layer names: the level name with non-word characters as "_".

    >>> level_layer_name("upper body")
    'upper_body'
    """
    return re.sub(r"\W+", "_", str(level)).strip("_") or "level"


def unroll(parts, pooled, teacher=None, training=None):
    """Run the decoder over every level; return ``(raw logits, decoded logits)`` per level.

    ``parts`` names the decoder's layers (see `decoder_layers`). Step l reads
    the embedding of level l−1's decoded prediction, or of ``teacher[:, l−1]``
    (true node indices) when given. The decoded logits are the raw ones
    passed through each level's `ChildMask` (unchanged in greedy decoding).
    The model builder calls it on symbolic tensors, `HierarchicalModel`
    on a training batch: one recursion for both.
    """
    state = parts.init_state(parts.init_dense(pooled))
    previous = parts.root_embedding(pooled)
    raw, decoded = [], []
    for level in range(len(parts.heads)):
        state = parts.step([previous, state], training=training)
        hidden = parts.hidden(state)
        logits = parts.heads[level](parts.dropouts[level](hidden, training=training))
        if level == 0:
            output = parts.outputs[0](logits)
        else:
            output = parts.outputs[level]([decoded[-1], logits])
        raw.append(logits)
        decoded.append(output)
        if level + 1 < len(parts.heads):
            embed = parts.embeddings[level]
            if teacher is None:
                previous = embed(output, training=training)
            else:
                previous = embed.lookup(teacher[:, level])
    return raw, decoded


def decoder_layers(tree: LabelTree, units, cell, embedding_dim, dropout, decoding):
    """New decoder layers for ``tree``, named as the model exposes them."""
    names = [level_layer_name(level) for level in tree.levels]
    if len(set(names)) != len(names):
        raise ValueError(
            f"The label tree's level names must differ after turning non-word characters "
            f"into '_' (they name layers). Received: levels={tree.levels}"
        )
    num_states = 1 if cell == "gru" else 2
    last = len(names) - 1
    return types.SimpleNamespace(
        init_dense=layers.Dense(num_states * units, activation="tanh", name="decoder_init"),
        init_state=layers.Reshape((num_states, units), name="decoder_init_state"),
        root_embedding=layers.Dense(embedding_dim, name="root_embedding"),
        step=DecoderStep(units, cell=cell, name="decoder_step"),
        hidden=SelectStep(0, axis=1, name="decoder_hidden"),
        dropouts=[
            layers.Dropout(dropout, name="head_dropout" if i == last else f"level_dropout_{n}")
            for i, n in enumerate(names)
        ],
        heads=[
            layers.Dense(size, dtype="float32", name="predictions" if i == last else f"level_{n}")
            for i, (n, size) in enumerate(zip(names, tree.level_sizes))
        ],
        outputs=[layers.Identity(name=f"level_logits_{names[0]}", dtype="float32")]
        + [
            ChildMask(
                tree.parents(i),
                active=decoding == "tree",
                name=f"level_logits_{n}",
                dtype="float32",
            )
            for i, n in enumerate(names[1:], start=1)
        ],
        embeddings=[
            PredictionEmbedding(size, embedding_dim, name=f"embedding_{n}")
            for n, size in zip(names[:-1], tree.level_sizes[:-1])
        ],
    )


@keras.saving.register_keras_serializable(package="fgkeras")
class HierarchicalModel(MultiPassModel):
    """The `hierarchical` network with its per-level loss; built by `build_hierarchical`.

    Args:
        label_tree: the `LabelTree` config (``LabelTree.to_config()``) the
            decoder was built for.
        level_weights: weight of each level's cross-entropy, coarse first;
            None weighs every level 1.0. Defaults to None.
        teacher_forcing: feed each training step the embedding of the true
            parent (True) or of the model's own soft prediction (False).
            Defaults to True.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.

    >>> tree = LabelTree(["group", "label"], [["a", "b"], ["a1", "a2", "b1"]],
    ...                  [[0, 0], [0, 1], [1, 2]])
    >>> model = build_hierarchical(3, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                            label_tree=tree, units=8, label_embedding_dim=4)
    >>> model.label_tree.levels, model.decoding, [o.shape for o in model.level_outputs()]
    (['group', 'label'], 'greedy', [(None, 2), (None, 3)])
    """

    INTERMEDIATES = ("pooler",)

    def __init__(self, *args, label_tree=None, level_weights=None, teacher_forcing=True, **kwargs):
        super().__init__(*args, **kwargs)
        tree = resolve_label_tree(label_tree) or flat_tree(range(self.outputs[0].shape[-1]))
        self.label_tree = tree
        self.level_weights = _check_level_weights(level_weights, tree.num_levels)
        self.teacher_forcing = bool(teacher_forcing)
        names = [level_layer_name(level) for level in tree.levels]
        last = len(names) - 1
        self._parts = types.SimpleNamespace(  # the same layers, untracked (see MultiPassModel)
            init_dense=self.get_layer("decoder_init"),
            init_state=self.get_layer("decoder_init_state"),
            root_embedding=self.get_layer("root_embedding"),
            step=self.get_layer("decoder_step"),
            hidden=self.get_layer("decoder_hidden"),
            dropouts=[
                self.get_layer("head_dropout" if i == last else f"level_dropout_{n}")
                for i, n in enumerate(names)
            ],
            heads=[
                self.get_layer("predictions" if i == last else f"level_{n}")
                for i, n in enumerate(names)
            ],
            outputs=[self.get_layer(f"level_logits_{n}") for n in names],
            embeddings=[self.get_layer(f"embedding_{n}") for n in names[:-1]],
        )
        self.term_trackers = [keras.metrics.Mean(name=f"{n}_loss") for n in names]

    @property
    def decoding(self) -> str:
        """The inference decoding: "tree" (tree-consistent) or "greedy"."""
        masks = [layer for layer in self._parts.outputs if isinstance(layer, ChildMask)]
        return "tree" if masks and masks[0].active else "greedy"

    def set_decoding(self, decoding: str) -> None:
        """Switch inference between "greedy" and "tree" decoding (no weight changes).

        >>> model = build_hierarchical(4, backbone="tiny", weights=None, input_shape=(32, 32, 3),
        ...                            units=8, label_embedding_dim=4)
        >>> model.set_decoding("tree")
        """
        _check_decoding(decoding)
        for layer in self._parts.outputs:
            if isinstance(layer, ChildMask):
                layer.active = decoding == "tree"
        self.predict_function = self.test_function = None  # traced with the old setting

    def level_outputs(self):
        """The symbolic decoded logits of every level, coarse first (the last is the output)."""
        return [layer.output for layer in self._parts.outputs]

    def level_labels(self, y):
        """``(batch, L)`` node indices of every level for class labels ``y``."""
        labels = ops.cast(ops.reshape(y, (-1,)), "int32")
        table = ops.convert_to_tensor(self.label_tree.ancestors)
        return ops.take(table, labels, axis=0)

    def decode(self, x, y=None, training=False):
        """Raw per-level logits of images ``x``; with labels ``y``, teacher-forced."""
        pooled = self.run(x, training=training)["pooler"]
        teacher = None if y is None else self.level_labels(y)
        raw, _ = unroll(self._parts, pooled, teacher=teacher, training=training)
        return raw

    def train_losses(self, x, y, sample_weight, loss_fn):
        if len(y.shape) > 1 and y.shape[-1] not in (None, 1):
            raise ValueError(
                "The hierarchical model trains on integer class labels (its coarse levels are "
                f"read from them); MixUp/CutMix soft labels cannot be used. Received labels of "
                f"shape {tuple(y.shape)}"
            )
        targets = self.level_labels(y)
        raw = self.decode(x, y if self.teacher_forcing else None, training=True)
        terms, total = {}, 0.0
        cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        for level, (tracker, logits) in enumerate(zip(self.term_trackers, raw)):
            if level == len(raw) - 1:  # the compiled loss (label smoothing, ...) on the classes
                value = loss_fn(logits)
            else:
                value = replica_scaled(cross_entropy(targets[:, level], logits, sample_weight))
            terms[tracker.name] = value
            total = total + self.level_weights[level] * value
        terms["loss"] = total
        return terms, raw[-1]

    def get_config(self):
        return {
            **super().get_config(),
            "label_tree": self.label_tree.to_config(),
            "level_weights": list(self.level_weights),
            "teacher_forcing": self.teacher_forcing,
        }


def _check_level_weights(level_weights, num_levels):
    if level_weights is None:
        return [1.0] * num_levels
    weights = list(level_weights) if isinstance(level_weights, list | tuple) else None
    if weights is None or len(weights) != num_levels or any(float(w) < 0 for w in weights):
        raise ValueError(
            f"`level_weights` must be {num_levels} numbers >= 0, one per level of the label "
            f"tree (coarse first), or None. Received: level_weights={level_weights!r}"
        )
    return [float(w) for w in weights]


def _check_decoding(decoding):
    if decoding not in DECODINGS:
        raise ValueError(
            f"`decoding` must be one of {list(DECODINGS)}. Received: decoding={decoding!r}"
        )


def build_hierarchical(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(448, 448, 3),
    label_tree=None,
    cell: str = "gru",
    units: int = 512,
    label_embedding_dim: int = 128,
    decoding: str = "greedy",
    teacher_forcing: bool = True,
    level_weights=None,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "hierarchical",
) -> HierarchicalModel:
    """Backbone, average pooling, a GRU/LSTM emitting one label-tree level per step.

    After Guo et al., "CNN-RNN: a large-scale hierarchical image
    classification framework", 2018 (https://doi.org/10.1007/s11042-017-5443-x).
    With image feature x ("pooler"): s_0 = tanh(W_0 x + b_0), e_0 = W_r x + b_r,
    then for each level l: s_l = cell(e_{l−1}, s_{l−1}), z_l = V_l h_l + c_l,
    and e_l the embedding of level l's prediction (`PredictionEmbedding`).
    Layers: "decoder_init", "root_embedding", "decoder_step" (shared by the
    steps), "level_<name>" (coarse levels' logits) and "predictions" (the
    classes', after "head_dropout"), "level_logits_<name>" (each level's
    decoded logits; the last one is the model's output), "embedding_<name>".
    `fgkeras.train` passes the data source's tree (``source_info``).

    Args:
        num_classes: number of classes (the tree's last level). Defaults to 200.
        backbone: backbone name. Defaults to "resnet50".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        label_tree: a `fgkeras.data.label_tree.LabelTree` or its config
            dict; None builds a flat one-level tree over ``num_classes``
            (the decoder then is a one-step GRU classifier). Defaults to None.
        cell: "gru" or "lstm". Defaults to "gru".
        units: size of the recurrent state. Defaults to 512.
        label_embedding_dim: size of each node's embedding (not the zoo's
            ``embedding_dim``, a projection of the pooled features that this
            multi-pass model does not take). Defaults to 128.
        decoding: "greedy" (each level's arg-max, unconstrained) or "tree"
            (each level restricted to the children of the node predicted
            above; `HierarchicalModel.set_decoding` switches a trained model).
            Defaults to "greedy".
        teacher_forcing: in training, feed each step the true parent's
            embedding (True) or the soft prediction's (False). Defaults to True.
        level_weights: weight of each level's cross-entropy, coarse first;
            None: 1.0 each. Defaults to None.
        dropout: dropout before every level's logits. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "hierarchical".

    >>> model = build_hierarchical(5, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                            units=8, label_embedding_dim=4)
    >>> model.output_shape, model.get_layer("pooler").output.shape
    ((None, 5), (None, 128))
    """
    check_num_classes(num_classes)
    _check_decoding(decoding)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if isinstance(label_tree, dict) and set(label_tree) != {"levels", "names", "ancestors"}:
        raise ValueError(
            "`label_tree` must be a LabelTree or its config (LabelTree.to_config()); to build "
            "one from a {child: parent} map use fgkeras.data.label_tree.from_child_parent. "
            f"Received: label_tree={str(label_tree)[:200]}"
        )
    tree = resolve_label_tree(label_tree) or flat_tree([str(i) for i in range(num_classes)])
    if tree.num_classes != num_classes:
        raise ValueError(
            f"The label tree has {tree.num_classes} classes and the model {num_classes}: build "
            "it with the tree of its data (fgkeras.train passes the source's). Received: "
            f"num_classes={num_classes}"
        )
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    pooled = layers.GlobalAveragePooling2D(name="pooler")(feature_map)
    parts = decoder_layers(tree, units, cell, label_embedding_dim, dropout, decoding)
    _, decoded = unroll(parts, pooled)
    return HierarchicalModel(
        inputs,
        decoded[-1],
        name=name,
        label_tree=tree.to_config(),
        level_weights=level_weights,
        teacher_forcing=teacher_forcing,
    )


@register_model(
    family="recurrent",
    paper=GUO_2018,
    year=2018,
    url="https://doi.org/10.1007/s11042-017-5443-x",
    tags=("hierarchy", "label-tree", "recurrent", "coarse-to-fine", "multi-pass"),
    data_config={"input_size": (448, 448), "resize_size": 512},
    targets=("label", "hierarchy"),
    capabilities=("classify", "embed", "grad_cam", "multi_pass", "level_logits"),
)
def hierarchical(**kwargs):
    """A GRU decodes the label tree coarse to fine (family → genus → species), one level a step."""
    return build_hierarchical(**{"backbone": "resnet50", "name": "hierarchical", **kwargs})
