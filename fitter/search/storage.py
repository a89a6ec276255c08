"""Where a study lives: an Optuna journal file (default), an RDB URL, or memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optuna.storages import InMemoryStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

__all__ = ["JOURNAL_NAME", "make_storage", "count_existing_trials", "journal_of"]

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
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(_FlushedJournalBackend(str(path)))


class _FlushedJournalBackend(JournalFileBackend):
    """Optuna's journal file, flushed to the OS on every write but not fsync'ed.

    Optuna fsyncs each of the ~10 journal records a trial writes (about 1 ms each here), which
    made the journal, not the sampler, the driver's largest cost. Flushed records survive a
    crash or kill of the driver process (they are in the OS page cache); only a power loss or
    kernel crash can lose the last records, and a resumed study then re-runs those trials.
    """

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        from optuna.storages.journal._file import get_lock_file

        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        with get_lock_file(self._lock):
            with open(self._file_path, "ab") as f:
                f.write(text.encode("utf-8"))
                f.flush()


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
