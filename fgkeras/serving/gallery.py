"""Galleries: labelled embeddings exported with a model for the ``nearest`` signature.

A gallery is a set of images with class labels, embedded once by the model
(the output of `fgkeras.models.heads.embedding_layer`) and stored in the
SavedModel. The ``nearest`` signature embeds a query image and ranks the
gallery's classes by cosine distance ``1 - cos``. A class the classifier never
saw is added by re-exporting with images of it in the gallery: no training.

Two modes:

- ``"prototypes"``: one vector per class, the L2-normalised mean of its
  images' L2-normalised embeddings (nearest class mean). Small and robust.
- ``"all"``: every gallery image is kept; a class's distance is that of its
  closest image (nearest neighbour). Follows multi-modal classes; grows with
  the gallery.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np

MODES = ("prototypes", "all")
# Set by build_gallery itself: the gallery is read once, in order, centre-cropped.
_FIXED_LOAD_OPTIONS = ("shuffle", "crop", "mixing", "balanced", "sampler", "features")


@dataclasses.dataclass
class Gallery:
    """Labelled, L2-normalised embeddings: what the ``nearest`` signature searches.

    Attributes:
        embeddings: float32 ``[G, D]``, unit rows: one per class
            ("prototypes") or per image ("all").
        labels: int32 ``[G]``, index of each row's class in ``class_names``.
        class_names: the gallery's class names (not the classifier's).
        mode: "prototypes" or "all".
        counts: int ``[C]``, gallery images per class.
        source: where the images came from (for the model card), or None.
        image_size: ``(height, width)`` the images were resized to, or None.
        resize_size: the shorter side before the centre crop, or None.
    """

    embeddings: np.ndarray
    labels: np.ndarray
    class_names: list
    mode: str = "prototypes"
    counts: np.ndarray | None = None
    source: str | None = None
    image_size: tuple | None = None
    resize_size: int | None = None

    def __post_init__(self):
        self.embeddings = np.asarray(self.embeddings, np.float32)
        self.labels = np.asarray(self.labels, np.int32).reshape(-1)
        self.class_names = [str(name) for name in self.class_names]
        if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.labels):
            raise ValueError(
                "A gallery needs embeddings [G, D] and one label per row. Received: "
                f"embeddings of shape {self.embeddings.shape}, {len(self.labels)} labels"
            )
        if not len(self.labels) or not self.class_names:
            raise ValueError("A gallery needs at least one labelled embedding.")
        if self.labels.min() < 0 or self.labels.max() >= len(self.class_names):
            raise ValueError(
                f"Gallery labels must index class_names (0..{len(self.class_names) - 1}). "
                f"Received labels in [{self.labels.min()}, {self.labels.max()}]"
            )
        if self.mode not in MODES:
            raise ValueError(f"Gallery mode must be one of {MODES}. Received: mode={self.mode!r}")
        if self.counts is None:
            self.counts = np.bincount(self.labels, minlength=len(self.class_names))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def summary(self) -> dict:
        """What the model card records about the gallery."""
        return {
            "mode": self.mode,
            "num_classes": self.num_classes,
            "num_images": int(np.sum(self.counts)),
            "num_vectors": int(len(self.labels)),
            "embedding_dim": int(self.embeddings.shape[1]),
            "source": self.source,
            "image_size": list(self.image_size) if self.image_size else None,
            "resize_size": self.resize_size,
            "class_names_file": "assets/gallery_class_names.txt",
        }


def l2_normalize(x, epsilon=1e-12) -> np.ndarray:
    """Rows of ``x`` scaled to unit length (zero rows stay zero), as `tf.math.l2_normalize`.

    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]], dtype=float32)
    """
    x = np.asarray(x, np.float32)
    norm = np.sqrt(np.maximum(np.sum(x * x, axis=-1, keepdims=True), epsilon))
    return x / norm


def make_gallery(embeddings, labels, class_names, mode="prototypes", **metadata) -> Gallery:
    """A `Gallery` from raw embeddings ``[N, D]`` and their labels.

    Rows are L2-normalised; with ``mode="prototypes"`` each class becomes the
    L2-normalised mean of its normalised rows. Classes without any row are
    left out (with a warning) and the labels renumbered.

    Args:
        embeddings: float ``[N, D]`` embeddings of the gallery images.
        labels: int ``[N]``, indices into ``class_names``.
        class_names: names of the classes.
        mode: "prototypes" or "all". Defaults to "prototypes".
        **metadata: ``source``, ``image_size``, ``resize_size`` for the card.

    >>> g = make_gallery([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]], [0, 0, 1], ["a", "b"])
    >>> g.embeddings.tolist(), g.labels.tolist(), g.counts.tolist()
    ([[1.0, 0.0], [0.0, 1.0]], [0, 1], [2, 1])
    """
    if mode not in MODES:
        raise ValueError(f"Gallery mode must be one of {MODES}. Received: mode={mode!r}")
    embeddings = np.asarray(embeddings, np.float32)
    labels = np.asarray(labels, np.int64).reshape(-1)
    class_names = [str(name) for name in class_names]
    if embeddings.ndim != 2 or not len(embeddings) or len(embeddings) != len(labels):
        raise ValueError(
            "The gallery is empty or its labels do not match its embeddings: need [N, D] "
            f"embeddings with N >= 1 and N labels. Received: embeddings of shape "
            f"{embeddings.shape}, {len(labels)} labels"
        )
    counts = np.bincount(labels, minlength=len(class_names))
    present = np.flatnonzero(counts)
    if len(present) < len(class_names):
        missing = [class_names[i] for i in np.flatnonzero(counts == 0)]
        warnings.warn(
            f"{len(missing)} gallery class(es) have no images and are left out: "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}",
            stacklevel=2,
        )
    renumber = np.full(len(class_names), -1, np.int64)
    renumber[present] = np.arange(len(present))
    labels, names, counts = renumber[labels], [class_names[i] for i in present], counts[present]
    unit = l2_normalize(embeddings)
    if mode == "prototypes":
        sums = np.zeros((len(names), unit.shape[1]), np.float64)
        np.add.at(sums, labels, unit)
        unit, labels = l2_normalize(sums / counts[:, None]), np.arange(len(names))
    return Gallery(unit, labels, names, mode, counts, **metadata)


def class_distances(query_embeddings, gallery: Gallery) -> np.ndarray:
    """Cosine distance ``[N, C]`` of each query to each gallery class (NumPy reference).

    A class's distance is that of its closest gallery row: its prototype, or
    its nearest image with ``mode="all"``.

    >>> g = make_gallery([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], [0, 1, 1], ["a", "b"], mode="all")
    >>> class_distances([[0.8, 0.6]], g).round(3)
    array([[0.2 , 0.04]], dtype=float32)
    """
    similarity = l2_normalize(query_embeddings) @ gallery.embeddings.T
    best = np.full((similarity.shape[0], gallery.num_classes), -np.inf, np.float32)
    np.maximum.at(best.T, gallery.labels, similarity.T)
    return np.clip(1.0 - best, 0.0, 2.0)


def build_gallery(
    model,
    source,
    mode="prototypes",
    image_size=None,
    batch_size=64,
    **load_options,
) -> Gallery:
    """Embed a labelled image source with ``model``: the gallery for ``nearest``.

    Images are read once, in order, with the evaluation pipeline
    (`fgkeras.data.load`, centre crop) and embedded with the model's
    embedding layer (`fgkeras.models.heads.embedding_layer`), in inference
    mode. Pass the ``resize_size`` the model is exported with, so gallery and
    queries are prepared alike.

    Args:
        model: a zoo model (an augmentation wrapper around it is unwrapped).
        source: a folder of class subfolders (``DIR/<class>/<image>``), a
            CSV file, or any `fgkeras.data.load` source name or path.
        mode: "prototypes" (one mean vector per class) or "all" (every
            image). Defaults to "prototypes".
        image_size: side the images are resized to; None takes the model's
            (square) input size. Defaults to None.
        batch_size: images per model call. Defaults to 64.
        **load_options: passed to `fgkeras.data.load`: ``split`` (a plain
            folder of class subfolders is split "train", the default),
            ``resize_size``, ``limit``, ``validation_split``, source options.

    Returns:
        A `Gallery`.

    >>> import fgkeras
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(32, 32, 3))
    >>> g = build_gallery(net, "synthetic", num_examples=12, num_classes=4)
    >>> g.embeddings.shape[0] == g.num_classes, g.mode
    (True, 'prototypes')
    """
    import keras

    from fgkeras.checks import check_int
    from fgkeras.data import load
    from fgkeras.models.heads import embedding_model
    from fgkeras.serving.signatures import inference_model, input_size

    if mode not in MODES:
        raise ValueError(f"Gallery mode must be one of {MODES}. Received: mode={mode!r}")
    check_int("batch_size", batch_size)
    fixed = sorted(set(load_options) & set(_FIXED_LOAD_OPTIONS))
    if fixed:
        raise ValueError(
            "build_gallery reads each gallery image once, in order, centre-cropped, without "
            f"mixing or features; do not pass {fixed}."
        )
    model = inference_model(model)
    embedder = embedding_model(model)  # fails before reading any image
    if image_size is None:
        height, width = input_size(model)
        if height != width:
            raise ValueError(
                f"build_gallery reads images at a square size; the model's input is "
                f"{height}x{width}. Pass image_size= explicitly."
            )
        image_size = height
    check_int("image_size", image_size)
    options = {"split": "train", **load_options}
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    try:
        data = load(
            source, image_size=image_size, batch_size=batch_size, shuffle=False, crop="center",
            **options,
        )  # fmt: skip
    except (ValueError, OSError) as error:
        raise type(error)(f"Cannot read the gallery {name!r}: {error}") from error
    embeddings, labels = [], []
    for images, batch_labels in data:
        out = embedder(images, training=False)
        embeddings.append(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")))
        labels.append(np.asarray(batch_labels))
    if not embeddings:
        raise ValueError(
            f"The gallery {name!r} (split {options['split']!r}) has no readable images. "
            "Put images in DIR/<class name>/ folders."
        )
    embeddings = np.concatenate(embeddings).reshape(sum(len(x) for x in labels), -1)
    return make_gallery(
        embeddings,
        np.concatenate(labels),
        data.class_names,
        mode,
        source=str(name),
        image_size=(image_size, image_size),
        resize_size=options.get("resize_size"),
    )
