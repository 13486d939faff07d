"""Check an exported version in a separate process that does not import fgkeras.

The SavedModel must stand on its own: a server has TensorFlow, not fgkeras.
`verify_saved_model` has a separate Python process (started once per
session and reused, see `fgkeras.serving.runner_process`) load the version
with `tf.saved_model.load`, run every signature on sample images and list
the signatures; this process then compares the answers with the
Keras model run on the same images decoded by Pillow (an independent
decoder) and resized by the pipeline's own function.

Tolerances: PNG, BMP and GIF decode to identical pixels everywhere, so their
probabilities must match to ``PNG_ATOL`` (float32 noise). JPEG decoders may
differ by a grey level or so (IDCT and chroma upsampling choices), so JPEG
probabilities must match to ``JPEG_ATOL``. With a gallery, the ``nearest``
signature's classes and cosine distances are checked against the NumPy
reference (`fgkeras.serving.gallery.class_distances`) on the Keras
embeddings: each returned distance must be its class's true distance, and
no class left out may be nearer, within ``NEAREST_ATOL`` (``JPEG_ATOL`` for
JPEG images); ties may come in either order. A ``zero_shot`` signature,
fed the model's own class attribute table, must return the model's logits
(PNG images, the embedding tolerance). For a version exported with
``tta="flip"`` the reference probabilities are the mean softmax of the Keras
model on the images and on their mirrors (flipped with NumPy here).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import tensorflow as tf

from fgkeras.serving.preprocess import resize_for_eval
from fgkeras.serving.runner_process import shared_runner
from fgkeras.serving.samples import decode_with_pil

PNG_ATOL = 1e-4
JPEG_ATOL = 2e-2
EMBEDDING_RTOL = 1e-3
# Floor of the embedding tolerance: signed-square-root features (B-CNN, WS-DAN)
# amplify float32 noise near zero (d sqrt(x)/dx is large there), so a graph
# optimized by the SavedModel runtime differs from eager Keras by ~6e-5 on
# unit-norm embeddings whose largest entry is only ~0.05.
EMBEDDING_ATOL = 1e-4
# Cosine distances of unit vectors: float32 noise of the embeddings, a little amplified.
NEAREST_ATOL = 1e-3


def verify_saved_model(version_dir, functions, images, formats=None, timeout=300) -> dict:
    """Reload ``version_dir`` in a fresh Python and compare it with the Keras model.

    Args:
        version_dir: an exported version folder.
        functions: the `ServingFunctions` the version was exported from.
        images: a list of encoded images (bytes); pixels for the pixel
            signatures are the first image's size group decoded by Pillow.
        formats: the format of each image ("png", "jpeg", ...); detected from
            the bytes when None. Defaults to None.
        timeout: seconds allowed for the separate process to answer. Defaults to 300.

    Returns:
        A report: ``ok``, per-check max differences and tolerances, top-1
        agreement, the signature listing, and whether fgkeras was imported.
    """
    formats = formats or [_format(data) for data in images]
    decoded = [decode_with_pil(data) for data in images]
    shape = decoded[0].shape
    pixels = np.stack([image for image in decoded if image.shape == shape]).astype("float32")
    with tempfile.TemporaryDirectory() as directory:
        inputs_path = os.path.join(directory, "inputs.npz")
        outputs_path = os.path.join(directory, "outputs.npz")
        extras = {
            f"extra__{signature}__{name}": np.asarray(value)
            for signature, inputs in functions.example_inputs().items()
            for name, value in inputs.items()
        }
        np.savez(inputs_path, images=np.array(images, dtype=object), pixels=pixels, **extras)
        listing = shared_runner().run(version_dir, inputs_path, outputs_path, timeout=timeout)
        if "error" in listing:
            raise ValueError(
                f"The SavedModel at {os.fspath(version_dir)!r} failed to load or run in a "
                f"process without fgkeras: {listing['error']}"
            )
        with np.load(outputs_path, allow_pickle=True) as data:
            served = {key: data[key] for key in data.files}
    return _compare(functions, decoded, pixels, formats, served, listing)


def _format(data: bytes) -> str:
    return "jpeg" if data[:3] == b"\xff\xd8\xff" else "png"


def _view_outputs(functions, pixels_batch):
    """The Keras model's outputs on the images and, for a ``tta="flip"`` export, on
    their mirrors (flipped here with NumPy, independently of the signatures' flip)."""
    batches = [np.asarray(pixels_batch, np.float32)]
    if getattr(functions, "tta", None) == "flip":
        batches.append(np.ascontiguousarray(batches[0][:, :, ::-1]))
    return [
        {key: value.numpy() for key, value in functions.outputs(tf.constant(batch)).items()}
        for batch in batches
    ]


def _expected(functions, pixels_batch):
    """Reference probabilities (mean softmax over the test-time views) and the
    embedding (of the image alone)."""
    views = _view_outputs(functions, pixels_batch)
    return {
        "probabilities": np.mean([tf.nn.softmax(v["logits"]).numpy() for v in views], axis=0),
        "embedding": views[0].get("embedding"),
    }


def _expected_logits(functions, pixels_batch):
    return functions.outputs(tf.constant(pixels_batch, tf.float32))["logits"].numpy()


def nearest_difference(served_indices, served_distances, distances) -> float:
    """How far a served ``nearest`` answer is from the reference class distances ``[N, C]``.

    The largest of: the gap between each served distance and its class's
    reference distance, and how much nearer than the k-th served class an
    unserved class is. 0 for an exact answer; ties may come in any order.

    >>> reference = np.array([[0.1, 0.5, 0.3]])
    >>> nearest_difference([[0, 2]], [[0.1, 0.3]], reference)
    0.0
    >>> round(nearest_difference([[0, 1]], [[0.1, 0.5]], reference), 3)  # missed class 2 (0.3)
    0.2
    """
    indices = np.asarray(served_indices)
    got = np.asarray(served_distances, np.float64)
    if not indices.size:
        return 0.0
    want = np.take_along_axis(distances, indices, axis=1)
    worst = float(np.max(np.abs(got - want)))
    left_out = np.ones(distances.shape, bool)
    np.put_along_axis(left_out, indices, False, axis=1)
    if left_out.any():
        nearest_left = np.where(left_out, distances, np.inf).min(axis=1)
        worst = max(worst, float(np.max(np.maximum(want[:, -1] - nearest_left, 0.0))))
    return worst


def _compare(functions, decoded, pixels, formats, served, listing):
    size = functions.image_size
    resized = np.stack(
        [resize_for_eval(image, size, functions.resize_size).numpy() for image in decoded]
    )
    expected = _expected(functions, resized)
    jpeg = np.array([f in ("jpeg", "jpg") for f in formats])
    checks = {}

    def check(name, got, want, atol):
        diff = float(np.max(np.abs(got - want))) if len(got) else 0.0
        checks[name] = {"max_abs_diff": diff, "tolerance": atol, "ok": diff <= atol}

    probabilities = served["serving_default/probabilities"]
    if (~jpeg).any():
        check("bytes_png", probabilities[~jpeg], expected["probabilities"][~jpeg], PNG_ATOL)
    if jpeg.any():
        check("bytes_jpeg", probabilities[jpeg], expected["probabilities"][jpeg], JPEG_ATOL)
    names = served["serving_default/top_k_names"]
    indices = served["serving_default/top_k_indices"]
    names_ok = all(
        names[i, j].decode() == functions.class_names[indices[i, j]]
        for i in range(names.shape[0])
        for j in range(names.shape[1])
    )
    checks["top_k_names"] = {"ok": bool(names_ok)}
    pixel_expected = _expected(
        functions, np.stack([resize_for_eval(p, size, functions.resize_size) for p in pixels])
    )
    check(
        "pixels",
        served["classify_pixels/probabilities"],
        pixel_expected["probabilities"],
        PNG_ATOL,
    )
    if "embed_pixels/embedding" in served:
        want = pixel_expected["embedding"]
        scale = float(np.max(np.abs(want))) or 1.0
        tolerance = max(EMBEDDING_RTOL * scale, EMBEDDING_ATOL)
        check("embedding", served["embed_pixels/embedding"], want, tolerance)
    if "serving_default/attribute_probabilities" in served and (~jpeg).any():
        views = _view_outputs(functions, resized[~jpeg])
        want = np.mean([tf.sigmoid(v["attribute_logits"]).numpy() for v in views], axis=0)
        got = served["serving_default/attribute_probabilities"][~jpeg]
        check("attributes", got, want, PNG_ATOL)
    text_head = getattr(functions, "text_head", None)
    if text_head is not None and "embed_text/embedding" in served:
        texts = functions.example_inputs()["embed_text"]["text"]
        want = functions.embed_text(tf.constant(list(texts), tf.string))["embedding"].numpy()
        check("embed_text", served["embed_text/embedding"], want, EMBEDDING_ATOL)
    if text_head is not None and "zero_shot/scores" in served and (~jpeg).any():
        descriptions = tf.constant(list(functions.example_inputs()["zero_shot"]["descriptions"]))
        embedding = functions.outputs(tf.constant(resized[~jpeg], tf.float32))["joint_embedding"]
        want = text_head.scores(embedding, text_head.class_vectors(descriptions))
        want = np.asarray(want)
        scale = float(np.max(np.abs(want))) or 1.0
        check(
            "zero_shot",
            served["zero_shot/scores"][~jpeg],
            want,
            max(EMBEDDING_RTOL * scale, EMBEDDING_ATOL),
        )
    elif "zero_shot/scores" in served and (~jpeg).any():
        # Fed the model's own class table, zero_shot scores are the model's logits.
        want = _expected_logits(functions, resized[~jpeg])
        scale = float(np.max(np.abs(want))) or 1.0
        tolerance = max(EMBEDDING_RTOL * scale, EMBEDDING_ATOL)
        check("zero_shot", served["zero_shot/scores"][~jpeg], want, tolerance)
    if getattr(functions, "gallery", None) is not None and "nearest/nearest_indices" in served:
        from fgkeras.serving.gallery import class_distances

        distances = class_distances(expected["embedding"], functions.gallery)
        indices = served["nearest/nearest_indices"]
        got = served["nearest/nearest_distances"]
        names = served["nearest/nearest_names"]
        gallery_names = functions.gallery.class_names
        names_ok = all(
            names[i, j].decode() == gallery_names[indices[i, j]]
            for i in range(names.shape[0])
            for j in range(names.shape[1])
        )
        checks["nearest_names"] = {"ok": bool(names_ok)}
        for kind, rows, atol in (("png", ~jpeg, NEAREST_ATOL), ("jpeg", jpeg, JPEG_ATOL)):
            if rows.any():
                diff = nearest_difference(indices[rows], got[rows], distances[rows])
                checks[f"nearest_{kind}"] = {
                    "max_abs_diff": diff,
                    "tolerance": atol,
                    "ok": diff <= atol,
                }
    top1 = float(np.mean(probabilities.argmax(-1) == expected["probabilities"].argmax(-1)))
    ok = all(c["ok"] for c in checks.values()) and not listing["imports_fgkeras"]
    return {
        "ok": bool(ok),
        "images": len(decoded),
        "jpeg_images": int(jpeg.sum()),
        "top1_agreement": top1,
        "checks": checks,
        "imports_fgkeras": listing["imports_fgkeras"],
        "signatures": listing["signatures"],
    }


def format_signatures(signatures: dict) -> str:
    """A readable listing of ``{name: {"inputs": ..., "outputs": ...}}``.

    >>> print(format_signatures({"embed": {"inputs": {"image": ["string", [None]]},
    ...                                    "outputs": {"embedding": ["float32", [None, 8]]}}}))
    embed: image string[None] -> embedding float32[None, 8]
    """

    def spec(items):
        return ", ".join(
            f"{k} {dtype}{[s for s in shape]}".replace("'", "")
            for k, (dtype, shape) in sorted(items.items())
        )

    return "\n".join(
        f"{name}: {spec(sig['inputs'])} -> {spec(sig['outputs'])}"
        for name, sig in sorted(signatures.items())
    )
