"""Where a study lives: an Optuna journal file (default), an RDB URL, or memory."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

from optuna.storages import InMemoryStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import get_lock_file

from spikefit.errors import SpikefitError, output_error

__all__ = ["JOURNAL_NAME", "JournalError", "make_storage", "count_existing_trials", "journal_of"]

_log = logging.getLogger("spikefit")

#: file name of the default journal, in the run's output folder
JOURNAL_NAME = "study.journal"


def make_storage(storage: str | None, output_dir: str | Path | None) -> Any:
    if storage is None and output_dir is None:
        return InMemoryStorage()
    if storage is not None and not isinstance(storage, (str, Path)):
        raise TypeError(f"storage must be an RDB URL or a journal file path, got {storage!r}")
    if storage is not None and "://" in str(storage):
        return RDBStorage(str(storage))
    path = Path(storage) if storage is not None else Path(output_dir) / JOURNAL_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_error(err, path.parent) from err
    return JournalStorage(_FlushedJournalBackend(str(path)))


class JournalError(SpikefitError):
    """A study journal with a corrupt record before its last one: the study cannot be read."""


class _FlushedJournalBackend(JournalFileBackend):
    """Optuna's journal file, flushed to the OS on every write but not fsync'ed, and safe
    against torn records.

    Optuna fsyncs each of the ~10 journal records a trial writes (about 1 ms each here), which
    made the journal, not the sampler, the driver's largest cost. Flushed records survive a
    crash or kill of the driver process (they are in the OS page cache); only a power loss or
    kernel crash can lose the last records, and a resumed study then re-runs those trials.

    A write that fails (disk full, file size limit, read-only folder) is cut back to the
    journal's size before it and raised as :class:`~spikefit.errors.OutputError` naming the
    file. A record torn anyway (the driver killed mid-write, or the cut failed) is found when the
    journal is opened: its bytes go to ``<journal>.torn``, the journal is cut back to the last
    whole record and one warning line names both, so the next run never appends to half a line.
    A corrupt record before the last one is a :class:`JournalError` naming the line.
    """

    def __init__(self, file_path: str):
        try:
            super().__init__(file_path)
            with get_lock_file(self._lock):
                _cut_torn_tail(Path(file_path))
        except OSError as err:
            raise output_error(err, file_path) from err

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        try:
            yield from super().read_logs(log_number_from)
        except ValueError as err:  # json.JSONDecodeError, or Optuna's "Invalid log format."
            raise _corrupt(Path(self._file_path), err) from None

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        self.append_text("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n")

    def append_text(self, text: str) -> None:
        """Append whole records (JSON lines, each ending in a line end) in one write."""
        if not text:
            return
        size = None
        try:
            with get_lock_file(self._lock):
                size = os.path.getsize(self._file_path)
                with open(self._file_path, "ab") as f:
                    f.write(text.encode("utf-8"))
                    f.flush()
        except OSError as err:
            if size is not None:
                try:
                    os.truncate(self._file_path, size)  # no half record left behind
                except OSError:
                    pass  # cut when the journal is next opened
            raise output_error(err, self._file_path) from err


def _cut_torn_tail(path: Path) -> None:
    """Move a last record without its line end to ``<path>.torn`` and cut the journal there."""
    size = path.stat().st_size
    if not size:
        return
    with open(path, "rb") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        start, tail = size, b""
        while start > 0 and b"\n" not in tail:  # back to the last line end, 64 KiB at a time
            step = min(start, 1 << 16)
            start -= step
            f.seek(start)
            tail = f.read(step) + tail
    cut = start + tail.rfind(b"\n") + 1
    torn = tail[tail.rfind(b"\n") + 1:]
    try:
        whole = isinstance(json.loads(torn), dict)  # written whole but for its line end
    except ValueError:
        whole = False
    if whole:
        with open(path, "ab") as f:
            f.write(b"\n")
        return
    keep = path.with_name(path.name + ".torn")
    with open(keep, "ab") as f:
        f.write(torn + b"\n")
    os.truncate(path, cut)
    _log.warning("%s: torn last record at byte %d (%d bytes, kept in %s) ignored; the study resumes "
                 "from the records before it", path, cut, len(torn), keep)


def _corrupt(path: Path, err: ValueError) -> JournalError:
    """The first line of ``path`` that is not a whole JSON record, named."""
    offset = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("no line end")
                json.loads(line)
            except ValueError as bad:
                return JournalError(
                    f"{path}: line {number} (byte {offset}) is not a whole journal record ({bad}); the "
                    "study cannot be read past it; repair that line from a copy, or run the job afresh "
                    "into another results folder (--output)")
            offset += len(line)
    return JournalError(f"{path}: not a valid study journal ({err})")


def count_existing_trials(storage: Any, name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))


def journal_of(storage: Any, study_id: int) -> tuple | None:
    """``(backend, study_id)`` when ``storage`` is spikefit's journal file (batches of trials
    are then appended as journal records in one write), else ``None``."""
    backend = getattr(storage, "_backend", None)
    if isinstance(storage, JournalStorage) and isinstance(backend, _FlushedJournalBackend):
        return backend, study_id
    return None
