"""Search images with a sentence, or sentences with an image, through a dual encoder.

An ``image_text`` model maps images (its "embedding" layer) and text
(`embed_text`) into one space; `retrieve` ranks one side against the other
by cosine similarity:

- ``query`` + ``images``: the image files that best match a description;
- ``image`` + ``texts``: the descriptions that best match a photo.

``fgkeras retrieve`` is the command-line face.
"""

from __future__ import annotations

import numpy as np


def retrieve(model, images=None, query=None, image=None, texts=None, top_k=5,
             resize_size=None, batch_size=32) -> dict:  # fmt: skip
    """Rank images for a text ``query``, or ``texts`` for an ``image``.

    Args:
        model: an ``image_text`` Keras model (one with ``embed_text``).
        images: image files or folders (searched recursively) to rank for ``query``.
        query: a description.
        image: one image file to describe, with ``texts``.
        texts: candidate descriptions.
        top_k: results to return. Defaults to 5.
        resize_size: shorter side before the centre crop; None resizes whole
            images (the evaluation pipeline's default). Defaults to None.
        batch_size: images embedded at once. Defaults to 32.

    Returns:
        ``{"query": ..., "results": [{"rank", "score", "image" | "text"}, ...]}``,
        best first; ``score`` is the cosine similarity.

    >>> import fgkeras, tempfile, os
    >>> from PIL import Image
    >>> model = fgkeras.build("image_text", num_classes=2, backbone="tiny", weights=None,
    ...     input_shape=(32, 32, 3), class_descriptions=["a red bird", "a blue bird"])
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("a.png", "b.png"):
    ...     Image.new("RGB", (40, 40)).save(os.path.join(folder, name))
    >>> found = retrieve(model, images=[folder], query="a red bird", top_k=1)
    >>> len(found["results"]), sorted(found["results"][0])
    (1, ['image', 'rank', 'score'])
    """
    from fgkeras.evaluation.few_shot import model_image_size
    from fgkeras.inference.images import load_images
    from fgkeras.inference.prediction import list_image_files

    if not callable(getattr(model, "embed_text", None)):
        raise ValueError(
            f"Model {getattr(model, 'name', model)!r} has no text encoder: retrieval by text "
            "needs an image_text model."
        )
    if (query is None) == (image is None):
        raise ValueError("Pass either a text `query` with `images`, or an `image` with `texts`.")
    size = model_image_size(model)
    embed = _image_embedder(model)
    if query is not None:
        if images is None:
            raise ValueError("A text query needs `images` (files or folders) to search.")
        paths = list_image_files(images)
        vectors = np.concatenate([
            embed(load_images(paths[i : i + batch_size], size, resize_size))
            for i in range(0, len(paths), batch_size)
        ])  # fmt: skip
        scores = _cosine(np.asarray(model.embed_text([query])), vectors)[0]
        items, key, asked = paths, "image", query
    else:
        if not texts:
            raise ValueError("An image query needs `texts`: the descriptions to rank.")
        vectors = embed(load_images(list_image_files([image]), size, resize_size))
        scores = _cosine(vectors, np.asarray(model.embed_text(list(texts))))[0]
        items, key, asked = list(texts), "text", str(image)
    order = np.argsort(-scores, kind="stable")[: max(1, int(top_k))]
    results = [
        {"rank": rank + 1, "score": float(scores[i]), key: items[i]} for rank, i in enumerate(order)
    ]
    return {"query": asked, "results": results}


def _image_embedder(model):
    import keras

    network = keras.Model(model.input, model.get_layer("embedding").output)
    return lambda batch: np.asarray(network(batch, training=False))


def _cosine(a, b):
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T
