"""A results folder belongs to one job: the lock taken before a run's first write.

``<root>/lock.json`` names the owner (job, its fingerprint, host, pid, user, start). It is
created exclusively, so of two drivers started on one folder the second is refused with a
message naming the first. A lock left by a driver that died on this host (its pid is gone)
is taken over by the next run, which resumes. A folder that holds another job's results (a
different name, or the same name with a different fingerprint: other data, model, parameters,
objective or search) is refused unless the caller asks to overwrite it.

Object stores (``s3://``, ``gs://``) cannot create a file exclusively: there only the job
check applies, and one driver per folder is the user's to keep.

:func:`mark_stopped` is for a driver known to be dead (its Ray job stopped): the manifest says
``stopped`` and its lock is removed, so a resume from any host may take the folder.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket

from spikefit.errors import SpikefitError, output_error

__all__ = ["FolderLock", "FolderInUse", "LOCK_NAME", "mark_stopped"]

LOCK_NAME = "lock.json"


class FolderInUse(SpikefitError):
    """The results folder is locked by another driver, or holds another job."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class FolderLock:
    """``with FolderLock(store, job, fingerprint):`` runs while this process owns the folder."""

    def __init__(self, store, job: str, fingerprint: str, *, overwrite: bool = False):
        self.store, self.job, self.fingerprint, self.overwrite = store, job, fingerprint, overwrite
        self.path = store.path(LOCK_NAME)
        self.local = store.fs.type_name == "local"
        self.me = {"job": job, "fingerprint": fingerprint, "host": socket.gethostname(), "pid": os.getpid(),
                   "user": getpass.getuser(),
                   "start": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        self.held = False

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ------------------------------------------------------------------------------------
    def check_job(self) -> None:
        """Refuse a folder that holds another job's results (unless ``overwrite``)."""
        try:
            manifest = self.store.read_manifest()
        except (FileNotFoundError, OSError, ValueError):
            return
        name, fp = manifest.get("job"), manifest.get("fingerprint")
        if name == self.job and fp in (None, self.fingerprint):
            return
        if self.overwrite:
            return
        what = f"job {name!r}" if name != self.job else f"job {name!r} with other settings (fingerprint {fp})"
        raise FolderInUse(
            f"{self.store.uri}: expected an empty folder or results of job {self.job!r} (fingerprint "
            f"{self.fingerprint}), got results of {what}; choose another output (--output) or pass "
            "--overwrite to replace them")

    def acquire(self) -> None:
        self.check_job()
        if not self.local:
            return
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_or_refuse()
                continue
            except OSError as err:  # a read-only folder, no permission, a full disk
                raise output_error(err, self.path) from err
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(self.me, f)
            except OSError as err:
                os.remove(self.path)
                raise output_error(err, self.path) from err
            self.held = True
            return
        raise FolderInUse(f"{self.path}: could not take the lock (another driver raced for it); try again")

    def _take_over_or_refuse(self) -> None:
        try:
            with open(self.path) as f:
                owner = json.load(f)
        except (OSError, ValueError):
            owner = {}  # torn or unreadable: its writer died while writing it
        same_host = owner.get("host") == self.me["host"]
        pid = owner.get("pid")
        if owner and same_host and isinstance(pid, int) and pid != os.getpid() and _alive(pid):
            raise FolderInUse(
                f"{self.store.uri}: in use by job {owner.get('job')!r} (pid {pid} on {owner.get('host')}, "
                f"user {owner.get('user')}, since {owner.get('start')}); wait for it to finish, stop it, "
                "or choose another output (--output)")
        if owner and not same_host:
            raise FolderInUse(
                f"{self.store.uri}: in use by job {owner.get('job')!r} on host {owner.get('host')} (pid {pid}, "
                f"since {owner.get('start')}); if that driver is gone, delete {self.path} and run again")
        os.remove(self.path)  # a dead driver's lock on this host: the resume takes it over

    def release(self) -> None:
        if not self.held:
            return
        try:
            with open(self.path) as f:
                mine = json.load(f).get("pid") == os.getpid()
            if mine:
                os.remove(self.path)
        except (OSError, ValueError):
            pass
        self.held = False


def mark_stopped(store, why: str) -> dict:
    """Set the manifest's status to ``stopped`` (with ``why``) unless the run completed, and
    remove the folder's lock: call it only once its driver is known to be gone. Returns the
    manifest."""
    manifest = store.read_manifest()
    if manifest.get("status") != "complete":
        manifest = store.update_manifest(status="stopped", stopped_by=why,
                                         end=manifest.get("end") or dt.datetime.now(dt.timezone.utc)
                                         .isoformat(timespec="seconds"))
    if store.fs.type_name == "local" and os.path.exists(store.path(LOCK_NAME)):
        os.remove(store.path(LOCK_NAME))
    return manifest
