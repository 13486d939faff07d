"""A built-in procedural fine-grained dataset: "synthetic birds".

Every class is the same bird-like object (body, head, beak, tail) drawn in the
same base colour; classes differ **only** in the colours of three small local
parts: the crown (top of the head), a bar on the wing and the tail tip. The
colour palette of the parts is also scattered over the cluttered background as
decoy marks, so knowing *which* colours are in the picture is not enough: a
model has to know *where* they are (on which part). Pose (rotation, mirror),
scale and position are random.

Each example carries the object box, the boxes of the three class-deciding
parts, the class's binary attributes, a short text description and a
three-level hierarchy ``family -> genus -> species`` (crown colour -> crown and
wing colours -> all three colours).

Generation is vectorised NumPy and deterministic by ``seed``; the ``train``,
``validation`` and ``test`` splits draw from different random streams.

>>> data = generate(16, num_classes=8, seed=0)
>>> data.images.shape, data.images.dtype.name, data.labels[:4].tolist()
((16, 64, 64, 3), 'uint8', [2, 3, 3, 2])
>>> class_info(8).class_names[5]
'blue-crown red-wing blue-tail'
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from fgkeras.checks import check_int

PALETTE = {
    "red": (225, 35, 35),
    "blue": (35, 80, 235),
    "yellow": (245, 215, 30),
    "green": (30, 175, 60),
    "magenta": (210, 50, 210),
    "cyan": (30, 205, 215),
    "orange": (250, 135, 20),
    "white": (250, 250, 250),
    "purple": (110, 40, 170),
}
PART_NAMES = ("crown", "wing", "tail")
HIERARCHY_LEVELS = ("family", "genus", "species")
SPLITS = {"train": 0, "validation": 1, "val": 1, "test": 2}
DEFAULT_NUM_EXAMPLES = {"train": 4000, "validation": 1000, "val": 1000, "test": 1000}
# The one setting every benchmark of the project shares. Chosen by
# benchmarks/synthetic_preset.py with a rule fixed before measuring: 27 classes
# (a complete 3 x 3 x 3 family/genus/species tree) and the smallest difficulty
# of 0.5, 0.6, ..., 1.0 at which `baseline` (tiny backbone, 4 epochs, 48 px,
# 3 seeds) stays below 90 % test top-1 (benchmarks/results/synthetic_preset.md).
BENCHMARK_PRESET = {"num_classes": 27, "difficulty": 0.6}
PRESETS = {"benchmark": BENCHMARK_PRESET}
_BASE_COLOR = np.array([150.0, 122.0, 92.0], np.float32)
_TEMPLATES = (
    "a bird with a {0} crown, {1} wings and a {2} tail.",
    "this bird has a {0} crown, a {1} wing bar and a {2} tail tip.",
    "a brown bird whose crown is {0}, whose wings are {1} and whose tail tip is {2}.",
)


@dataclasses.dataclass(frozen=True)
class ClassInfo:
    """Names, attributes and hierarchy of the synthetic classes.

    Attributes:
        class_names: one name per class, e.g. ``"red-crown blue-wing red-tail"``.
        part_colors: ``[num_classes, 3]`` palette index of crown, wing and tail.
        attribute_names: ``"has_<part>_color::<color>"`` names, CUB style.
        attributes: ``[num_classes, num_attributes]`` binary (int32) matrix.
        hierarchy_levels: ``("family", "genus", "species")``.
        hierarchy_names: for each level, the list of its node names.
        hierarchy: ``[num_classes, 3]`` int32 index of each class's node per level
            (the last column is the class itself).
        descriptions: one canonical text description per class.
    """

    class_names: list
    part_colors: np.ndarray
    attribute_names: list
    attributes: np.ndarray
    hierarchy_levels: tuple
    hierarchy_names: dict
    hierarchy: np.ndarray
    descriptions: list


@dataclasses.dataclass(frozen=True)
class SyntheticData:
    """Arrays of one generated split (see :func:`generate`).

    Attributes:
        images: ``uint8 [N, S, S, 3]``.
        labels: ``int32 [N]``.
        bbox: ``float32 [N, 4]`` object box, normalized ``[ymin, xmin, ymax, xmax]``.
        part_bbox: ``float32 [N, 3, 4]`` boxes of crown, wing bar and tail tip.
        attributes: ``int32 [N, A]`` the class attributes of each example.
        text: ``str [N]`` a short description of each example.
        hierarchy: ``int32 [N, 3]`` family, genus and species index.
        info: the :class:`ClassInfo` of the classes.
    """

    images: np.ndarray
    labels: np.ndarray
    bbox: np.ndarray
    part_bbox: np.ndarray
    attributes: np.ndarray
    text: np.ndarray
    hierarchy: np.ndarray
    info: ClassInfo


def resolve_preset(preset=None, **overrides) -> dict:
    """The generation settings of a named preset, with explicit values on top.

    Args:
        preset: None (the defaults: 8 classes, difficulty 0.5) or a name of
            ``PRESETS`` (``"benchmark"``: `BENCHMARK_PRESET`).
        **overrides: ``num_classes`` and/or ``difficulty``; None keeps the
            preset's value.

    >>> resolve_preset()
    {'num_classes': 8, 'difficulty': 0.5}
    >>> resolve_preset("benchmark")["num_classes"], resolve_preset("benchmark", num_classes=9)
    (27, {'num_classes': 9, 'difficulty': ...})
    """
    if preset is not None and preset not in PRESETS:
        raise ValueError(
            f"Unknown synthetic preset. Expected one of {sorted(PRESETS)} or None. "
            f"Received: preset={preset!r}"
        )
    settings = dict(PRESETS[preset]) if preset else {"num_classes": 8, "difficulty": 0.5}
    settings.update({key: value for key, value in overrides.items() if value is not None})
    return settings


def class_descriptions(num_classes=8) -> list:
    """Every description template filled in for each class: one list of strings per class.

    >>> class_descriptions(8)[5][1]
    'this bird has a blue crown, a red wing bar and a blue tail tip.'
    """
    info = class_info(num_classes)
    colors = list(PALETTE)
    return [
        [template.format(*(colors[c] for c in triple)) for template in _TEMPLATES]
        for triple in info.part_colors.tolist()
    ]


@functools.lru_cache(maxsize=32)
def class_info(num_classes=8):
    """Return the :class:`ClassInfo` (names, attributes, hierarchy) for ``num_classes``.

    Classes are colour triples (crown, wing, tail) over the first ``C`` palette
    colours, with ``C`` the smallest number such that ``C**3 >= num_classes``;
    the triples are taken evenly from their lexicographic order so families
    (crown colour) stay balanced.

    Args:
        num_classes: number of classes, 2 to 729. Defaults to 8.

    >>> info = class_info(8)
    >>> info.hierarchy_names["family"], info.hierarchy[5].tolist()
    (['red-crown', 'blue-crown'], [1, 2, 5])
    """
    if not isinstance(num_classes, int | np.integer) or not 2 <= num_classes <= 729:
        raise ValueError(
            f"num_classes must be an integer from 2 to 729. Received: num_classes={num_classes!r}"
        )
    num_colors = 2
    while num_colors**3 < num_classes:
        num_colors += 1
    colors = list(PALETTE)[:num_colors]
    triples = list(itertools.product(range(num_colors), repeat=3))
    picks = np.round(np.linspace(0, len(triples) - 1, num_classes)).astype(int)
    part_colors = np.array([triples[i] for i in picks], np.int32)

    def name(triple):
        return " ".join(f"{colors[c]}-{p}" for c, p in zip(triple, PART_NAMES))

    class_names = [name(t) for t in part_colors]
    attribute_names = [f"has_{p}_color::{c}" for p in PART_NAMES for c in colors]
    attributes = np.zeros((num_classes, len(attribute_names)), np.int32)
    for k, triple in enumerate(part_colors):
        for j, c in enumerate(triple):
            attributes[k, j * num_colors + c] = 1
    hierarchy_names, hierarchy = {}, np.zeros((num_classes, 3), np.int32)
    for level, depth in zip(HIERARCHY_LEVELS, (1, 2, 3)):
        keys = sorted({tuple(t[:depth]) for t in part_colors.tolist()})
        hierarchy_names[level] = [
            " ".join(f"{colors[c]}-{p}" for c, p in zip(k, PART_NAMES)) for k in keys
        ]
        for i, t in enumerate(part_colors.tolist()):
            hierarchy[i, depth - 1] = keys.index(tuple(t[:depth]))
    descriptions = [_TEMPLATES[0].format(*(colors[c] for c in t)) for t in part_colors]
    return ClassInfo(
        class_names=class_names,
        part_colors=part_colors,
        attribute_names=attribute_names,
        attributes=attributes,
        hierarchy_levels=HIERARCHY_LEVELS,
        hierarchy_names=hierarchy_names,
        hierarchy=hierarchy,
        descriptions=descriptions,
    )


def generate(
    num_examples=None,
    *,
    num_classes=8,
    image_size=64,
    difficulty=0.5,
    seed=0,
    split="train",
):
    """Generate one split of the synthetic fine-grained dataset as NumPy arrays.

    Args:
        num_examples: number of images. Defaults to 4000 for ``"train"`` and
            1000 for ``"validation"``/``"test"``.
        num_classes: number of classes (2 to 729). Defaults to 8.
        image_size: side of the square images in pixels (>= 32). Defaults to 64.
        difficulty: 0 (centred, upright, clean) to 1 (any pose, small, heavy
            clutter and noise). Defaults to 0.5.
        seed: base seed; the same seed and split give the same arrays. Defaults to 0.
        split: ``"train"``, ``"validation"`` (or ``"val"``) or ``"test"``; each
            split uses its own random stream. Defaults to ``"train"``.

    Returns:
        A :class:`SyntheticData`. Labels are balanced (each class appears
        ``num_examples // num_classes`` or one more times) in random order.

    >>> d = generate(8, num_classes=4, image_size=32, seed=1, split="test")
    >>> d.part_bbox.shape, d.hierarchy.shape, str(d.text[0])
    ((8, 3, 4), (8, 3), 'a bird with a blue crown, red wings and a blue tail.')
    """
    if split not in SPLITS:
        raise ValueError(
            f"Unknown split for the synthetic dataset. Expected one of "
            f"{sorted(SPLITS)}. Received: split={split!r}"
        )
    if num_examples is None:
        num_examples = DEFAULT_NUM_EXAMPLES[split]
    check_int("num_examples", num_examples)
    check_int("image_size", image_size, minimum=32)
    if not 0.0 <= float(difficulty) <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1]. Received: difficulty={difficulty!r}")
    info = class_info(int(num_classes))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS[split]]))
    labels = rng.permutation(np.arange(num_examples) % num_classes).astype(np.int32)
    num_colors = info.attributes.shape[1] // 3
    palette = np.array(list(PALETTE.values())[:num_colors], np.float32)
    images = np.empty((num_examples, image_size, image_size, 3), np.uint8)
    bbox = np.empty((num_examples, 4), np.float32)
    part_bbox = np.empty((num_examples, 3, 4), np.float32)
    chunk = max(1, 262144 // (image_size * image_size))
    for start in range(0, num_examples, chunk):
        sl = slice(start, min(start + chunk, num_examples))
        colors = palette[info.part_colors[labels[sl]]]  # [n, 3 parts, 3 rgb]
        images[sl], bbox[sl], part_bbox[sl] = _render(
            rng, colors, palette, int(image_size), float(difficulty)
        )
    colors = list(PALETTE)[:num_colors]
    templates = rng.integers(0, len(_TEMPLATES), num_examples)
    text = np.array(
        [
            _TEMPLATES[t].format(*(colors[c] for c in info.part_colors[y]))
            for t, y in zip(templates, labels)
        ]
    )
    return SyntheticData(
        images=images,
        labels=labels,
        bbox=bbox,
        part_bbox=part_bbox,
        attributes=info.attributes[labels],
        text=text,
        hierarchy=info.hierarchy[labels],
        info=info,
    )


def _coverage(signed_distance):
    """Anti-aliased coverage in [0, 1] from a signed distance in pixels."""
    return np.minimum(np.maximum(0.5 - signed_distance, 0.0), 1.0)


def _paint(images, alpha, color):
    """Alpha-composite ``color`` ([n, 3]) over ``images`` ([n, S, S, 3]) in place.

    Only the pixels the shape covers are touched: shapes are small, so this is
    several times faster than blending whole images.
    """
    n, size = alpha.shape[0], alpha.shape[1] * alpha.shape[2]
    flat = np.flatnonzero(alpha > 0)
    a = alpha.reshape(-1)[flat][:, None]
    rgb = images.reshape(n * size, 3)
    pixels = rgb[flat]
    rgb[flat] = pixels + a * (color[flat // size] - pixels)


def _box(mask, size):
    """Normalized [ymin, xmin, ymax, xmax] of the pixels where ``mask`` is True."""
    rows, cols = mask.any(axis=2), mask.any(axis=1)
    ymin, xmin = rows.argmax(1), cols.argmax(1)
    ymax, xmax = size - rows[:, ::-1].argmax(1), size - cols[:, ::-1].argmax(1)
    return np.stack([ymin, xmin, ymax, xmax], axis=1).astype(np.float32) / size


def _render(rng, part_colors, palette, size, d):
    """Draw ``n`` birds with the given part colours ([n, 3, 3]); returns images and boxes."""
    n = part_colors.shape[0]
    f32 = np.float32
    y, x = np.meshgrid(
        np.arange(size, dtype=f32) + 0.5, np.arange(size, dtype=f32) + 0.5, indexing="ij"
    )
    y, x = y[None], x[None]

    def col(v):
        return np.asarray(v, f32)[:, None, None]

    # Background: a random dull colour plus smooth colour blobs, built as one
    # batched matrix product of separable Gaussians (fast, no per-blob pass).
    k = 3 + int(5 * d)
    base_bg = rng.uniform(60, 200, (n, 1, 3)).astype(f32)
    centers = rng.uniform(0, size, (2, n, k, 1)).astype(f32)
    sigma = (rng.uniform(0.08, 0.3, (n, k, 1)) * size).astype(f32)
    grid = np.arange(size, dtype=f32) + 0.5
    gy = np.exp(-((grid - centers[0]) ** 2) / (2 * sigma**2))  # [n, k, S]
    gx = np.exp(-((grid - centers[1]) ** 2) / (2 * sigma**2))
    weight = rng.uniform(0.3, 0.8, (n, k, 1)).astype(f32) * (
        rng.uniform(40, 220, (n, k, 3)).astype(f32) - base_bg
    )
    blobs = np.matmul(gy.transpose(0, 2, 1), (gx[..., None] * weight[:, :, None]).reshape(n, k, -1))
    images = np.clip(base_bg[:, None] + blobs.reshape(n, size, size, 3), 0, 255)
    # Decoys: small marks in the part palette, scattered over the background.
    unit = size / 64.0
    for _ in range(int(round(2 + 10 * d))):
        cy, cx = rng.uniform(0, size, (2, n))
        ang = rng.uniform(0, np.pi, n)
        la, lb = rng.uniform(1.5, 5.0, n) * unit, rng.uniform(1.0, 2.5, n) * unit
        du, dv = x - col(cx), y - col(cy)
        u = du * col(np.cos(ang)) + dv * col(np.sin(ang))
        v = -du * col(np.sin(ang)) + dv * col(np.cos(ang))
        r = np.sqrt((u / col(la)) ** 2 + (v / col(lb)) ** 2)
        _paint(images, _coverage((r - 1.0) * col(lb)), palette[rng.integers(0, len(palette), n)])
    # Pose of the bird.
    scale = rng.uniform(1.0 - 0.35 * d, 1.15 - 0.15 * d, n)
    a = 0.19 * size * scale  # body half-length
    b = 0.55 * a  # body half-width
    max_angle = np.pi * (0.1 + 0.9 * d)
    theta = rng.uniform(-max_angle, max_angle, n)
    mirror = np.where(rng.random(n) < 0.5, -1.0, 1.0)  # head to the right or left
    reach = 1.75 * a
    cy = reach + rng.random(n) * (size - 2 * reach)
    cx = reach + rng.random(n) * (size - 2 * reach)
    dx, dy = x - col(cx), y - col(cy)
    u = (dx * col(np.cos(theta)) + dy * col(np.sin(theta))) * col(mirror)
    v = -dx * col(np.sin(theta)) + dy * col(np.cos(theta))
    a_, b_ = col(a), col(b)
    base = _BASE_COLOR + rng.normal(0, 6 + 10 * d, (n, 3)).astype(f32)
    # Body, tail and head in the base colour.
    body = _coverage((np.sqrt((u / a_) ** 2 + (v / b_) ** 2) - 1.0) * b_)
    t = (-u - 0.8 * a_) / (0.8 * a_)  # 0 where the tail leaves the body, 1 at its tip
    tail_half = b_ * (0.35 + 0.6 * np.clip(t, 0, 1))
    tail = np.minimum(
        _coverage(np.abs(v) - tail_half), _coverage(np.abs(t - 0.5) * 0.8 * a_ - 0.4 * a_)
    )
    hu, hr = 0.95 * a_, 0.5 * a_
    head_d = np.sqrt((u - hu) ** 2 + (v + 0.15 * b_) ** 2)
    head = _coverage(head_d - hr)
    beak_u = u - hu - hr
    beak = np.minimum(
        _coverage(np.abs(v + 0.15 * b_) - 0.3 * hr * (1 - beak_u / (0.6 * hr))),
        np.minimum(_coverage(-beak_u), _coverage(beak_u - 0.6 * hr)),
    )
    obj = np.maximum.reduce([body, tail, head, beak])
    _paint(images, tail, base)
    _paint(images, body, base)
    _paint(images, head, base)
    _paint(images, beak, np.full((n, 3), 70.0, f32))
    # The three class-deciding parts.
    jitter = rng.normal(0, 4 + 10 * d, part_colors.shape).astype(f32)
    crown = np.minimum(head, _coverage(v + 0.15 * b_ + 0.1 * hr))
    wing_r = np.sqrt(((u + 0.1 * a_) / (0.55 * a_)) ** 2 + ((v - 0.05 * b_) / (0.4 * b_)) ** 2)
    wing = _coverage((wing_r - 1.0) * 0.4 * b_)
    tip = np.minimum(tail, _coverage((0.55 - t) * 0.8 * a_))  # t > 0.55: coloured tip
    parts = (crown, wing, tip)
    for k, alpha in enumerate(parts):
        _paint(images, alpha, part_colors[:, k] + jitter[:, k])
    eye = _coverage(np.sqrt((u - hu - 0.35 * hr) ** 2 + (v + 0.15 * b_) ** 2) - 0.2 * hr)
    _paint(images, eye, np.full((n, 3), 15.0, f32))
    grain = rng.random((n, size, size), dtype=f32) - 0.5
    images += (grain * f32(3.5 * (3 + 12 * d)))[..., None]  # luminance noise, std 3..15
    images = np.clip(images, 0, 255).round().astype(np.uint8)
    boxes = _box(obj > 0.5, size)
    part_boxes = np.stack([_box(p > 0.5, size) for p in parts], axis=1)
    return images, boxes, part_boxes
