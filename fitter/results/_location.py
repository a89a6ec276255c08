"""Where a result store lives: the root folder checked, then created (``ResultStore(root)``).

A local root is checked before anything is created, so a bad output leaves no folder behind:
it must not be an existing file, no folder above it may be a file, and the first existing
folder above it must be writable (else: a read-only file system or no permission). An existing
folder that cannot be written is refused unless it already holds results (``manifest.json``)
that can still be read. Every problem is one :class:`~spikefit.errors.SpikefitError` naming
the folder, what was expected and what was found, and how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from spikefit.errors import SpikefitError

__all__ = ["open_root"]

_FIX = "choose another results folder ([output] in the job file, or --output)"


def open_root(text: str) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, root path)`` of a local path or pyarrow URI, the root folder created."""
    if "://" in text:
        try:
            fs, root = pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, ValueError) as err:
            raise SpikefitError(f"result store root {text!r}: not a filesystem URI pyarrow knows ({err})") from None
    else:
        fs, root = pafs.LocalFileSystem(), str(Path(text).resolve())
        _check_local(Path(root), text)
    try:
        fs.create_dir(root, recursive=True)
    except (OSError, pa.ArrowException) as err:
        raise SpikefitError(f"results folder {text!r}: cannot create it ({type(err).__name__}: {err}); "
                            f"{_FIX}") from None
    return fs, root


def _check_local(root: Path, shown: str) -> None:
    try:
        if root.exists() and not root.is_dir():
            raise SpikefitError(f"results folder {shown!r}: expected a folder (or a path to create), got an "
                                f"existing file; {_FIX}, or move the file away")
        above = root
        while not above.exists() and above != above.parent:
            above = above.parent
        if above != root and not above.is_dir():
            raise SpikefitError(f"results folder {shown!r}: expected a folder path, but {str(above)!r} above it is "
                                f"a file, so no folder can be made there; {_FIX}")
        if not os.access(above, os.W_OK | os.X_OK):
            if above != root:
                raise SpikefitError(f"results folder {shown!r}: cannot create it, {str(above)!r} is not writable "
                                    f"(a read-only file system or no permission); {_FIX}")
            if not (root / "manifest.json").is_file():
                raise SpikefitError(f"results folder {shown!r}: expected a writable folder, got one that is not "
                                    f"writable (a read-only file system or no permission); {_FIX}")
    except OSError as err:  # e.g. a folder above that cannot be listed
        raise SpikefitError(f"results folder {shown!r}: cannot check it ({type(err).__name__}: {err}); "
                            f"{_FIX}") from None
