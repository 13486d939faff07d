"""The fresh-process check: the SavedModel runs without fgkeras and agrees with Keras."""

from export_helpers import CLASS_NAMES, build, png_and_jpeg

from fgkeras.serving.savedmodel import export, read_report
from fgkeras.serving.signatures import SIGNATURE_NAMES, ServingFunctions
from fgkeras.serving.verify import JPEG_ATOL, PNG_ATOL, format_signatures, verify_saved_model


def test_fresh_process_reload_agrees_and_a_different_model_is_caught(tmp_path):
    model = build("bcnn")
    png, jpeg, _ = png_and_jpeg(count=2)
    path = export(
        model, tmp_path / "bcnn", class_names=CLASS_NAMES, sample_images=png + jpeg, verify=True
    )
    report = read_report(path)["verification"]
    assert report["ok"] and not report["imports_fgkeras"]
    assert report["images"] == 4 and report["jpeg_images"] == 2
    checks = report["checks"]
    assert checks["bytes_png"]["max_abs_diff"] <= PNG_ATOL
    assert checks["bytes_jpeg"]["max_abs_diff"] <= JPEG_ATOL
    assert checks["pixels"]["ok"] and checks["embedding"]["ok"] and checks["top_k_names"]["ok"]
    assert sorted(report["signatures"]) == sorted(SIGNATURE_NAMES)
    listing = format_signatures(report["signatures"])
    assert "serving_default: image string[None] -> probabilities float32[None, 5]" in listing

    # The same check against another model's weights must fail.
    other = ServingFunctions(build("bcnn", seed=1), CLASS_NAMES)
    mismatch = verify_saved_model(path, other, png)
    assert not mismatch["ok"] and not mismatch["checks"]["bytes_png"]["ok"]


def test_one_checking_process_serves_the_session_and_is_replaced_when_it_dies(tmp_path):
    import os
    import signal

    from fgkeras.serving.runner_process import shared_runner

    png, _, _ = png_and_jpeg(count=1)
    model = build("baseline")
    path = export(model, tmp_path / "a", class_names=CLASS_NAMES, sample_images=png, verify=True)
    pid = shared_runner().pid
    assert pid is not None and read_report(path)["verification"]["ok"]
    functions = ServingFunctions(model, CLASS_NAMES)
    assert verify_saved_model(path, functions, png)["ok"]
    assert shared_runner().pid == pid  # reused: TensorFlow imported once per session
    os.kill(pid, signal.SIGKILL)
    assert verify_saved_model(path, functions, png)["ok"]  # a new process took over
    assert shared_runner().pid not in (None, pid)
