"""Helpers shared by the readers: table helpers (npz, csv, parquet) and error-message helpers."""

from __future__ import annotations

import numpy as np

from spikefit.data.recording import Recording, RecordingError

__all__ = ["group_cells", "require", "scalar_str", "sniff_format", "format_hint", "short_error"]


def require(mapping, key: str, path, what: str):
    if key not in mapping:
        raise RecordingError(f"{path}: missing {what} {key!r}; found {sorted(mapping)}")
    return mapping[key]


def group_cells(sweeps, path) -> Recording | list[Recording]:
    """One Recording per cell id (in first-seen order); a single cell returns the Recording."""
    cells: dict[str, list] = {}
    for s in sweeps:
        cells.setdefault(s.cell, []).append(s)
    if not cells:
        raise RecordingError(f"{path}: expected at least one sweep, got none")
    recs = [Recording(tuple(v), cell=k, source=str(path)) for k, v in cells.items()]
    return recs[0] if len(recs) == 1 else recs


def scalar_str(x) -> str:
    return str(np.asarray(x).reshape(-1)[0]) if np.asarray(x).size else ""


_MAGIC = ((b"ABF2", "abf"), (b"ABF ", "abf"), (b"\x89HDF\r\n\x1a\n", "nwb"), (b"PK\x03\x04", "npz"),
          (b"PAR1", "parquet"), (b"\x1f\x8b", "text"))


def sniff_format(path) -> str | None:
    """The format a file's first bytes look like (None when unknown): a hint for error messages."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if head[:2] in (b"\x05\x00", b"\x00\x05", b"\x02\x00", b"\x00\x02") and len(head) >= 64:
        return "ibw"
    try:
        first = head.decode("utf-8").splitlines()[0] if head else ""
    except UnicodeDecodeError:
        return None
    return "csv" if "," in first and "current_" in first else None


def format_hint(path, fmt: str) -> str:
    """``"; its first bytes look like <other>: pass format=..."`` when the bytes say so, else ``""``."""
    other = sniff_format(path)
    return f"; its first bytes look like {other}: pass format={other!r}" if other and other != fmt else ""


def short_error(err: BaseException, limit: int = 160) -> str:
    """``"<Type>: <message>"`` of a library's exception, cut to ``limit`` characters."""
    text = f"{type(err).__name__}: {err}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_file(path, load, *, what: str, fmt: str):
    """``(Path(path), load(path))``; a missing file or one ``load`` cannot parse is one clear error
    naming the file, what it was read as, why, and (when the bytes say so) the right format."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return path, load(path)
    except Exception as err:
        raise RecordingError(f"{path}: cannot read as {what}: {short_error(err)}{format_hint(path, fmt)}") from err
