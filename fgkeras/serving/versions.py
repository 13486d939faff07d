"""TF Serving model base paths: integer version folders, written atomically.

TF Serving polls ``base_path/`` and loads the highest integer-named folder.
A version is written into a hidden temporary folder inside the base path
(non-integer names are ignored by the server), then renamed into place in
one step, so a polling server never sees a half-written version.

Exports cannot escape their base path: a base path or model name with a
``..`` component is refused (`check_export_dir`, `check_model_name`), and the
published version folder is checked, symlinks resolved, to lie inside the
base path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


def check_export_dir(export_dir) -> str:
    """Refuse an export base path with a ``..`` component; return it as a string.

    >>> check_export_dir("saved_models/bcnn")
    'saved_models/bcnn'
    >>> check_export_dir("saved_models/../../etc")
    Traceback (most recent call last):
    ...
    ValueError: The export directory must not contain a '..' path component ...
    """
    path = os.fspath(export_dir)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path.strip():
        raise ValueError(
            "The export directory is empty. Pass a folder such as saved_models/NAME. "
            f"Received: export_dir={path!r}"
        )
    if ".." in _components(path):
        raise ValueError(
            "The export directory must not contain a '..' path component (it could write "
            "outside the intended folder). Pass the folder without '..', e.g. an absolute "
            f"path. Received: export_dir={path!r}"
        )
    return path


def check_model_name(name) -> str:
    """Refuse a model name that is not one plain folder name (``..``, ``/``, empty).

    The name becomes a folder under ``saved_models/``, so it must not climb
    out of it or point elsewhere.

    >>> check_model_name("bcnn")
    'bcnn'
    >>> check_model_name("../../tmp/x")
    Traceback (most recent call last):
    ...
    ValueError: The model name must not contain a '..' path component: ...
    """
    name = str(name)
    if ".." in _components(name):
        raise ValueError(
            "The model name must not contain a '..' path component: it names the folder "
            "the export is written to. Pass --to DIR, or rename the model. "
            f"Received: model name {name!r}"
        )
    if not name.strip() or name == "." or len(_components(name)) != 1 or os.path.isabs(name):
        raise ValueError(
            "The model name must be one plain folder name (no '/', not empty): it names "
            f"the export folder. Pass --to DIR, or rename the model. Received: {name!r}"
        )
    return name


def _components(path):
    """Path components, splitting on '/' and on the platform's separators."""
    for separator in {os.sep, os.altsep} - {None, "/"}:
        path = path.replace(separator, "/")
    return [part for part in path.split("/") if part]


def check_inside(path, base_path) -> str:
    """``path`` with symlinks resolved; ValueError unless it lies inside ``base_path``.

    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> check_inside(os.path.join(base, "1"), base) == os.path.realpath(base) + "/1"
    True
    >>> check_inside("/etc", base)
    Traceback (most recent call last):
    ...
    ValueError: The version folder '/etc' resolves to '/etc', outside the base path ...
    """
    real = os.path.realpath(path)
    real_base = os.path.realpath(base_path)
    if os.path.commonpath([real, real_base]) != real_base or real == real_base:
        raise ValueError(
            f"The version folder {os.fspath(path)!r} resolves to {real!r}, outside the base "
            f"path {real_base!r} (a symbolic link?). Remove the link or choose another base "
            "path; nothing is written outside it."
        )
    return real


def existing_versions(base_path) -> list[int]:
    """Sorted integer versions present under ``base_path`` (empty if none).

    >>> import tempfile, os
    >>> base = tempfile.mkdtemp()
    >>> for name in ("1", "3", "notes", ".tmp-2"):
    ...     os.mkdir(os.path.join(base, name))
    >>> existing_versions(base)
    [1, 3]
    """
    if not os.path.isdir(base_path):
        return []
    return sorted(
        int(name)
        for name in os.listdir(base_path)
        if name.isdigit() and os.path.isdir(os.path.join(base_path, name))
    )


def next_version(base_path) -> int:
    """The next free version: one more than the highest present, or 1.

    >>> import tempfile
    >>> next_version(tempfile.mkdtemp())
    1
    """
    versions = existing_versions(base_path)
    return versions[-1] + 1 if versions else 1


def check_version(version) -> int:
    """Validate a requested version number.

    >>> check_version(3)
    3
    """
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(
            "`version` must be a non-negative integer (TF Serving only loads integer "
            f"version folders) or None for the next free one. Received: version={version!r}"
        )
    return version


@contextlib.contextmanager
def atomic_version_dir(base_path, version=None, overwrite=False):
    """Yield ``(temp_dir, final_dir)``; on success rename temp_dir to final_dir.

    ``final_dir`` is ``base_path/<version>`` as given (relative stays relative).
    A base path with a ``..`` component is refused (`check_export_dir`), and
    the published folder is checked to lie inside the base path once
    symlinks are resolved (`check_inside`).

    The temporary folder is removed if the block raises, so a failed export
    leaves nothing behind. An existing version is refused unless
    ``overwrite``; then the old folder is moved aside first and deleted after
    the new one is in place.

    Args:
        base_path: the model base path (created if missing).
        version: integer version, or None for `next_version`. Defaults to None.
        overwrite: replace an existing version. Defaults to False.

    >>> import tempfile, os
    >>> base = tempfile.mkdtemp()
    >>> with atomic_version_dir(base) as (tmp, final):
    ...     open(os.path.join(tmp, "saved_model.pb"), "w").close()
    >>> os.listdir(base), os.path.basename(final)
    (['1'], '1')
    """
    given = check_export_dir(base_path)  # the version path is returned in the form given
    base_path = os.path.abspath(given)
    if os.path.exists(base_path) and not os.path.isdir(base_path):
        raise NotADirectoryError(
            f"The export base path {base_path!r} exists and is not a folder. "
            "Pass a folder (e.g. saved_models/NAME); versions go in integer subfolders."
        )
    os.makedirs(base_path, exist_ok=True)
    version = next_version(base_path) if version is None else check_version(version)
    final = os.path.join(base_path, str(version))
    if os.path.lexists(final) and not overwrite:
        raise ValueError(
            f"Version {version} already exists at {final!r}. Pass overwrite=True "
            "(--overwrite) to replace it, or version=None to write the next free version "
            f"({next_version(base_path)})."
        )
    temp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base_path)
    try:
        check_inside(temp, base_path)
        yield temp, os.path.join(given, str(version))
        _publish(temp, final, base_path, version)
        check_inside(final, base_path)
    finally:
        if os.path.exists(temp):
            shutil.rmtree(temp, ignore_errors=True)


def _publish(temp, final, base_path, version):
    old = None
    if os.path.lexists(final):
        old = tempfile.mkdtemp(prefix=f".old-{version}-", dir=base_path)
        os.rmdir(old)
        os.rename(final, old)
    try:
        os.rename(temp, final)
    except OSError as error:
        if old is not None:
            os.rename(old, final)
        raise ValueError(
            f"Could not publish version {version} at {final!r} ({error}); another export "
            "may have written it at the same time. Nothing was changed."
        ) from error
    os.chmod(final, 0o755)  # mkdtemp makes 0o700 folders; a server may run as another user
    if old is not None and os.path.islink(old):  # an old version that was a link: drop the link
        os.unlink(old)
    elif old is not None:
        shutil.rmtree(old, ignore_errors=True)
