"""`export`: a Keras model to a TF Serving version folder (and TFLite files).

Layout of one version (``export_dir/<version>/``)::

    saved_model.pb, variables/       signatures (see `fgkeras.serving.signatures`)
    assets/class_names.txt           one class name per line, line i = label i
    assets/class_names.json          the same as a JSON list
    assets/gallery_class_names.txt   with a gallery: its class names (``nearest_indices``)
    assets/gallery_class_names.json  the same as a JSON list
    assets/model_card.json           model card, input size, preprocessing, signatures
    assets.extra/tf_serving_warmup_requests
    assets.extra/fgkeras_export.json verification and TFLite parity reports
    tflite/model_<variant>.tflite    with --tflite; tflite/labels.txt beside them

Everything is written into a hidden temporary folder and renamed into place
at the end, TFLite files and checks included, so a failed export or check
publishes nothing. An ``export_dir`` with a ``..`` component is refused and
the version folder must resolve inside it (`fgkeras.serving.versions`).
"""

from __future__ import annotations

import json
import os
import warnings

import keras
import numpy as np

from fgkeras.models.tta import check_tta
from fgkeras.serving import tflite as tflite_lib
from fgkeras.serving.gallery import Gallery, build_gallery
from fgkeras.serving.preprocess import decode_images
from fgkeras.serving.samples import encode, synthetic_images
from fgkeras.serving.signatures import ServingFunctions, _has_layer
from fgkeras.serving.verify import verify_saved_model
from fgkeras.serving.versions import atomic_version_dir, check_export_dir
from fgkeras.serving.warmup import warmup_requests, write_warmup

REPORT_FILE = os.path.join("assets.extra", "fgkeras_export.json")
TTA_NOTE = (
    "serving_default, classify_pixels and the TFLite files classify the image and its "
    "horizontal mirror and return the mean of the two softmaxes (logits: the log of that "
    "mean); embed, embed_pixels, nearest and zero_shot use the image alone"
)


def export(
    model,
    export_dir,
    class_names=None,
    version=None,
    top_k=5,
    overwrite=False,
    resize_size=None,
    tflite=None,
    representative_data=None,
    sample_images=None,
    verify=False,
    warmup=True,
    max_pixels=None,
    gallery=None,
    tta=None,
) -> str:
    """Export ``model`` as a TF Serving version ``export_dir/<version>/``.

    The signatures decode and resize images inside the graph exactly like
    the evaluation pipeline and call the model with ``training=False``: see
    `fgkeras.serving.signatures` for the list. The version is written
    atomically; see the module docstring for its layout.

    Args:
        model: a zoo model (an augmentation wrapper around it is unwrapped).
        export_dir: the model base path, e.g. ``"saved_models/bcnn"``; a
            path with a ``..`` component is refused.
        class_names: list of class names, index = label. Defaults to None
            ("class_0", "class_1", ... with a warning).
        version: integer version, or None for the next free one. Defaults
            to None.
        top_k: number of best classes the classifying signatures return.
            Defaults to 5.
        overwrite: replace an existing ``version``. Defaults to False.
        resize_size: None resizes whole images to the input size (the
            evaluation pipeline's default); an int resizes the shorter side to
            it, then centre-crops. Defaults to None.
        tflite: TFLite variants to write, a subset of ("float32", "float16",
            "dynamic", "int8"), or None. Defaults to None.
        representative_data: calibration images for "int8" (and parity
            images for all variants): an array ``[N, h, w, 3]`` at the
            model's size (0-255) or a `tf.data.Dataset` of training batches.
            Defaults to None (synthetic images, with a warning for "int8").
        sample_images: a list of encoded images used for the warmup file,
            the verification and TFLite parity. Defaults to None (synthetic
            PNG and JPEG images).
        verify: reload the SavedModel in a fresh process and compare it with
            the Keras model before publishing; raise ValueError on a mismatch.
            Defaults to False.
        warmup: write the TF Serving warmup file. Defaults to True.
        max_pixels: the bytes signatures refuse (``INVALID_ARGUMENT``) images
            whose header declares more pixels than this, before decoding
            them; fixed in the graph. None takes ``$FGKERAS_MAX_IMAGE_PIXELS``
            or 89,478,485. Defaults to None.
        gallery: a `fgkeras.serving.gallery.Gallery` built with ``model``, or
            a source (a folder of class subfolders, ...) embedded here with
            `fgkeras.serving.gallery.build_gallery` (prototypes of its "train"
            split, at ``resize_size``). Adds the ``nearest`` signature and
            ``assets/gallery_class_names.txt``; the classifier and its class
            names are unchanged. Defaults to None.
        tta: test-time augmentation: None, or "flip": ``serving_default``,
            ``classify_pixels`` (and the TFLite files) classify each image and
            its horizontal mirror and return the mean of the two softmaxes
            (`fgkeras.models.tta`); recorded as ``export.tta`` in
            ``assets/model_card.json``; verification compares with the Keras
            model's mean over the same two views. Defaults to None.

    Returns:
        The path of the new version folder.

    >>> import fgkeras, tempfile
    >>> model = fgkeras.build("baseline", num_classes=2, backbone="tiny", weights=None,
    ...                       input_shape=(32, 32, 3))
    >>> path = export(model, tempfile.mkdtemp() + "/tiny", class_names=["cat", "dog"])
    >>> os.path.basename(path), sorted(os.listdir(path))[:3]
    ('1', ['assets', 'assets.extra', 'fingerprint.pb'])
    """
    tta = check_tta(tta)  # a bad value fails before anything is written
    export_dir = check_export_dir(export_dir)
    if class_names is None:
        num_classes = int(model.output_shape[-1])
        class_names = [f"class_{i}" for i in range(num_classes)]
        warnings.warn(
            "export() got no class_names: the SavedModel will answer 'class_0', 'class_1', ... "
            "Pass class_names=[...] (the training run's class_names.json).",
            stacklevel=2,
        )
    if gallery is not None and not isinstance(gallery, Gallery):
        gallery = build_gallery(model, gallery, resize_size=resize_size)
    functions = ServingFunctions(
        model,
        list(class_names),
        top_k=top_k,
        resize_size=resize_size,
        max_pixels=max_pixels,
        gallery=gallery,
        tta=tta,
    )
    variants = _check_variants(tflite, functions)
    images = list(sample_images) if sample_images is not None else default_samples(functions)
    with atomic_version_dir(export_dir, version, overwrite) as (temp, final):
        _write_saved_model(functions, temp)
        _write_assets(functions, temp, int(os.path.basename(final)))
        report = {"version": int(os.path.basename(final))}
        if warmup:
            pixels = decode_images(
                images[:2], functions.image_size, resize_size, functions.max_pixels
            ).numpy()
            names = list(functions.signatures())
            model_name = os.path.basename(os.path.abspath(export_dir))
            requests = warmup_requests(
                images[:2], pixels, model_name, names, functions.example_inputs()
            )
            write_warmup(temp, requests)
        if verify:
            report["verification"] = verify_saved_model(temp, functions, images)
            if not report["verification"]["ok"]:
                raise ValueError(
                    "Verification failed; nothing was published: "
                    + json.dumps(report["verification"]["checks"])
                )
        if variants:
            report["tflite"] = _write_tflite(functions, temp, variants, representative_data)
        _write_json(os.path.join(temp, REPORT_FILE), report)
    return final


def default_samples(functions) -> list[bytes]:
    """Two PNG and two JPEG synthetic images, a little larger than the model input."""
    height, width = functions.image_size
    pictures = synthetic_images(4, size=(height + height // 4 + 3, width + width // 3 + 1))
    return encode(pictures[:2], "png") + encode(pictures[2:], "jpeg")


def read_report(version_dir) -> dict:
    """The verification/TFLite report written with a version (``{}`` if none).

    >>> read_report("/no/such/version")
    {}
    """
    path = os.path.join(os.fspath(version_dir), REPORT_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _check_variants(tflite, functions):
    if tflite is None:
        return ()
    variants = (tflite,) if isinstance(tflite, str) else tuple(tflite)
    bad = [v for v in variants if v not in tflite_lib.VARIANTS]
    if bad:
        raise ValueError(
            f"TFLite variants must be among {tflite_lib.VARIANTS}. Received: tflite={tflite!r}"
        )
    tflite_lib.check_convertible(functions.model)
    return variants


def _write_saved_model(functions, directory):
    archive = keras.export.ExportArchive()
    archive.track(functions.network)
    if functions.gallery is not None:
        archive.track(functions.gallery_variables)
    for name, (fn, input_signature) in functions.signatures().items():
        archive.add_endpoint(name, fn, input_signature=input_signature)
    archive.write_out(directory, verbose=False)


def _write_assets(functions, directory, version):
    assets = os.path.join(directory, "assets")
    os.makedirs(assets, exist_ok=True)
    with open(os.path.join(assets, "class_names.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in functions.class_names))
    _write_json(os.path.join(assets, "class_names.json"), functions.class_names)
    if functions.gallery is not None:  # next to, not instead of, the classifier's names
        names = functions.gallery.class_names
        with open(os.path.join(assets, "gallery_class_names.txt"), "w", encoding="utf-8") as f:
            f.write("".join(f"{name}\n" for name in names))
        _write_json(os.path.join(assets, "gallery_class_names.json"), names)
    count = None
    if "attribute_logits" in functions.network.output:
        count = int(functions.network.output["attribute_logits"].shape[-1])
    elif functions.side:  # the entries of the side input
        count = functions.side["attributes"]
    if count is not None:
        names = functions.attribute_names or [f"attribute_{i}" for i in range(count)]
        with open(os.path.join(assets, "attribute_names.txt"), "w", encoding="utf-8") as f:
            f.write("".join(f"{name}\n" for name in names))
    if functions.zero_shot_head is not None:
        table = functions.zero_shot_head.class_attributes.tolist()
        _write_json(os.path.join(assets, "class_attributes.json"), table)
    _write_json(os.path.join(assets, "model_card.json"), _card(functions, version))


def _card(functions, version):
    from fgkeras.models.registry import model_card
    from fgkeras.version import __version__

    name = functions.model.name
    try:
        card = model_card(name)
    except ValueError:
        card = {"name": name, "note": "not a registered fgkeras model name"}
    height, width = functions.image_size
    resize = (
        f"whole image resized to {height}x{width}"
        if functions.resize_size is None
        else f"shorter side resized to {functions.resize_size}, centre {height}x{width} crop"
    )
    return {
        **card,
        "export": {
            "version": version,
            "fgkeras_version": __version__,
            "keras_version": keras.__version__,
            "input_size": [height, width],
            "num_classes": len(functions.class_names),
            "top_k": functions.top_k,
            "preprocessing": {
                "decode": "tf.io.decode_image(channels=3, expand_animations=False): "
                "JPEG, PNG, GIF (first frame), BMP; grey repeated to RGB, alpha dropped",
                "resize": resize + " (bilinear, half-pixel centres, no antialiasing; "
                "fgkeras.data evaluation pipeline)",
                "resize_size": functions.resize_size,
                "pixels": "raw 0-255 RGB float32; the model normalizes inside",
                "max_pixels": functions.max_pixels,
                "max_pixels_note": "bytes signatures refuse images whose header declares "
                "more pixels (width x height), before decoding them",
            },
            "signatures": sorted(functions.signatures()),
            "tta": functions.tta,
            **({"tta_note": TTA_NOTE} if functions.tta else {}),
            **({"levels": [key for key, _, _ in functions.levels]} if functions.levels else {}),
            **({"gallery": functions.gallery.summary()} if functions.gallery is not None else {}),
            **(_zero_shot_card(functions.zero_shot_head)),
            **(_side_card(functions) if functions.side else {}),
        },
    }


def _side_card(functions):
    """What a client sends as the side input, and which entries the model reads."""
    zoo = functions.model
    columns = zoo.get_layer("side_vector").columns if _has_layer(zoo, "side_vector") else None
    return {
        "side_input": {
            "name": "attributes",
            "width": functions.side["attributes"],
            "unknown": "NaN (a row of NaN: nothing known)",
            "rows": "one per image, or one row for the whole request",
            "read_columns": columns,
            "names_file": "assets/attribute_names.txt",
        }
    }


def _zero_shot_card(head):
    if head is None:
        return {}
    return {
        "zero_shot": {
            "num_attributes": head.attribute_dim,
            "normalize": head.normalize,
            "class_attributes_file": "class_attributes.json",
            "note": "the zero_shot signature takes image bytes and a [K, num_attributes] "
            "float32 table of class attribute vectors; the training classes' table is in "
            "assets/class_attributes.json (row i = class_names.txt line i)",
        }
    }


def _write_tflite(functions, directory, variants, representative_data):
    folder = os.path.join(directory, "tflite")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in functions.class_names))
    if representative_data is None:
        pictures = synthetic_images(16, size=functions.image_size, seed=1)
        representative = pictures.astype("float32")
        if "int8" in variants:
            warnings.warn(
                "int8 TFLite calibrated on synthetic images: pass representative_data (a "
                "sample of training images) for a faithful quantization.",
                stacklevel=3,
            )
    else:
        representative = tflite_lib.representative_pixels(representative_data, functions.image_size)
    reports = {}
    for variant in variants:
        content = tflite_lib.convert(functions, variant, representative=representative)
        with open(os.path.join(folder, f"model_{variant}.tflite"), "wb") as f:
            f.write(content)
        reports[variant] = tflite_lib.parity(content, functions, np.asarray(representative))
    return reports


def _write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, default=_jsonable)
        f.write("\n")


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)
