"""TFLite conversion of the float-pixel path, with a parity report.

TFLite runs the model on decoded, resized pixels ``float32 [1, H, W, 3]``
(0-255 RGB) and returns ``logits`` and ``probabilities`` (with ``tta="flip"``,
of the image and its mirror averaged, as ``classify_pixels``); decoding stays
outside TFLite (a bytes input would need Flex ops that TFLite interpreters do
not run). Variants:

- ``float32``: plain conversion;
- ``float16``: weights stored in float16 (half the size), float compute;
- ``dynamic``: weights int8, activations float (dynamic-range quantization);
- ``int8``: weights and activations int8, calibrated on a representative
  sample of training images; input and output stay float32.

Interpreters: ``ai_edge_litert`` (``pip install ai-edge-litert``) when
installed, else the deprecated ``tf.lite.Interpreter``.
"""

from __future__ import annotations

import re
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from fgkeras.models.common import nested_layers

VARIANTS = ("float32", "float16", "dynamic", "int8")

# Layers whose ops TFLite cannot convert: (class name, attribute, value, advice).
UNCONVERTIBLE = (
    (
        "CompactBilinearPooling",
        "projection",
        "tensor_sketch",
        "Its Tensor Sketch projection uses FFT ops that TFLite cannot convert. Build the "
        "model with projection=\"random_maclaurin\" (e.g. fgkeras.build('cbp', ..., "
        "projection='random_maclaurin')), which uses dense matrix products only, and "
        "train it again, or serve this model with TF Serving instead.",
    ),
    (
        "DescriptionScores",
        None,
        None,
        "It scores images against class descriptions with an in-graph text encoder, whose "
        "string ops (TextVectorization: lower-casing, splitting, vocabulary lookup) TFLite's "
        "builtin ops cannot run. Serve it with TF Serving (the SavedModel takes raw strings), "
        "or export the image tower alone for on-device use.",
    ),
    (
        "SideVector",
        None,
        None,
        "The model takes a side vector (input 'attributes') besides the image, and the TFLite "
        "export is an image-only classifier, which would silently drop it. Serve it with TF "
        "Serving (every signature takes the side vector).",
    ),
)


def check_convertible(model) -> None:
    """Raise ValueError naming the layer and the convertible option if TFLite can't run it.

    >>> import fgkeras
    >>> model = fgkeras.build("cbp", num_classes=2, backbone="tiny", weights=None,
    ...                       input_shape=(32, 32, 3), output_dim=64)
    >>> check_convertible(model)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Model 'cbp' cannot be converted to TFLite: layer 'compact_bilinear_pooling' ...
    """
    for _, layer in nested_layers(model):
        for class_name, attribute, value, advice in UNCONVERTIBLE:
            if type(layer).__name__ != class_name:
                continue
            if attribute is None:  # the layer itself cannot convert
                raise ValueError(
                    f"Model {model.name!r} cannot be converted to TFLite: layer "
                    f"{layer.name!r} ({class_name}). {advice}"
                )
            if getattr(layer, attribute, None) == value:
                raise ValueError(
                    f"Model {model.name!r} cannot be converted to TFLite: layer "
                    f"{layer.name!r} ({class_name}, {attribute}={value!r}). {advice}"
                )


def representative_pixels(data, image_size, limit=64) -> np.ndarray:
    """Up to ``limit`` float pixels ``[N, h, w, 3]`` from an array or a dataset.

    Args:
        data: an array ``[N, h, w, 3]`` (0-255), or a `tf.data.Dataset` of
            image batches or ``(images, labels)`` batches (e.g.
            ``fgkeras.data.load(..., split="train")``).
        image_size: ``(h, w)`` the images must have.
        limit: most images kept. Defaults to 64.

    >>> representative_pixels(np.zeros((3, 4, 4, 3)), (4, 4)).shape
    (3, 4, 4, 3)
    """
    if isinstance(data, tf.data.Dataset):
        batches, count = [], 0
        for batch in data:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            images = images["image"] if isinstance(images, dict) else images
            batches.append(np.asarray(images, "float32"))
            count += len(batches[-1])
            if count >= limit:
                break
        data = np.concatenate(batches) if batches else np.zeros((0, *image_size, 3))
    pixels = np.asarray(data, "float32")[:limit]
    if pixels.ndim != 4 or tuple(pixels.shape[1:3]) != tuple(image_size) or not len(pixels):
        raise ValueError(
            f"Representative images must be a non-empty batch [N, {image_size[0]}, "
            f"{image_size[1]}, 3] at the model's input size. Received shape {pixels.shape}."
        )
    return pixels


def convert(functions, variant="float32", representative=None) -> bytes:
    """Convert the pixel path of a `ServingFunctions` to a TFLite flatbuffer.

    Args:
        functions: a `fgkeras.serving.signatures.ServingFunctions`.
        variant: one of "float32", "float16", "dynamic", "int8". Defaults to
            "float32".
        representative: calibration pixels ``[N, h, w, 3]`` (needed by "int8").
            Defaults to None.

    >>> import fgkeras
    >>> from fgkeras.serving.signatures import ServingFunctions
    >>> net = fgkeras.build("baseline", num_classes=2, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3))
    >>> convert(ServingFunctions(net, ["a", "b"]))[4:8]
    b'TFL3'
    """
    if variant not in VARIANTS:
        raise ValueError(f"`tflite` variant must be one of {VARIANTS}. Received: {variant!r}")
    check_convertible(functions.model)
    with tempfile.TemporaryDirectory() as directory:
        # SavedModel -> converter (as keras' own LiteRT export): variables get frozen.
        archive = keras.export.ExportArchive()
        archive.track(functions.network)
        archive.add_endpoint("serving_default", functions.tflite_function())
        archive.write_out(directory, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        return _convert(converter, functions, variant, representative)


def _convert(converter, functions, variant, representative):
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        if representative is None:
            raise ValueError("The int8 variant needs representative images for calibration.")
        samples = np.asarray(representative, "float32")

        def dataset():
            for image in samples:
                yield [image[None]]

        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        return converter.convert()
    except Exception as error:  # the converter raises several private error types
        ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither", str(error))))
        reason = (
            f"ops TFLite does not have: {', '.join(ops)}"
            if ops
            else " ".join(str(error).strip().splitlines()[:2])[:300]
        )
        raise ValueError(
            f"TFLite conversion ({variant}) of model {functions.model.name!r} failed: "
            f"{reason}. Try another variant (float32 converts the most ops), or serve the "
            "SavedModel with TF Serving."
        ) from error


def interpreter(model_content: bytes):
    """A ready TFLite interpreter (``ai_edge_litert`` if installed, else `tf.lite`)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the optional package
        Interpreter = tf.lite.Interpreter
    runner = Interpreter(model_content=model_content)
    runner.allocate_tensors()
    return runner


def run(runner, pixels) -> dict:
    """Run a TFLite interpreter image by image: ``{"logits", "probabilities"}`` arrays."""
    signature = runner.get_signature_runner()
    input_name = next(iter(signature.get_input_details()))
    outputs = [signature(**{input_name: image[None].astype("float32")}) for image in pixels]
    return {key: np.concatenate([out[key] for out in outputs]) for key in outputs[0]}


def parity(model_content: bytes, functions, pixels, repeats=20) -> dict:
    """Compare a TFLite model with the Keras model on the same pixels.

    Returns top-1 agreement, max abs differences of probabilities and logits,
    file size and median latency (batch of one).
    """
    pixels = np.asarray(pixels, "float32")
    # The Keras model's logits, over the same test-time views as the TFLite model.
    expected = functions.view_logits(functions.views(tf.constant(pixels))).numpy()
    expected_probabilities = tf.nn.softmax(expected).numpy()
    runner = interpreter(model_content)
    got = run(runner, pixels)
    signature = runner.get_signature_runner()
    input_name = next(iter(signature.get_input_details()))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        signature(**{input_name: pixels[:1]})
        times.append(time.perf_counter() - start)
    return {
        "images": int(len(pixels)),
        "top1_agreement": float(np.mean(got["logits"].argmax(-1) == expected.argmax(-1))),
        "max_abs_diff_probabilities": float(
            np.max(np.abs(got["probabilities"] - expected_probabilities))
        ),
        "max_abs_diff_logits": float(np.max(np.abs(got["logits"] - expected))),
        "size_bytes": len(model_content),
        "latency_ms": float(np.median(times) * 1000.0),
    }
