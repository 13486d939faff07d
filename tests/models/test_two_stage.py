"""Two-stage model: CAM localization, crop, second view, combined logits."""

import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.layers.cropping import attention_boxes, crop_and_resize
from fgkeras.testing import random_inputs

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def test_crop_comes_from_the_top_class_cam():
    model = fgkeras.build("two_stage", num_classes=3, crop_threshold=0.4, **TINY)
    x = random_inputs((3, 32, 32, 3), high=255.0)
    names = ("class_activation_maps", "object_logits", "attention_maps", "object_crop")
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    class_maps, object_logits, cam, crops = (np.asarray(t) for t in probe(x, training=False))
    np.testing.assert_allclose(object_logits, class_maps.mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)
    top = object_logits.argmax(axis=-1)
    expected_cam = np.maximum(class_maps[np.arange(3), :, :, top], 0)
    expected_cam /= expected_cam.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(cam[..., 0], expected_cam, rtol=1e-5, atol=1e-6)
    boxes = attention_boxes(cam, 0.4, 0.05)
    np.testing.assert_allclose(crops, crop_and_resize(x, boxes, (32, 32)), atol=1e-3)


def test_output_is_the_mean_of_both_views():
    model = fgkeras.build("two_stage", num_classes=3, **TINY)
    x = random_inputs((2, 32, 32, 3), high=255.0)
    out = model.run(x, training=False)
    expected = (np.asarray(out["object_logits"]) + np.asarray(out["predictions"])) / 2
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_train_step_loss_value():
    model = fgkeras.build("two_stage", num_classes=3, view_loss_weight=0.5, **TINY)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=CE)
    x, y = random_inputs((4, 32, 32, 3), high=255.0), np.array([0, 1, 2, 1])
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    out = model.run(x, training=True)
    combined, obj, crop = (float(CE(y, out[k])) for k in ("logits", "object_logits", "predictions"))
    assert history["object_loss"][0] == pytest.approx(obj, rel=1e-4)
    assert history["crop_loss"][0] == pytest.approx(crop, rel=1e-4)
    assert history["loss"][0] == pytest.approx(combined + 0.5 * (obj + crop), rel=1e-4)


def test_rejects_negative_view_loss_weight():
    with pytest.raises(ValueError, match="view_loss_weight"):
        fgkeras.build("two_stage", num_classes=3, view_loss_weight=-1.0, **TINY)
