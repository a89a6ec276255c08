"""Recording readers, one module per format, behind :func:`load`.

``load(path, format=None, **options)`` picks the reader from ``format`` or the file's
extension (a folder: from the files in it) and returns a :class:`~spikefit.data.recording.Recording`,
or a list of them when the path holds several cells (a folder of cell folders, a folder of
``.abf`` files, a table with several cells). Options go to the reader (see each module).
No reader executes anything from a file (no pickle).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from spikefit.data.recording import Recording, RecordingError

__all__ = ["load", "FORMATS", "detect_format"]

# format name -> (module, extensions)
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ibw": ("spikefit.data.readers.ibw", (".ibw",)),
    "abf": ("spikefit.data.readers.abf", (".abf",)),
    "nwb": ("spikefit.data.readers.nwb", (".nwb",)),
    "npz": ("spikefit.data.readers.npz", (".npz",)),
    "csv": ("spikefit.data.readers.csv", (".csv", ".csv.gz")),
    "parquet": ("spikefit.data.readers.parquet", (".parquet",)),
    "text": ("spikefit.data.readers.text", (".txt", ".dat", ".asc", ".voltage", ".voltage.gz", ".txt.gz", ".dat.gz")),
}
_NOT_DATA = ("license", "readme", "source", "notice", "copying")


def _data_files(folder: Path) -> dict[Path, str]:
    """Files of a folder that look like recordings -> their format."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith(".") and not p.name.lower().startswith(_NOT_DATA):
            fmt = _format_of_file(p)
            if fmt:
                out[p] = fmt
    return out


def _format_of_file(path: Path) -> str | None:
    name = path.name.lower()
    best = None
    for fmt, (_, exts) in FORMATS.items():
        for ext in exts:
            if name.endswith(ext) and (best is None or len(ext) > best[1]):
                best = (fmt, len(ext))
    return best[0] if best else None


def detect_format(path) -> str:
    """The format name of a file or folder; an error when unknown or ambiguous."""
    path = Path(path)
    if path.is_dir():
        found: dict[str, str] = {}
        for p, fmt in _data_files(path).items():
            found.setdefault(fmt, p.name)
        if len(found) > 1:
            raise RecordingError(
                f"{path}: folder format is ambiguous, it holds {', '.join(f'{k} ({v})' for k, v in found.items())}; "
                f"pass format= (CLI: --format) one of {sorted(FORMATS)}"
            )
        if not found:
            raise RecordingError(f"{path}: no recording files found in this folder; known formats {_known()}")
        return next(iter(found))
    fmt = _format_of_file(path)
    if fmt is None:
        raise RecordingError(f"{path}: unknown format (extension {path.suffix!r}); known formats {_known()}; pass format=")
    return fmt


def _known() -> str:
    return ", ".join(f"{k} ({'/'.join(v[1])})" for k, v in FORMATS.items())


def load(path, format: str | None = None, **options) -> Recording | list[Recording]:
    """Load a recording file or folder (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if format is not None and format not in FORMATS:
        raise RecordingError(f"unknown format {format!r}; known formats {_known()}")
    if path.is_dir():
        subdirs = [p for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(".")]
        has_files = bool(_data_files(path))
        if subdirs and not has_files:
            out: list[Recording] = []
            for d in subdirs:
                rec = load(d, format=format, **options)
                out.extend(rec if isinstance(rec, list) else [rec])
            return out
    fmt = format or detect_format(path)
    module = importlib.import_module(FORMATS[fmt][0])
    if path.is_dir() and fmt not in ("ibw", "text"):
        files = [p for p, f in _data_files(path).items() if f == fmt]
        out = []
        for f in files:
            rec = module.read(f, **options)
            out.extend(rec if isinstance(rec, list) else [rec])
        return out[0] if len(out) == 1 else out
    if fmt == "text" and "preset" not in options and path.is_dir() and any(path.glob("*.spiketimes")):
        raise RecordingError(
            f"{path}: looks like qsnmc2007 text files; the sampling rate is not in them: pass preset='qsnmc2007' "
            "(CLI: --preset qsnmc2007) or rate_hz= and columns="
        )
    try:
        return module.read(path, **options)
    except TypeError as err:
        if "unexpected keyword" in str(err):
            raise RecordingError(f"{path}: reader {fmt!r}: {err}") from err
        raise
