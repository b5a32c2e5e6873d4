"""Write outputs safely: stage under a temporary sibling name, then rename.

An interrupted run leaves at most a hidden ``.PID-XXXXXXXX.tmp-NAME`` entry behind
(removed on the way out when Python still runs, and by the next write to the
same name when the process that made it is gone: killed, out of memory, power
lost), never a half-written output under the real name; an existing output is
replaced only when asked,
and of two runs writing the same new output at once, the second to finish
is refused instead of replacing the first.

While it writes, a process holds an exclusive lock on a hidden ``.NAME.lock``
file beside the output (:func:`output_lock`): a second process that writes the
same output, with or without ``overwrite``, is refused when it starts, naming the
process that holds the lock.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from contextlib import contextmanager
from fnmatch import fnmatch
from glob import escape as glob_escape
from pathlib import Path

from aedr._warnings import warn

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the create-exclusive rename still refuses a second new output
    fcntl = None


class OutputExistsError(FileExistsError):
    """The output path already exists and replacing it was not asked for."""

    def __init__(self, path: Path):
        super().__init__(f"{path} already exists (pass overwrite=True to replace it)")
        self.path = Path(path)


class OutputBusyError(OSError):
    """Another process holds the lock on writing this output."""

    def __init__(self, path: Path, pid: int | None):
        who = f"another aedr process (pid {pid})" if pid else "another aedr process"
        super().__init__(f"{path} is being written by {who}; wait for it to finish or choose another name")
        self.path, self.pid = Path(path), pid


_held: dict[str, int] = {}  # lock file -> descriptor: the locks this process holds


def lock_file(target: str | Path) -> Path:
    """The lock file of ``target``: ``.NAME.lock`` beside it."""
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


@contextmanager
def output_lock(target: str | Path):
    """Hold the exclusive lock on writing ``target`` for the block; raise :class:`OutputBusyError` at
    once if another process holds it. Taken again by the same process, it is the same lock.

    The lock is ``flock`` on :func:`lock_file`: the operating system releases it when the process
    ends, however it ends, so a killed run never blocks the next; the file is removed on the way out.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with output_lock(root / "run"):
    ...     sorted(p.name for p in root.iterdir())
    ['.run.lock']
    >>> list(root.iterdir())
    []
    """
    path = lock_file(target)
    key = os.path.abspath(path)
    if key in _held:  # this process holds it already (a command's lock, then its staged write)
        yield Path(target)
        return
    if fcntl is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield Path(target)
        return
    try:
        created = _make_parents(path.parent)
        try:
            descriptor = _acquire(path, Path(target))
        except BaseException:
            _remove_empty(created)
            raise
    except OSError as exc:
        if isinstance(exc, OutputBusyError) or not exc.strerror:
            raise
        # the lock file is aedr's own: name the folder the user gave, which is what cannot be written
        raise type(exc)(exc.errno, f"cannot write here ({exc.strerror.lower()})", str(path.parent)) from None
    _held[key] = descriptor
    try:
        yield Path(target)
    finally:
        del _held[key]
        try:
            path.unlink(missing_ok=True)  # while still holding it: see _acquire
        finally:
            os.close(descriptor)
            _remove_empty(created)


def _acquire(path: Path, target: Path) -> int:
    """An open descriptor of ``path`` holding its lock, with this process's id written in it."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise OutputBusyError(target, _holder(path)) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP):
                os.close(descriptor)
                raise
            # a file system without locks (some network mounts): go on unlocked, as without fcntl
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(descriptor)
        if current is not None and (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev):
            try:
                os.ftruncate(descriptor, 0)
                os.write(descriptor, f"{os.getpid()}\n".encode())
            except OSError:  # a full disk: the lock file was made, its process id could not be written
                path.unlink(missing_ok=True)
                os.close(descriptor)
                raise
            return descriptor
        # the holder removed this file as it finished, after we opened it: lock the file now there
        os.close(descriptor)


def _holder(path: Path) -> int | None:
    """The process id written in lock file ``path`` (None if not yet written or unreadable)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    created = []
    while not folder.exists():
        created.append(folder)
        folder = folder.parent
    for path in reversed(created):
        path.mkdir(exist_ok=True)
    return created


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (the output is in it) or gone


def check_new(
    target: str | Path, *, overwrite: bool = False, folder: bool | None = None, marker: str | None = None
) -> Path:
    """``target``, checked before anything is written there; the one place outputs are checked.

    Raises :class:`OutputExistsError` if ``target`` exists and not ``overwrite`` (an empty folder is
    fine), and ValueError, naming ``target``, for the wrong kind of thing in its place (``folder``
    True: a folder is written there, False: a file) or, with ``overwrite``, for a folder that holds
    other things but not ``marker`` (a path inside it, e.g. ``"config.json"``): overwriting replaces
    only what aedr wrote, never other files. A symbolic link counts as existing; with ``overwrite``,
    a link to an earlier aedr output folder (one holding ``marker``) is followed, so that folder is
    replaced and the link stays (``latest -> run3``), and any other link is itself replaced by the
    output, never what it points to.
    """
    target = Path(target)
    try:
        mode = target.stat().st_mode  # through links: what a write there would reach
    except OSError:
        mode = None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ValueError(
            f"{target} is a pipe or device, not a file; outputs are written to files (transform and "
            "inverse-transform write to standard output with -o -)"
        )
    if target.is_symlink():
        if not overwrite:
            raise OutputExistsError(target)
        try:
            pointed = target.resolve(strict=False)
        except (RuntimeError, OSError) as exc:  # a loop of links
            raise ValueError(f"{target} is a symbolic link that leads nowhere ({exc}); choose another name") from exc
        if folder and marker is not None and (pointed / marker).is_file():
            target = pointed  # an earlier output of this kind, through its link
        elif folder:
            raise ValueError(
                f"{target} is a symbolic link to {pointed}, not to an earlier aedr output; choose another name"
            )
        else:
            return target  # the link itself is replaced by the new file; what it points to is left alone
    if folder is True and target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file; a folder is written there: choose another name")
    if folder is False and target.is_dir() and not target.is_symlink():
        raise ValueError(f"{target} is a folder; give the name of a file to write")
    is_folder = target.is_dir() and not target.is_symlink()
    if overwrite and marker is not None and is_folder and any(target.iterdir()) and not (target / marker).is_file():
        raise ValueError(
            f"{target} is a folder without {marker}, not an earlier aedr output; overwriting replaces only "
            "aedr's own outputs, never other files: choose another name"
        )
    if overwrite or not (target.exists() or target.is_symlink()):
        return target
    if is_folder and not any(target.iterdir()):
        return target
    raise OutputExistsError(target)


@contextmanager
def output_handle(path: str | Path):
    """A binary handle that writes ``path``, compressed when its name ends in ``.gz``, ``.bz2`` or ``.xz``
    (any case), with no file name in a gzip header: an output is written under a temporary name
    (:func:`staged_file`), which ``gunzip -N`` would otherwise restore."""
    from aedr.data.sniff import compressed_suffix, packed

    suffix = compressed_suffix(path)
    with open(path, "wb") as handle:
        if suffix is None:
            yield handle
            return
        with packed(handle, suffix, "wb") as compressed:
            yield compressed


def _temporary_sibling(target: Path) -> Path:
    # The real name stays at the end so writers that infer a format or a
    # compression from the extension (pandas: ``.csv.gz``) still see it; the
    # process id lets a later run tell a dead run's leftovers from a live one's.
    return target.with_name(f".{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp-{_staged_name(target.name)}")


STAGED_NAME_BYTES = 200  # of a name in a staging name, which adds up to 40 bytes: within the usual 255


def _staged_name(name: str) -> str:
    """``name`` as staging names carry it: whole, or for a long one (a name the file system takes may
    be too long once staging's prefix is added) its start and its last 40 bytes (the extensions,
    which writers read the format from) around a ``~``.

    >>> _staged_name("embedding.csv.gz")
    'embedding.csv.gz'
    >>> len(_staged_name("a" * 250 + ".csv").encode()), _staged_name("a" * 250 + ".csv")[-6:]
    (200, 'aa.csv')
    """
    raw = name.encode()
    if len(raw) <= STAGED_NAME_BYTES:
        return name
    tail = raw[-40:].decode(errors="ignore")
    head = raw[: STAGED_NAME_BYTES - len(tail.encode()) - 1].decode(errors="ignore")
    return f"{head}~{tail}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process, or no way to tell: leave its files alone
    return True


def _remove_leftovers(target: Path) -> None:
    """Remove staging entries for ``target`` left by processes that no longer run."""
    for entry in target.parent.glob(f".*.tmp-{glob_escape(_staged_name(target.name))}"):
        pid = entry.name[1:].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            _remove(entry)


class KeptFilesError(OSError):
    """The new output is in place, but some of the user's files of the folder it replaced could not move
    into it: they stay in ``previous`` (:func:`_replace`)."""

    def __init__(self, message: str, previous: Path):
        super().__init__(message)
        self.previous = previous


def previous_name(target: Path) -> Path:
    """Where a replaced output folder waits while the user's entries move into the new one
    (:func:`_replace`): ``NAME.previous-…``, a name no cleanup of staging leftovers removes."""
    return target.with_name(f"{target.name}.previous-{uuid.uuid4().hex[:8]}")


def _replace(staged: Path, target: Path, owned: tuple[str, ...] = ()) -> None:
    """Put ``staged`` in ``target``'s place. A folder's entries that the new one does not hold and
    that match none of the ``owned`` names (the writer's own outputs, ``fnmatch`` patterns) are the
    user's: they move into the new folder instead of being removed with the old one.

    The old folder waits under :func:`previous_name` until they are moved, so that a process killed
    midway (``kill -9``, the OOM killer) leaves them there, never in a staging name a later write
    removes. An error or interrupt midway leaves them there too, the exception's ``previous``
    attribute naming the folder (an OSError is raised naming it)."""
    if target.is_dir() and not target.is_symlink():
        old = previous_name(target)
        target.rename(old)
        try:
            staged.rename(target)
        except BaseException:
            old.rename(target)  # the earlier output back under its name
            raise
        try:
            for entry in sorted(old.iterdir()):
                if not (target / entry.name).exists() and not any(fnmatch(entry.name, p) for p in owned):
                    entry.rename(target / entry.name)
        except BaseException as exc:  # an error or Ctrl-C midway: the new output is in place, the rest in old
            if isinstance(exc, OSError):
                raise KeptFilesError(
                    f"{target}: written, but could not keep every file of the folder it replaced ({exc}); the rest "
                    f"are in {old}",
                    old,
                ) from exc
            exc.previous = old
            raise
        shutil.rmtree(old, ignore_errors=True)
        if old.exists():  # a file the system keeps (immutable, held open on NFS): said, not left unnoticed
            warn(f"{target}: written; some files of the output it replaced could not be removed and stay in {old}")
    else:
        os.replace(staged, target)


def _place_new(staged: Path, target: Path) -> None:
    """Move ``staged`` to ``target`` only while ``target`` is still absent (or an empty folder): when another
    process wrote it in the meantime, that output stays and this one is refused."""
    try:
        if staged.is_dir():
            os.rename(staged, target)  # fails onto a file or a non-empty folder
        else:
            try:
                os.link(staged, target)  # fails when target exists: no check-then-replace race
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                    raise
                if target.exists() or target.is_symlink():  # no hard links here: check, then rename
                    raise FileExistsError(target) from exc
                os.replace(staged, target)
                return
            staged.unlink()
    except OSError as exc:
        if isinstance(exc, FileExistsError) or exc.errno in (
            errno.ENOTEMPTY,
            errno.EEXIST,
            errno.ENOTDIR,
            errno.EISDIR,
        ):
            _remove(staged)
            raise OutputExistsError(target) from None
        raise


def _output_path(filename, staged: Path, target: Path) -> Path:
    """The output an error on ``filename`` concerns: ``target`` for none or ``staged`` itself, the same
    place in ``target`` for a path inside the staged folder, else ``filename``."""
    if filename is None:
        return target
    try:
        return target / Path(filename).relative_to(staged)
    except ValueError:
        return Path(filename)


def _fill_in_place(staged: Path, target: Path, overwrite: bool, owned: tuple[str, ...] = ()) -> None:
    """Move the entries of the folder ``staged`` into ``target``, the working folder: renaming a folder
    over the one a shell sits in would leave the shell in a deleted folder. ``target`` must be empty,
    or with ``overwrite`` an earlier output, of which the entries written again or ``owned`` are
    replaced and the others kept (as :func:`_replace` keeps them)."""
    if not overwrite and any(target.iterdir()):
        _remove(staged)
        raise OutputExistsError(target)
    for entry in sorted(target.iterdir()) if overwrite else []:
        if (staged / entry.name).exists() or any(fnmatch(entry.name, p) for p in owned):
            _remove(entry)
    for entry in sorted(staged.iterdir()):
        entry.rename(target / entry.name)
    staged.rmdir()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # what writing an output can fail with, in its name


@contextmanager
def _staged(target: Path, *, folder: bool, overwrite: bool, owned: tuple[str, ...] = ()):
    """The staging both public helpers share, under ``target``'s lock: a temporary sibling, removed on
    failure, renamed on success (without ``overwrite``, only if nothing took ``target``'s name meanwhile)."""
    with output_lock(target):
        _remove_leftovers(target)
        staged = _temporary_sibling(target)
        if folder:
            staged.mkdir()
        try:
            yield staged
            if folder and target.resolve() == Path.cwd().resolve():
                _fill_in_place(staged, target, overwrite, owned)
            elif overwrite:
                _replace(staged, target, owned)
            else:
                _place_new(staged, target)
        except OSError as exc:
            _remove(staged)  # gone already when it was placed
            # said of the output: a write's error names no file, or the staged one (another file's error, such
            # as a checkpoint written while a run folder is staged, is raised as it is, its notes kept)
            if exc.errno in DISK_FULL and _output_path(exc.filename, staged, target) != Path(exc.filename or "."):
                raise OSError(
                    exc.errno, os.strerror(exc.errno), str(_output_path(exc.filename, staged, target))
                ) from exc
            raise
        except BaseException:
            _remove(staged)
            raise


@contextmanager
def staged_folder(
    target: str | Path, *, overwrite: bool = False, marker: str | None = None, owned: tuple[str, ...] = ()
):
    """Yield an empty temporary folder that replaces ``target`` when the block succeeds; ``overwrite``
    replaces only a folder holding ``marker`` (see :func:`check_new`), and of its entries only those
    the new folder writes again or that match an ``owned`` name (the writer's other outputs,
    ``"embedding.csv"``): any other file there moves into the new folder.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with staged_folder(root / "run") as tmp:
    ...     _ = (tmp / "a.txt").write_text("hi")
    >>> sorted(p.name for p in root.iterdir()), (root / "run" / "a.txt").read_text()
    (['run'], 'hi')
    """
    with _staged(
        check_new(target, overwrite=overwrite, folder=True, marker=marker),
        folder=True,
        overwrite=overwrite,
        owned=owned,
    ) as staged:
        yield staged


@contextmanager
def staged_file(target: str | Path, *, overwrite: bool = False):
    """Yield a temporary path beside ``target``; it is renamed to ``target`` when the block succeeds."""
    target = check_new(target, overwrite=overwrite, folder=False)
    with _staged(target, folder=False, overwrite=overwrite) as staged:
        yield staged
