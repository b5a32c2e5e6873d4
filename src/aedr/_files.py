"""Write outputs safely: stage under a temporary sibling name, then rename.

An interrupted run leaves at most a hidden ``.PID-XXXXXXXX.tmp-NAME`` entry behind
(removed on the way out when Python still runs, and by the next write to the
same name when the process that made it is gone: killed, out of memory, power
lost), never a half-written output under the real name; an existing output is
replaced only when asked,
and of two runs writing the same new output at once, the second to finish
is refused instead of replacing the first.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path


class OutputExistsError(FileExistsError):
    """The output path already exists and replacing it was not asked for."""

    def __init__(self, path: Path):
        super().__init__(f"{path} already exists (pass overwrite=True to replace it)")
        self.path = Path(path)


def check_new(target: str | Path, *, overwrite: bool = False) -> Path:
    """Raise :class:`OutputExistsError` if ``target`` exists (an empty folder is fine)."""
    target = Path(target)
    if overwrite or not (target.exists() or target.is_symlink()):
        return target
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        return target
    raise OutputExistsError(target)


def _temporary_sibling(target: Path) -> Path:
    # The real name stays at the end so writers that infer a format or a
    # compression from the extension (pandas: ``.csv.gz``) still see it; the
    # process id lets a later run tell a dead run's leftovers from a live one's.
    return target.with_name(f".{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp-{target.name}")


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
    for entry in target.parent.glob(f".*.tmp-{glob_escape(target.name)}"):
        pid = entry.name[1:].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            _remove(entry)


def _replace(staged: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        old = _temporary_sibling(target)  # the replaced output, removed once the new one is in place
        target.rename(old)
        staged.rename(target)
        shutil.rmtree(old, ignore_errors=True)
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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def _staged(target: Path, *, folder: bool, overwrite: bool):
    """The staging both public helpers share: a temporary sibling, removed on failure, renamed on success
    (without ``overwrite``, only if nothing took ``target``'s name meanwhile)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    staged = _temporary_sibling(target)
    if folder:
        staged.mkdir()
    try:
        yield staged
    except BaseException:
        _remove(staged)
        raise
    if overwrite:
        _replace(staged, target)
    else:
        _place_new(staged, target)


@contextmanager
def staged_folder(target: str | Path, *, overwrite: bool = False):
    """Yield an empty temporary folder that replaces ``target`` when the block succeeds.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with staged_folder(root / "run") as tmp:
    ...     _ = (tmp / "a.txt").write_text("hi")
    >>> sorted(p.name for p in root.iterdir()), (root / "run" / "a.txt").read_text()
    (['run'], 'hi')
    """
    with _staged(check_new(target, overwrite=overwrite), folder=True, overwrite=overwrite) as staged:
        yield staged


@contextmanager
def staged_file(target: str | Path, *, overwrite: bool = False):
    """Yield a temporary path beside ``target``; it is renamed to ``target`` when the block succeeds."""
    target = check_new(target, overwrite=overwrite)
    if target.is_dir() and not target.is_symlink():
        raise IsADirectoryError(f"{target} is a folder, not a file name")
    with _staged(target, folder=False, overwrite=overwrite) as staged:
        yield staged
