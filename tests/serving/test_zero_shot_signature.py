"""The zero_shot signature: image bytes and any class attribute table in, scores out."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from export_helpers import SIZE, expected_outputs, png_and_jpeg

import fgkeras
from fgkeras.data import synthetic
from fgkeras.serving.requests import (
    grpc_predict,
    predict_request,
    response_arrays,
    rest_body,
    rest_predict,
)
from fgkeras.serving.savedmodel import export, read_report
from fgkeras.serving.warmup import read_warmup

TABLE = synthetic.class_info(8).attributes.astype("float32")
NAMES = synthetic.class_info(8).class_names


@pytest.fixture(scope="module")
def zero_shot_export(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    model = fgkeras.build("zero_shot_attributes", num_classes=6, class_attributes=TABLE[:6],
                          backbone="tiny", weights=None, input_shape=(SIZE, SIZE, 3))  # fmt: skip
    model.get_layer("predictions").kernel.assign(model.get_layer("predictions").kernel * 50.0)
    path = export(model, tmp_path_factory.mktemp("zs") / "birds", class_names=NAMES[:6],
                  verify=True)  # fmt: skip
    return model, path, tf.saved_model.load(path)


def test_verified_with_the_models_own_table_and_the_table_is_an_asset(zero_shot_export):
    _, path, _ = zero_shot_export
    report = read_report(path)["verification"]
    assert report["ok"] and report["checks"]["zero_shot"]["ok"]
    assert json.load(open(os.path.join(path, "assets", "class_attributes.json"))) == (
        TABLE[:6].tolist()
    )
    card = json.load(open(os.path.join(path, "assets", "model_card.json")))
    assert card["export"]["zero_shot"]["num_attributes"] == 6
    assert "zero_shot" in card["export"]["signatures"]


def test_rest_and_grpc_score_unseen_classes_like_keras(zero_shot_export):
    from fgkeras.models.zero_shot import with_class_attributes

    model, _, loaded = zero_shot_export
    png, _, _ = png_and_jpeg(count=3)
    unseen = TABLE[6:]  # the two classes the model never saw
    want = expected_outputs(with_class_attributes(model, unseen), png)["logits"]
    body = rest_body({"image": png, "class_attributes": unseen}, signature_name="zero_shot")
    status, answer = rest_predict(loaded, json.dumps(body))
    assert status == 200, answer
    np.testing.assert_allclose(np.array(answer["outputs"]["scores"]), want, rtol=1e-4, atol=1e-4)
    assert np.array(answer["outputs"]["top_k_indices"]).shape == (3, 2)  # k = min(5, K=2)
    request = predict_request({"image": png, "class_attributes": unseen},
                              signature_name="zero_shot")  # fmt: skip
    arrays = response_arrays(grpc_predict(loaded, request))
    np.testing.assert_allclose(arrays["scores"], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(arrays["top_k_indices"][:, 0], want.argmax(axis=1))


def test_warmup_sends_the_class_table(zero_shot_export):
    _, path, loaded = zero_shot_export
    requests = [log.predict_log.request for log in read_warmup(path)]
    (zero_shot,) = [r for r in requests if r.model_spec.signature_name == "zero_shot"]
    assert sorted(zero_shot.inputs) == ["class_attributes", "image"]
    response = response_arrays(grpc_predict(loaded, zero_shot))
    assert response["scores"].shape == (2, 6)
