"""Writing files so that nothing already written is lost or left half-written.

Everything is written under a temporary name beside its destination and renamed into place, so a
crash, a full disk or a kill leaves either the old file or the new one, never a mixture.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from arborlab.errors import ArborError


def writable_parent(path: Path | str) -> Path:
    """Create the folder that will hold `path` and check it is writable; returns it."""
    parent = Path(path).resolve().parent
    blocker = next((p for p in [parent, *parent.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ArborError(f"cannot write {path}: {blocker} is a file, not a folder.")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ArborError(f"cannot create the folder {parent}: {error.strerror or error}.") from None
    if not os.access(parent, os.W_OK):
        raise ArborError(f"cannot write into {parent}: permission denied.")
    return parent


@contextmanager
def atomic_directory(path: Path | str, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces `path` when the block ends without error.

    Refuses an existing `path` unless `overwrite`; on error the temporary folder is removed and
    `path` is untouched.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ArborError(f"the output folder {path} already exists; pass --overwrite to replace it.")
    parent = writable_parent(path)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    try:
        yield staging
        if path.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, retired / path.name)
            os.replace(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, path)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArborError(f"writing {path} failed: {error.strerror or error}.") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def atomic_file(path: Path | str, mode: str = "w") -> Iterator:
    """Open a temporary sibling of `path` for writing; it becomes `path` when the block succeeds."""
    path = Path(path)
    parent = writable_parent(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=parent)
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ArborError(f"writing {path} failed: {error.strerror or error}.") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
