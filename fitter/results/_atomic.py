"""One file of a results folder written whole or not at all, and a failed write named.

On a local filesystem the file is written under a hidden temporary name
(``.<name>.tmp-<uuid>``) in the same folder and renamed; on object stores it is buffered and
sent as one PUT. A write that fails (disk full, file size limit, read-only folder, no
permission) leaves no temporary file and raises :class:`~spikefit.errors.OutputError` naming
the file and what the OS said.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

import pyarrow.fs as pafs

from spikefit.errors import output_error

__all__ = ["write_file"]


def write_file(fs: pafs.FileSystem, target: str, write: Callable, *, rename: bool) -> None:
    """``write(sink)`` fills ``target`` on ``fs``; ``rename``: through a temporary name (local)."""
    if not rename:  # object store: buffer, then one PUT (atomic)
        buf = io.BytesIO()
        write(buf)
        try:
            with fs.open_output_stream(target) as out:
                out.write(buf.getvalue())
        except OSError as err:
            raise output_error(err, target) from err
        return
    folder, name = target.rsplit("/", 1)
    tmp = f"{folder}/.{name}.tmp-{uuid.uuid4().hex}"
    try:
        with fs.open_output_stream(tmp) as sink:
            write(sink)
        fs.move(tmp, target)
    except BaseException as err:
        try:
            fs.delete_file(tmp)
        except (FileNotFoundError, OSError):
            pass
        if isinstance(err, OSError):  # disk full, read-only, no permission: name the file
            raise output_error(err, target) from err
        raise
