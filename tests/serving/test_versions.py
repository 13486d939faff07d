"""Atomic integer versions: next free number, refusal, overwrite, nothing partial."""

import os

import pytest
from export_helpers import CLASS_NAMES, build

from fgkeras.serving import savedmodel
from fgkeras.serving.savedmodel import export
from fgkeras.serving.versions import (
    atomic_version_dir,
    check_inside,
    check_model_name,
    existing_versions,
    next_version,
)


def test_next_free_integer_and_refusal(tmp_path):
    base = tmp_path / "m"
    os.makedirs(base / "3")
    os.makedirs(base / "notes")  # not a version: ignored, as TF Serving does
    assert next_version(base) == 4
    with atomic_version_dir(base) as (temp, final):
        assert os.path.basename(temp).startswith(".tmp-4-") and final.endswith("4")
        open(os.path.join(temp, "saved_model.pb"), "w").close()
    assert existing_versions(base) == [3, 4]
    assert sorted(os.listdir(base)) == ["3", "4", "notes"]  # no temporary folder left
    with pytest.raises(ValueError, match="Version 3 already exists.*overwrite"):
        with atomic_version_dir(base, version=3):
            pass
    for bad in (-1, 1.5, "v2", True):
        with pytest.raises(ValueError, match="version"):
            with atomic_version_dir(base, version=bad):
                pass


def test_base_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        with atomic_version_dir(tmp_path / "file"):
            pass


def test_overwrite_replaces_the_version(tmp_path):
    base = tmp_path / "m"
    with atomic_version_dir(base, version=2) as (temp, _):
        open(os.path.join(temp, "old"), "w").close()
    with atomic_version_dir(base, version=2, overwrite=True) as (temp, _):
        open(os.path.join(temp, "new"), "w").close()
    assert os.listdir(base / "2") == ["new"] and os.listdir(base) == ["2"]


def test_exports_are_numbered_and_never_partial(tmp_path, monkeypatch):
    base = tmp_path / "bcnn"
    model = build("bcnn")
    first = export(model, base, class_names=CLASS_NAMES, warmup=False)
    assert os.path.basename(first) == "1"

    seen = {}
    write_assets = savedmodel._write_assets

    def spy(functions, directory, version):
        seen["versions during write"] = existing_versions(base)
        seen["saved_model.pb written"] = os.path.exists(os.path.join(directory, "saved_model.pb"))
        write_assets(functions, directory, version)

    monkeypatch.setattr(savedmodel, "_write_assets", spy)
    second = export(model, base, class_names=CLASS_NAMES, warmup=False)
    assert os.path.basename(second) == "2"
    # While version 2 was being written, a polling server saw only version 1.
    assert seen == {"versions during write": [1], "saved_model.pb written": True}

    with pytest.raises(ValueError, match="already exists"):
        export(model, base, class_names=CLASS_NAMES, version=1)

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(savedmodel, "_write_assets", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export(model, base, class_names=CLASS_NAMES, warmup=False)
    assert sorted(os.listdir(base)) == ["1", "2"]  # nothing partial, no temporary folder


def test_failed_verification_publishes_nothing(tmp_path, monkeypatch):
    def mismatch(*args, **kwargs):
        return {"ok": False, "checks": {"bytes_png": {"max_abs_diff": 0.3, "ok": False}}}

    monkeypatch.setattr(savedmodel, "verify_saved_model", mismatch)
    with pytest.raises(ValueError, match="Verification failed; nothing was published"):
        export(build("baseline"), tmp_path / "m", class_names=CLASS_NAMES, verify=True)
    assert os.listdir(tmp_path / "m") == []


@pytest.mark.parametrize("bad", ["../escape", "saved_models/../../etc", "a/b/..", ".."])
def test_dot_dot_in_the_export_dir_is_refused(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="must not contain a '..' path component"):
        with atomic_version_dir(bad):
            pass
    with pytest.raises(ValueError, match="must not contain a '..' path component"):
        export(build("baseline"), bad, class_names=CLASS_NAMES)
    assert sorted(os.listdir(tmp_path)) == []  # nothing created anywhere
    assert not os.path.exists(tmp_path.parent / "escape")


@pytest.mark.parametrize(
    "name, match",
    [("../../tmp", "'..' path component"), ("a/b", "one plain folder name"), ("", "plain")],
)
def test_model_names_must_be_plain_folder_names(name, match):
    with pytest.raises(ValueError, match=match):
        check_model_name(name)
    assert check_model_name("bcnn_vgg16") == "bcnn_vgg16"


def test_version_folder_must_resolve_inside_the_base_path(tmp_path):
    base, outside = tmp_path / "m", tmp_path / "outside"
    os.makedirs(base)
    os.makedirs(outside)
    os.symlink(outside, base / "1")  # a planted link: version 1 points outside
    with pytest.raises(ValueError, match="already exists"):
        with atomic_version_dir(base, version=1):
            pass
    with atomic_version_dir(base, version=1, overwrite=True) as (temp, _):
        open(os.path.join(temp, "saved_model.pb"), "w").close()
    # The link was replaced by a real folder inside the base path; nothing went outside.
    assert not os.path.islink(base / "1") and os.listdir(base / "1") == ["saved_model.pb"]
    assert os.listdir(outside) == [] and sorted(os.listdir(base)) == ["1"]
    assert check_inside(base / "1", base) == os.path.realpath(base / "1")
    with pytest.raises(ValueError, match="outside the base path"):
        check_inside(outside, base)


def test_a_version_moved_outside_while_publishing_is_caught(tmp_path, monkeypatch):
    from fgkeras.serving import versions

    base, outside = tmp_path / "m", tmp_path / "outside"
    os.makedirs(outside)
    publish = versions._publish

    def hijack(temp, final, base_path, version):  # the version folder becomes a link
        publish(temp, final, base_path, version)
        os.rename(final, outside / "moved")
        os.symlink(outside / "moved", final)

    monkeypatch.setattr(versions, "_publish", hijack)
    with pytest.raises(ValueError, match="resolves to .*outside the base path"):
        with atomic_version_dir(base) as (temp, _):
            open(os.path.join(temp, "saved_model.pb"), "w").close()
