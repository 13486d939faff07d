import keras
import numpy as np
import pytest

from fgkeras.models.backbones import BACKBONES, build_backbone, list_backbones


def test_tiny_depth_adapts_to_input_size():
    assert build_backbone("tiny", (28, 28, 1), weights=None).output_shape == (None, 7, 7, 128)
    assert build_backbone("tiny", (64, 64, 3), weights=None).output_shape == (None, 8, 8, 256)
    assert build_backbone("tiny", (224, 224, 3), weights=None).output_shape[1:3] == (14, 14)


def test_tiny_stages_are_named_by_stride():
    stages = build_backbone("tiny", (64, 64, 3), weights=None, stages=True).output
    assert sorted(stages) == ["stage1", "stage2", "stage3"]
    assert stages["stage1"].shape[1:3] == (32, 32) and stages["stage3"].shape[1:3] == (8, 8)


@pytest.mark.large
@pytest.mark.parametrize("name", sorted(set(BACKBONES) - {"tiny"}))
def test_every_application_builds_at_its_smallest_size(name):
    size = BACKBONES[name].min_size
    backbone = build_backbone(name, (size, size, 3), weights=None)
    features = backbone(np.full((1, size, size, 3), 128.0, "float32"))
    assert features.shape[0] == 1 and len(features.shape) == 4
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(features)))


def test_vgg16_feature_map_is_conv5_3_and_stages_exist():
    backbone = build_backbone("vgg16", (64, 64, 3), weights=None, stages=True)
    assert backbone.output["stage4"].shape == (None, 4, 4, 512)  # block5_conv3, stride 16
    assert build_backbone("vgg16", (448, 448, 3), weights=None).output_shape == (None, 28, 28, 512)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ValueError, match="needs at least 75x75"):
        build_backbone("inception_v3", (64, 64, 3), weights=None)


def test_grayscale_into_imagenet_backbone_is_refused():
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        build_backbone("resnet50", (64, 64, 1), weights=None)


def test_unknown_backbone():
    with pytest.raises(ValueError, match="Unknown backbone 'vgg15'"):
        build_backbone("vgg15")


def test_missing_weights_file():
    with pytest.raises(FileNotFoundError, match="weights=None"):
        build_backbone("tiny", (32, 32, 3), weights="/no/such/file.weights.h5")


def test_offline_imagenet_download_says_what_to_do(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception(
            "URL fetch failure on https://...: None -- [Errno -2] Name or service not known"
        )

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    with pytest.raises(ConnectionError) as error:
        build_backbone("vgg16", (64, 64, 3), weights="imagenet")
    message = str(error.value)
    assert "Could not download" in message and "weights=None" in message
    assert "/path/to/file.h5" in message


def test_weights_from_a_file_round_trip(tmp_path):
    source = build_backbone("tiny", (32, 32, 3), weights=None)
    path = str(tmp_path / "tiny.weights.h5")
    source.save_weights(path)
    loaded = build_backbone("tiny", (32, 32, 3), weights=path)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded(pixels), source(pixels), rtol=1e-5, atol=1e-5)


def test_application_weights_from_a_file(tmp_path):
    app = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = str(tmp_path / "vgg16_notop.weights.h5")
    app.save_weights(path)
    backbone = build_backbone("vgg16", (32, 32, 3), weights=path)
    kernel = backbone.get_layer("block1_conv1").get_weights()[0]
    np.testing.assert_allclose(kernel, app.get_layer("block1_conv1").get_weights()[0])


def test_list_backbones_covers_the_issue():
    expected = {
        "vgg16",
        "vgg19",
        "resnet50",
        "resnet101",
        "resnet50v2",
        "resnet101v2",
        "inception_v3",
        "efficientnetv2_b0",
        "efficientnetv2_s",
        "mobilenetv3_small",
        "mobilenetv3_large",
        "convnext_tiny",
        "densenet121",
        "tiny",
    }
    assert expected <= set(list_backbones())


def test_a_run_directory_brings_its_pretrained_backbone_to_another_model(tmp_path):
    import fgkeras
    from fgkeras.models.backbones import save_backbone_weights

    source = fgkeras.build("baseline", num_classes=3, backbone="vgg16", weights=None,
                           input_shape=(32, 32, 3))  # fmt: skip
    save_backbone_weights(source, tmp_path, {"backbone": "vgg16"})
    # Another family, other head, same backbone: the backbone's weights are the source's.
    target = fgkeras.build("bcnn", num_classes=7, backbone="vgg16", weights=str(tmp_path),
                           input_shape=(32, 32, 3))  # fmt: skip
    for a, b in zip(source.get_layer("backbone").weights, target.get_layer("backbone").weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        target.get_layer("backbone")(pixels), source.get_layer("backbone")(pixels), atol=1e-5
    )


def test_pretrained_weights_that_do_not_fit_say_why(tmp_path):
    import fgkeras
    from fgkeras.models.backbones import save_backbone_weights

    source = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
                           input_shape=(28, 28, 3))  # fmt: skip
    save_backbone_weights(source, tmp_path, {"backbone": "tiny"})
    with pytest.raises(ValueError, match=r"do not fit backbone 'tiny' at input \(64, 64, 3\).*"
                       r"saved from backbone 'tiny' at input \(28, 28, 3\)"):  # fmt: skip
        fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=str(tmp_path),
                      input_shape=(64, 64, 3))  # fmt: skip
    with pytest.raises(FileNotFoundError, match="No backbone.weights.h5 in"):
        fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=str(tmp_path / ".."),
                      input_shape=(28, 28, 3))  # fmt: skip
