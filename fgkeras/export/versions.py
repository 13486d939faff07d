"""TF Serving model base paths: integer version folders, written atomically.

TF Serving polls ``base_path/`` and loads the highest integer-named folder.
A version is written into a hidden temporary folder inside the base path
(non-integer names are ignored by the server), then renamed into place in
one step, so a polling server never sees a half-written version.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


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
    given = os.fspath(base_path)  # the version path is returned in the form given
    base_path = os.path.abspath(given)
    if os.path.exists(base_path) and not os.path.isdir(base_path):
        raise NotADirectoryError(
            f"The export base path {base_path!r} exists and is not a folder. "
            "Pass a folder (e.g. saved_models/NAME); versions go in integer subfolders."
        )
    os.makedirs(base_path, exist_ok=True)
    version = next_version(base_path) if version is None else check_version(version)
    final = os.path.join(base_path, str(version))
    if os.path.exists(final) and not overwrite:
        raise ValueError(
            f"Version {version} already exists at {final!r}. Pass overwrite=True "
            "(--overwrite) to replace it, or version=None to write the next free version "
            f"({next_version(base_path)})."
        )
    temp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base_path)
    try:
        yield temp, os.path.join(given, str(version))
        _publish(temp, final, base_path, version)
    finally:
        if os.path.exists(temp):
            shutil.rmtree(temp, ignore_errors=True)


def _publish(temp, final, base_path, version):
    old = None
    if os.path.exists(final):
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
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
