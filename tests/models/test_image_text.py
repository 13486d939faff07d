"""image_text: trained on (image, description) pairs; zero-shot from text; retrieval both ways."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras
from fgkeras.cli.main import main
from fgkeras.data import synthetic
from fgkeras.models.image_text import with_descriptions
from tests.test_losses import reference_info_nce

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}
DESCRIPTIONS = synthetic.class_descriptions(8)


def test_train_losses_are_info_nce_plus_the_class_loss():
    keras.utils.set_random_seed(0)
    model = fgkeras.build("image_text", num_classes=8, class_descriptions=DESCRIPTIONS,
                          class_weight=0.5, mask_same_class=True, **TINY)  # fmt: skip
    rng = np.random.default_rng(0)
    y = np.array([0, 3, 0, 5])
    x = {
        "image": rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32"),
        "text": tf.constant([DESCRIPTIONS[c][1] for c in y]),
    }
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    terms, _ = model.train_losses(x, y, None, lambda z: cross_entropy(y, z))
    out = model.run(x["image"], training=True)
    texts = np.asarray(model.text_encoder(x["text"], training=True))
    scale = float(model.scorer.logit_scale)
    want = reference_info_nce(np.asarray(out["embedding"]), texts, scale, y)
    assert float(terms["contrastive_loss"]) == pytest.approx(want, rel=1e-4)
    want_ce = float(cross_entropy(y, out["logits"]))
    assert float(terms["loss"]) == pytest.approx(want + 0.5 * want_ce, rel=1e-4)


def test_descriptions_of_other_classes_and_models_that_have_none():
    model = fgkeras.build("image_text", num_classes=8, class_descriptions=DESCRIPTIONS, **TINY)
    images = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    same = with_descriptions(model, DESCRIPTIONS)
    np.testing.assert_allclose(same(images), model(images), rtol=1e-5, atol=1e-5)
    # One description per class is the mean of one: the class vector is that text's embedding.
    single = with_descriptions(model, [group[0] for group in DESCRIPTIONS[:3]])
    texts = np.asarray(model.embed_text([group[0] for group in DESCRIPTIONS[:3]]))
    embedding = keras.Model(model.input, model.get_layer("embedding").output)(images)
    e = np.asarray(embedding) / np.linalg.norm(embedding, axis=1, keepdims=True)
    want = np.exp(float(model.scorer.logit_scale)) * e @ texts.T
    np.testing.assert_allclose(single(images), want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="needs an image_text model"):
        with_descriptions(fgkeras.build("baseline", num_classes=3, **TINY), ["a", "b"])


def test_trained_from_pairs_then_zero_shot_retrieval_and_search(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "image_text", "--source", "synthetic", "--backbone", "tiny",
                 "--weights", "none", "--image-size", "32", "--epochs", "1", "--limit", "64",
                 "--batch-size", "16", "--classes", "0", "1", "2", "3", "4", "5",
                 "--source-options", '{"num_examples": 96}', "--run-dir", str(run),
                 "--verbose", "0"]) == 0  # fmt: skip
    model = keras.models.load_model(run / "model.keras")
    assert model.scorer.descriptions == DESCRIPTIONS[:6]
    # The vocabulary holds the training descriptions' words, not the unseen classes' own.
    assert "crown" in model.text_encoder.vocabulary
    metrics = json.loads((run / "metrics.json").read_text())
    for direction in ("image_to_text", "text_to_image"):
        assert 0.0 <= metrics["image_text"][direction]["recall_at_1"] <= 1.0
    history = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"contrastive_loss", "class_loss"} <= set(history)

    capsys.readouterr()
    assert main(["zeroshot", str(run), "--unseen", "6", "7", "--json"]) == 0
    zero_shot = json.loads(capsys.readouterr().out)
    assert zero_shot["chance"] == 0.5 and zero_shot["num_images"] == 24
    assert set(zero_shot["generalized"]) >= {"seen_top1", "unseen_top1", "harmonic_mean"}

    folder = tmp_path / "photos"
    folder.mkdir()
    data = synthetic.generate(3, num_classes=8, image_size=32, seed=5, split="test")
    for i, pixels in enumerate(data.images):
        tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(pixels))
    assert main(["retrieve", str(run), "--images", str(folder), "--query",
                 "a bird with a red crown", "--top-k", "2", "--json"]) == 0  # fmt: skip
    found = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in found["results"]] == [1, 2]
    assert found["results"][0]["score"] >= found["results"][1]["score"]
    assert main(["retrieve", str(run), "--image", str(folder / "0.png"), "--texts",
                 "a red bird", "a blue bird"]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("query: ")
    assert main(["retrieve", str(run), "--query", "a red bird"]) == 2  # no images to search


def test_export_embeds_text_and_scores_descriptions_not_tflite(tmp_path):
    from fgkeras.serving.requests import rest_body, rest_predict
    from fgkeras.serving.samples import encode, synthetic_images
    from fgkeras.serving.savedmodel import export, read_report

    model = fgkeras.build("image_text", num_classes=8, class_descriptions=DESCRIPTIONS, **TINY)
    names = synthetic.class_info(8).class_names
    with pytest.raises(ValueError, match="text encoder"):
        export(model, tmp_path / "lite", class_names=names, tflite="float16")
    path = export(model, tmp_path / "m", class_names=names, verify=True)
    report = read_report(path)["verification"]
    assert report["ok"] and report["checks"]["embed_text"]["ok"] and report["checks"]["zero_shot"]
    loaded = tf.saved_model.load(path)
    texts = ["a bird with a red crown", "a blue bird"]
    served = loaded.signatures["embed_text"](text=tf.constant(texts))["embedding"]
    np.testing.assert_allclose(served, model.embed_text(texts), atol=1e-5)
    png = encode(synthetic_images(2, size=(32, 32)), "png")
    body = rest_body({"image": png, "descriptions": texts}, signature_name="zero_shot")
    status, answer = rest_predict(loaded, json.dumps(body))
    assert status == 200 and np.array(answer["outputs"]["scores"]).shape == (2, 2)
