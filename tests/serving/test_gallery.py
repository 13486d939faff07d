"""Galleries in the SavedModel: the `nearest` signature, new classes without training."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from export_helpers import CLASS_NAMES, SIZE, build, expected_outputs, png_and_jpeg

import fgkeras
from fgkeras.cli.main import main
from fgkeras.serving.gallery import build_gallery, make_gallery
from fgkeras.serving.requests import (
    grpc_predict,
    predict_request,
    response_arrays,
    rest_body,
    rest_predict,
)
from fgkeras.serving.samples import decode_with_pil, encode, synthetic_images
from fgkeras.serving.savedmodel import export, read_report
from fgkeras.serving.signatures import ServingFunctions
from fgkeras.serving.warmup import read_warmup

# "kiwi" is not among the classifier's CLASS_NAMES: the gallery adds it.
GALLERY_CLASSES = ["kiwi", "sparrow", "wren"]  # sorted, as the folder source names them


def _pictures():
    """One base picture per gallery class and a slightly brighter copy of it: classes far
    apart, images of a class close, so the nearest class of a base picture is its own."""
    base = synthetic_images(len(GALLERY_CLASSES), size=(SIZE, SIZE), seed=11)
    brighter = np.clip(base.astype(int) + 4, 0, 255).astype("uint8")
    return base, brighter


@pytest.fixture(scope="module")
def gallery_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery")
    base, brighter = _pictures()
    for k, name in enumerate(GALLERY_CLASSES):
        os.makedirs(root / name)
        for i, data in enumerate(encode(np.stack([base[k], brighter[k]]), "png")):
            (root / name / f"{i}.png").write_bytes(data)
    return root


@pytest.fixture(scope="module")
def queries():
    """The base gallery pictures as PNG bytes, query i belonging to GALLERY_CLASSES[i]."""
    return encode(_pictures()[0], "png")


@pytest.fixture(scope="module")
def exported(gallery_dir, tmp_path_factory):
    """``{mode: (model, version_dir, loaded)}``; the "all" export is verified too."""
    model = build("baseline")
    out = {}
    for mode in ("prototypes", "all"):
        gallery = build_gallery(model, gallery_dir, mode=mode)
        base = tmp_path_factory.mktemp("export") / mode
        path = export(model, base, class_names=CLASS_NAMES, gallery=gallery, verify=mode == "all")
        out[mode] = (model, path, tf.saved_model.load(path))
    return out


def _reference_distances(model, gallery_dir, queries, mode):
    """NumPy cosine distances [N, C] from eager Keras embeddings (Pillow-decoded files)."""
    embed = keras.Model(model.inputs, model.get_layer("pooler").output)

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    rows, labels = [], []
    for k, name in enumerate(GALLERY_CLASSES):
        for file in sorted(os.listdir(gallery_dir / name)):
            rows.append(decode_with_pil((gallery_dir / name / file).read_bytes()))
            labels.append(k)
    gallery = unit(embed.predict(np.stack(rows).astype("float32"), verbose=0))
    labels = np.array(labels)
    query = unit(expected_outputs(model, queries)["embedding"])
    similarity = query @ gallery.T
    if mode == "prototypes":
        prototypes = unit(np.stack([gallery[labels == k].mean(0) for k in range(3)]))
        return 1.0 - query @ prototypes.T
    return 1.0 - np.stack([similarity[:, labels == k].max(1) for k in range(3)], axis=1)


@pytest.mark.parametrize("mode", ["prototypes", "all"])
def test_nearest_matches_numpy_reference(exported, gallery_dir, mode):
    model, _, loaded = exported[mode]
    png, jpeg, _ = png_and_jpeg(count=3)
    images = png + jpeg[:1]
    out = loaded.signatures["nearest"](image=tf.constant(images))
    want = _reference_distances(model, gallery_dir, images, mode)
    order = np.argsort(want, axis=1, kind="stable")
    assert out["nearest_names"].shape == (4, 3)  # k = min(top_k=5, 3 gallery classes)
    names = np.array(GALLERY_CLASSES)[order].tolist()
    assert [[n.decode() for n in row] for row in out["nearest_names"].numpy()[:3]] == names[:3]
    np.testing.assert_array_equal(out["nearest_indices"].numpy()[:3], order[:3])
    distances = np.take_along_axis(want, order, axis=1)
    np.testing.assert_allclose(out["nearest_distances"].numpy()[:3], distances[:3], atol=1e-5)
    # JPEG: decoders may differ by a grey level; distances stay close.
    np.testing.assert_allclose(out["nearest_distances"].numpy()[3], distances[3], atol=2e-3)


@pytest.mark.parametrize("mode", ["prototypes", "all"])
def test_a_new_class_without_training(exported, queries, mode):
    _, _, loaded = exported[mode]
    out = loaded.signatures["nearest"](image=tf.constant(queries))
    top1 = [row[0].decode() for row in out["nearest_names"].numpy()]
    assert top1 == GALLERY_CLASSES  # "kiwi" included, which the classifier never saw
    if mode == "all":  # each query is a gallery image: distance 0 to its own class
        np.testing.assert_allclose(out["nearest_distances"].numpy()[:, 0], 0.0, atol=1e-5)
    # The classifier is unchanged: it still answers only its own classes.
    classified = loaded.signatures["serving_default"](image=tf.constant(queries))
    assert {n.decode() for n in classified["top_k_names"].numpy().ravel()} <= set(CLASS_NAMES)


def test_assets_card_and_verification(exported):
    _, path, _ = exported["all"]
    assets = os.path.join(path, "assets")
    with open(os.path.join(assets, "gallery_class_names.txt")) as f:
        assert f.read().splitlines() == GALLERY_CLASSES
    with open(os.path.join(assets, "class_names.txt")) as f:
        assert f.read().splitlines() == CLASS_NAMES  # the classifier's, unchanged
    with open(os.path.join(assets, "class_names.json")) as f:
        assert json.load(f) == CLASS_NAMES
    with open(os.path.join(assets, "model_card.json")) as f:
        card = json.load(f)["export"]
    assert "nearest" in card["signatures"]
    assert card["gallery"]["mode"] == "all" and card["gallery"]["num_images"] == 6
    checks = read_report(path)["verification"]["checks"]
    assert checks["nearest_png"]["ok"] and checks["nearest_jpeg"]["ok"]
    assert checks["nearest_names"]["ok"]
    assert os.path.getsize(os.path.join(path, "saved_model.pb")) < 2_000_000


@pytest.mark.parametrize("form", ["instances", "named", "columnar"])
def test_rest_bodies(exported, queries, form):
    _, _, loaded = exported["prototypes"]
    body = json.dumps(rest_body(queries, form=form, signature_name="nearest"))
    status, answer = rest_predict(loaded, body)
    assert status == 200, answer
    answer = json.loads(json.dumps(answer))
    if form == "columnar":
        names = answer["outputs"]["nearest_names"]
        distances = answer["outputs"]["nearest_distances"]
    else:
        names = [row["nearest_names"] for row in answer["predictions"]]
        distances = [row["nearest_distances"] for row in answer["predictions"]]
    assert [row[0] for row in names] == GALLERY_CLASSES
    assert np.all(np.diff(distances, axis=1) >= 0)  # nearest first


def test_grpc_request_and_warmup(exported, queries):
    _, path, loaded = exported["prototypes"]
    from tensorflow_serving.apis import predict_pb2

    request = predict_request({"image": queries}, model_name="birds", signature_name="nearest")
    received = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    arrays = response_arrays(grpc_predict(loaded, received))
    assert [row[0].decode() for row in arrays["nearest_names"]] == GALLERY_CLASSES
    assert arrays["nearest_distances"].dtype == np.float32
    # The warmup file replays `nearest` with image bytes, like serving_default.
    logs = {log.predict_log.request.model_spec.signature_name: log for log in read_warmup(path)}
    assert sorted(logs) == sorted(loaded.signatures)
    warm = logs["nearest"].predict_log.request
    assert warm.inputs["image"].dtype == tf.string.as_datatype_enum
    assert response_arrays(grpc_predict(loaded, warm))["nearest_names"].shape[1] == 3


def test_python_predict_either_signature(exported, queries, tmp_path):
    _, path, _ = exported["all"]
    files = []
    for name, data in zip(GALLERY_CLASSES, queries):
        (tmp_path / f"{name}.png").write_bytes(data)
        files.append(str(tmp_path / f"{name}.png"))
    nearest = fgkeras.predict(path, files, top_k=2, signature="nearest")
    assert [r["predictions"][0]["label"] for r in nearest] == GALLERY_CLASSES
    assert set(nearest[0]["predictions"][0]) == {"label", "index", "distance"}
    assert len(nearest[0]["predictions"]) == 2
    classified = fgkeras.predict(path, files, top_k=1)
    assert all(r["predictions"][0]["label"] in CLASS_NAMES for r in classified)


def test_embedding_layer_is_what_embed_and_gallery_use():
    model = build("baseline", embedding_dim=8)
    functions = ServingFunctions(model, CLASS_NAMES)
    assert functions.embed_pixels(tf.zeros([1, SIZE, SIZE, 3]))["embedding"].shape == (1, 8)
    gallery = make_gallery(np.eye(8)[:3], [0, 1, 2], GALLERY_CLASSES)
    with_gallery = ServingFunctions(model, CLASS_NAMES, top_k=2, gallery=gallery)
    assert with_gallery.nearest_classes(tf.eye(8)[:1])["nearest_names"].numpy().tolist() == [
        [b"kiwi", b"sparrow"]
    ]
    with pytest.raises(ValueError, match="8 dimensions"):
        ServingFunctions(build("baseline"), CLASS_NAMES, gallery=gallery)


def test_model_without_embedding_is_refused(gallery_dir):
    inputs = keras.Input((SIZE, SIZE, 3))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="predictions")(flat))
    with pytest.raises(ValueError, match="has no embedding"):
        build_gallery(model, gallery_dir)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "baseline"
    os.makedirs(run)
    build("baseline").save(run / "model.keras")
    (run / "class_names.json").write_text(json.dumps(CLASS_NAMES))
    (run / "config.json").write_text(json.dumps({"model": "baseline", "image_size": SIZE}))
    return run


def test_cli_export_gallery_and_predict_nearest(run_dir, gallery_dir, queries, tmp_path, capsys):
    base = tmp_path / "saved"
    argv = ["export", str(run_dir), "--to", str(base), "--gallery", str(gallery_dir)]
    assert main([*argv, "--gallery-mode", "all", "--gallery-split", "train", "--no-warmup"]) == 0
    out = capsys.readouterr().out
    assert "Gallery (all): 3 classes, 6 images" in out
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, data in zip(GALLERY_CLASSES, queries):
        (folder / f"{name}.png").write_bytes(data)
    assert main(["predict", str(base), str(folder), "--signature", "nearest", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    top1 = {os.path.basename(r["path"]): r["predictions"][0]["label"] for r in results}
    assert top1 == {f"{name}.png": name for name in GALLERY_CLASSES}
    assert main(["predict", str(base), str(folder / "kiwi.png"), "--signature", "nearest"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["file", "rank", "label", "distance"]
    assert lines[1].split()[1:3] == ["1", "kiwi"]
    # The default stays the classifier.
    assert main(["predict", str(base), str(folder / "kiwi.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["predictions"][0]["label"] in CLASS_NAMES


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--gallery", "/no/such/gallery"], "Gallery not found: '/no/such/gallery'"),
        (["--gallery", "{empty}"], "has no class subfolders"),
        (["--gallery", "{empty_class}"], "has no image files"),
        (["--gallery-mode", "all"], "--gallery-mode needs --gallery"),
    ],
)
def test_gallery_user_errors_are_one_line(run_dir, tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty_class" / "kiwi").mkdir(parents=True)
    argv = [a.format(empty=tmp_path / "empty", empty_class=tmp_path / "empty_class") for a in argv]
    assert main(["export", str(run_dir), "--to", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "out")


def test_predict_nearest_without_gallery_is_one_line(run_dir, queries, tmp_path, capsys):
    image = tmp_path / "q.png"
    image.write_bytes(queries[0])
    assert main(["predict", str(run_dir), str(image), "--signature", "nearest"]) == 2
    assert "is a Keras model" in capsys.readouterr().err
    from fgkeras.inference.predictors import _named_signature

    with pytest.raises(ValueError, match="exported without a gallery: re-export it"):
        _named_signature({"serving_default": None}, "nearest", "saved_models/x/1")
