"""Write a file atomically: whole, or not at all, and no litter left behind.

``kpi new``, ``kpi refresh`` and ``kpi lite`` write through ``write_atomically``:
the bytes go to a temporary file beside the target (same folder, so same file
system), are flushed and fsynced, and the temporary file is renamed over the
target (``os.replace``, atomic on POSIX and Windows); the folder is fsynced
so that the rename itself survives a power cut. A reader sees the old file
or the new one, never half of one.

The temporary file is named ``.{target}.kpi-{pid}-{host}-{random}.tmp``:
hidden, next to the file it becomes, and carrying the writing process's id
and a tag of its machine's name. That is how it is cleaned up whatever
stops the write:

- an exception, SIGINT (Ctrl+C) or SIGTERM: for the duration of the write
  the two signals are turned into ``WriteInterrupted``, which the cleanup
  path handles like any error (the temporary file is removed, the target is
  untouched), and the previous handlers are put back. ``WriteInterrupted``
  is a ``SystemExit`` with the conventional status 128 + the signal's number
  (130, 143); the commands print its one-line message. Once the rename has
  begun, a signal waits until the write is complete and is then delivered to
  the previous handler. Handlers can only be set from the main thread; in
  another thread the write goes on without them.
- a crash or ``kill -9``, which no handler sees: the next write into that
  folder removes a temporary file whose process is gone (same machine tag,
  ``os.kill(pid, 0)`` says no such process). One written by another machine
  (a shared folder), whose process cannot be checked from here, or whose pid
  runs again, is removed once it is ``STALE_AFTER`` old: no write takes that
  long, and a running one keeps its file's modification time fresh.
- earlier releases named their temporary files ``.{target}.<random>.tmp``
  (tempfile.NamedTemporaryFile, ``kpi refresh``) and ``.~kpi-<random>.xlsx``
  or ``.~kpi-<random>.fixed.xlsx`` (tempfile.mkstemp, ``kpi new``), with no
  process id; those are removed once they are ``STALE_AFTER`` old.

File modes: a new file gets ``0o666`` less the umask, as any program's new
file does (``mkstemp``'s 0600 used to leak into the result); a replaced file
keeps its permission bits. The temporary file is created 0600 when a file is
replaced, so a private workbook is never readable through its copy.

A target that exists but is not a regular file (a FIFO, a character device
such as ``/dev/null``, a socket, a folder) is refused with
``NotRegularTargetError``: renaming over it would put a regular file where the
FIFO or device was. With ``into_special`` (the commands' ``--force``), a FIFO
or a device is written into instead, in place, as ``cat > FIFO`` would: the
bytes are made in a temporary file first, then copied into it. A missing
folder is refused with ``MissingFolderError``.

Long names: a file name may have up to 255 bytes (``NAME_MAX``); the
temporary name adds about 45, so the target's name is shortened in it (at a
character boundary) to keep it within that limit.

A target that is a symbolic link is written where the link points (every
link in the chain followed), so the link stays a link: replacing the link
itself would leave the file it named unchanged. A target that is read-only
(no write bit for its owner, or not writable by this user) is refused with
``ReadOnlyTargetError`` before anything is written: the rename would succeed in
a writable folder, but a file its owner made read-only is not ours to
replace.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

#: Age after which a temporary file whose writer cannot be shown dead is removed.
STALE_AFTER = 3600.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_OURS = re.compile(r"\..+\.kpi-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]{16}\.tmp")
_LEGACY = (
    # tempfile.NamedTemporaryFile(prefix=f".{name}.", suffix=".tmp"): 8 random
    # characters; only workbook targets, so another program's files are left alone.
    re.compile(r"\..+\.xls[xm]\.[a-z0-9_]{8}\.tmp", re.IGNORECASE),
    # tempfile.mkstemp(prefix=".~kpi-", suffix=".xlsx") and its ".fixed.xlsx" sibling.
    re.compile(r"\.~kpi-[a-z0-9_]{8}(?:\.fixed)?\.xlsx"),
)


class WriteInterrupted(SystemExit):
    """SIGINT or SIGTERM stopped a write; the temporary file is removed and the
    target is as it was. The exit status is 128 + the signal's number."""

    def __init__(self, signum: int, target: Path | None = None) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.target = target

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        return f"interrupted by {name}: nothing was written to {self.target or 'the file'}"


#: The longest file name, in bytes, of the file systems the project writes to
#: (ext4, XFS, APFS, NTFS in UTF-16 units): a temporary name stays within it.
NAME_MAX = 255


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, as a reader names it."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class NotRegularTargetError(OSError):
    """The target exists and is not a regular file; nothing was written."""

    def __init__(self, target: Path, mode: int, *, force_option: bool = True) -> None:
        kind = _kind(mode)
        forceable = force_option and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode))
        hint = (
            "give another file name, or pass --force to write into it"
            if forceable
            else "give the path of a file"
        )
        super().__init__(f"{target} is {kind}, not a regular file; nothing was written. {hint}")
        self.target = target
        self.mode = mode

    def __str__(self) -> str:
        return str(self.args[0])


class MissingFolderError(FileNotFoundError):
    """The folder a file is to be written into does not exist; nothing was written."""

    def __init__(self, target: Path) -> None:
        super().__init__(
            f"the folder {target.parent} does not exist, so {target.name} cannot be written "
            "in it; create it first"
        )
        self.target = target

    def __str__(self) -> str:
        return str(self.args[0])


class ReadOnlyTargetError(PermissionError):
    """The file to be replaced is read-only; nothing was written."""

    def __init__(self, target: Path, mode: int) -> None:
        super().__init__(
            f"{target} is read-only (mode {mode:04o}); nothing was written. "
            f"Make it writable (chmod u+w on Linux and macOS, or untick Read-only in its "
            "properties on Windows) or write to another file"
        )
        self.target = target
        self.mode = mode


def resolved_target(target: Path) -> Path:
    """The file that writing ``target`` replaces: a symbolic link's final
    target, else ``target`` itself."""
    target = Path(target)
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def refuse_read_only(target: Path) -> None:
    """Raise ``ReadOnlyTargetError`` when ``target`` exists and may not be replaced.

    The owner's write bit is checked as well as ``os.access``: a superuser
    may write anything, but a file marked read-only stays so for them too.
    """
    target = resolved_target(target)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return
    _refuse_read_only(target, mode)


def _refuse_read_only(target: Path, mode: int) -> None:
    if not mode & stat.S_IWUSR or not os.access(target, os.W_OK):
        raise ReadOnlyTargetError(target, mode)


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temporary_name(target: Path) -> str:
    """The name of the temporary file this process writes ``target`` through:
    within ``NAME_MAX`` bytes, the target's name shortened when it is long."""
    suffix = f".kpi-{os.getpid()}-{_host_tag()}-{secrets.token_hex(8)}.tmp"
    name = os.fsencode(target.name)
    room = NAME_MAX - 1 - len(suffix)
    if len(name) > room:
        # Cut at a character boundary: a broken UTF-8 sequence is dropped.
        cut = name[:room].decode("utf-8", "ignore") if _utf8(name) else None
        name = os.fsencode(cut) if cut is not None else name[:room]
    return "." + os.fsdecode(name) + suffix


def _utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _process_gone(pid: int) -> bool:
    """True only when no process ``pid`` runs on this machine."""
    if os.name != "posix":
        return False  # on Windows os.kill(pid, 0) would terminate the process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it runs, as another user
        return False
    return False


def leftovers(folder: Path, now: float | None = None) -> list[Path]:
    """The temporary files in ``folder`` that an interrupted write left behind."""
    now = time.time() if now is None else now
    host = _host_tag()
    found = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if not name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            ours = _OURS.fullmatch(name)
            if ours is None and not any(legacy.fullmatch(name) for legacy in _LEGACY):
                continue
            if ours is not None and ours["host"] == host and _process_gone(int(ours["pid"])):
                found.append(Path(entry.path))
                continue
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if age > STALE_AFTER:
                found.append(Path(entry.path))
    return sorted(found)


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove what ``leftovers`` finds; return what was removed."""
    removed = []
    for path in leftovers(folder):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


class _SignalGuard:
    """SIGINT and SIGTERM as ``WriteInterrupted`` while armed; held back after."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.armed = False
        self.pending: int | None = None
        self.previous: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        if self.armed:
            self.armed = False  # a second signal must not interrupt the cleanup
            raise WriteInterrupted(signum, self.target)
        if self.pending is None:
            self.pending = signum

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _SIGNALS:
            self.previous[signum] = signal.signal(signum, self._handler)
        self.armed = True

    def disarm(self) -> None:
        self.armed = False

    def restore(self, interrupted: bool) -> None:
        """Put the previous handlers back, then hand them a signal that came
        while the write could no longer stop (unless one already stopped it)."""
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        if self.pending is not None and not interrupted:
            signal.raise_signal(self.pending)


@contextlib.contextmanager
def _guarded(target: Path) -> Iterator[_SignalGuard]:
    guard = _SignalGuard(target)
    interrupted = False
    try:
        guard.install()
        yield guard
    except WriteInterrupted:
        interrupted = True
        raise
    finally:
        guard.disarm()
        guard.restore(interrupted)


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder; its rename is made durable by NTFS' journal
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def check_target(target: Path, *, into_special: bool = False, force_option: bool = True) -> None:
    """Raise what ``write_atomically`` would before writing anything:
    ``NotRegularTargetError``, ``MissingFolderError`` or ``ReadOnlyTargetError``.
    ``force_option``: the command has a ``--force`` that the message may offer."""
    target = resolved_target(target)
    try:
        status = target.stat()
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise MissingFolderError(target) from None
        return
    mode = status.st_mode
    if stat.S_ISREG(mode):
        _refuse_read_only(target, stat.S_IMODE(mode))
    # Only a FIFO or a character device is written into, and only when asked:
    # never a folder, a socket, or a disk (a block device).
    elif not (into_special and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode))):
        raise NotRegularTargetError(target, mode, force_option=force_option)


def _write_into(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write into an existing FIFO or device, in place (see the module docstring)."""
    with tempfile.TemporaryFile() as staged:
        write(staged)
        staged.seek(0)
        # No O_CREAT: the FIFO or device is written into, never made anew.
        handle = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        with open(handle, "wb") as special:
            shutil.copyfileobj(staged, special, 1 << 20)


def write_atomically(
    target: Path, write: Callable[[BinaryIO], None], *, into_special: bool = False
) -> None:
    """Call ``write(file)`` on a temporary file beside ``target``, then rename it.

    The file passed to ``write`` is a seekable binary file. On any error or
    interruption the temporary file is removed and ``target`` is untouched.
    ``into_special``: an existing FIFO or device is written into rather than
    refused (see the module docstring).
    """
    target = resolved_target(target)
    check_target(target, into_special=into_special)
    try:
        status: os.stat_result | None = target.stat()
    except FileNotFoundError:
        status = None
    if status is not None and not stat.S_ISREG(status.st_mode):
        _write_into(target, write)
        return
    mode = None if status is None else stat.S_IMODE(status.st_mode)
    folder = target.parent
    remove_leftovers(folder)
    temporary = folder / temporary_name(target)
    with _guarded(target) as guard:
        try:
            # O_EXCL: never open a file someone else placed under the random name.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            handle = os.open(temporary, flags, 0o666 if mode is None else 0o600)
            with open(handle, "wb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            if mode is not None:
                os.chmod(temporary, mode)
            guard.disarm()  # from here on the write completes; a signal waits for it
            os.replace(temporary, target)
        except BaseException:
            # A signal in the few instructions before this line could still
            # skip the removal; the next write then removes the file, whose
            # process is gone.
            guard.disarm()
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
    _fsync_folder(folder)


def write_bytes_atomically(target: Path, data: bytes, *, into_special: bool = False) -> None:
    """``write_atomically`` for content that is already in memory."""

    def write(file: BinaryIO) -> None:
        file.write(data)

    write_atomically(target, write, into_special=into_special)
