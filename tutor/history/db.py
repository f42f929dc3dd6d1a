"""Opening the history database: permissions, WAL, migrations (the tables are in `schema`) and
corruption recovery.

Every writer uses short `BEGIN IMMEDIATE` transactions with a busy timeout, and `retry_locked`
tries again the few that still find the database locked (taking a transaction, or opening the
database), so several `tutor` processes can save at once. A file SQLite cannot read is moved
aside (`history.sqlite3.corrupt-<timestamp>`) and a fresh database takes its place; the caller
is told where the old one went.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from tutor.errors import StoreError
from tutor.history.schema import MIGRATIONS, SCHEMA_VERSION
from tutor.paths import data_dir

FILE_NAME = "history.sqlite3"
BUSY_TIMEOUT_MS = 5000  # how long one statement waits for another process's write lock
LOCKED_RETRIES = 5  # then a few more tries, for the cases SQLite's busy handler skips
_SIDE_FILES = ("-wal", "-shm")
T = TypeVar("T")


def history_path() -> Path:
    return data_dir() / FILE_NAME


class DamagedText(str):
    """A TEXT value that was not valid UTF-8 in the database (written by another program, or
    hit by a bad disk): readable, with U+FFFD where bytes could not be decoded."""


def decode_text(data: bytes) -> str:
    """The connection's text factory: one bad value marks itself instead of failing the query
    it is in (SQLite's default raises, so one damaged answer made a whole lesson unreadable)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return DamagedText(data.decode("utf-8", errors="replace"))


def is_locked(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def retry_locked(action: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
    """`action()`, tried again while it finds the database locked: LOCKED_RETRIES more times,
    50 ms, 100 ms ... apart. The last try's error propagates, as does any other error."""
    for attempt in range(LOCKED_RETRIES):
        try:
            return action()
        except sqlite3.Error as exc:
            if not is_locked(exc):
                raise
        sleep(0.05 * (attempt + 1))
    return action()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One short write transaction, taken with BEGIN IMMEDIATE so it never deadlocks on upgrade.

    Only the BEGIN is retried: once the write lock is held, the body cannot meet a lock.
    """
    retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
            conn.execute("ROLLBACK")
        raise


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite gives -wal/-shm the same mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.text_factory = decode_text
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"database is locked (journal mode stayed {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no commit
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{path} was written by a newer tutor (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade tutor to read it"
            )
        if version < SCHEMA_VERSION:
            with transaction(conn):
                version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
                for migrate in MIGRATIONS[version:]:
                    migrate(conn)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]  # ~15 ms for 30 MB
        if problem != "ok":
            raise _Damaged(f"database disk image is malformed: {' '.join(str(problem).split())}")
    except BaseException:
        conn.close()
        raise
    for suffix in ("", *_SIDE_FILES):  # also a file someone else created first
        try:
            os.chmod(f"{path}{suffix}", 0o600)
        except OSError:
            pass
    return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A database in a folder we cannot write (a read-only file system, a backup), read as it is.

    WAL readers need a -shm file that SQLite cannot create there, so it is opened immutable:
    nobody can change it meanwhile, or the folder would be writable.
    """
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.text_factory = decode_text
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the history database {path} (its folder is read-only): {exc}") from None
    if version != SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"cannot read the history database {path}: it has schema {version}, this tutor reads "
            f"{SCHEMA_VERSION}, and its folder is read-only"
        )
    return conn


def connect(
    path: Path | None = None,
    *,
    create: bool = True,
    notify: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> sqlite3.Connection | None:
    """Open (and create or migrate) the history database.

    Args:
        path: the database file; `history_path()` when None.
        create: when False and there is no database yet, return None instead of creating one.
            A reader (create False) of a database in a read-only folder gets it read-only.
        notify: told, in one line, when a damaged database was moved aside.
        clock: names the backup of a damaged database.

    Raises:
        StoreError: the database cannot be created, or was written by a newer tutor.
    """
    path = path if path is not None else history_path()
    if not create and not path.exists():
        return None
    if not create and not _writable_folder(path):
        return _connect_read_only(path)

    def open_once() -> sqlite3.Connection:
        _create_private(path)
        return _connect(path)

    for _ in range(LOCKED_RETRIES + 1):  # a damaged file moved aside is opened again, fresh
        try:
            return retry_locked(open_once)
        except sqlite3.Error as exc:
            if is_locked(exc):
                raise StoreError(f"the history database {path} stayed locked by another tutor; try again") from None
            if not _damaged(path, exc):
                if not _writable_folder(path):
                    raise StoreError(f"cannot open the history database {path}: its folder is read-only") from None
                raise StoreError(f"cannot open the history database {path}: {exc}") from None
            try:
                backup = _move_aside(path, exc, clock)
            except OSError as err:  # a damaged file in a read-only folder: it cannot be moved either
                raise StoreError(f"cannot open the history database {path}: {err.strerror or err}") from None
            if backup is not None and notify is not None:
                notify(f"the history database could not be read ({exc}); it was moved to {backup} and a new one started")
        except OSError as exc:
            raise StoreError(f"cannot open the history database {path}: {exc.strerror or exc}") from None
    raise StoreError(f"cannot open the history database {path}")  # pragma: no cover


class _Damaged(sqlite3.DatabaseError):
    """`PRAGMA quick_check` found a problem (it reports them as rows, not as errors)."""


def is_damaged(exc: sqlite3.Error) -> bool:
    """The file is not a database, or SQLite found it corrupt."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return isinstance(exc, _Damaged) or name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT"))


def _damaged(path: Path, exc: sqlite3.Error) -> bool:
    """Whether the file itself is bad (not a database, corrupt, unreadable), as opposed to a
    problem that moving it would not fix (disk full, I/O error, a read-only folder)."""
    if is_damaged(exc):
        return True
    name = getattr(exc, "sqlite_errorname", "") or ""
    return (
        name.startswith("SQLITE_CANTOPEN")
        and path.exists()
        and not os.access(path, os.R_OK | os.W_OK)
        and _writable_folder(path)  # else (a read-only file system) a fresh file cannot help either
    )


def _writable_folder(path: Path) -> bool:
    return os.access(path.parent, os.W_OK)


def _move_aside(path: Path, exc: sqlite3.Error, clock: Callable[[], float]) -> Path | None:
    """Rename a damaged database (with its -wal/-shm) out of the way, under a lock file so that
    two processes finding the same damage do not move each other's fresh database.

    Returns the backup's path, or None when another process already replaced the file.
    """
    lock = path.with_name(path.name + ".lock")
    with _exclusive(lock):
        try:
            _create_private(path)
            _connect(path).close()
            return None  # repaired by another process while we waited for the lock
        except sqlite3.Error as again:
            if not _damaged(path, again):
                return None  # locked or failing for another reason: not ours to move
        except OSError:
            pass
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock()))
        backup = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while backup.exists():
            backup = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(path, backup)
            for suffix in _SIDE_FILES:
                side = Path(f"{path}{suffix}")
                if side.exists():
                    os.replace(side, Path(f"{backup}{suffix}"))
        except OSError as err:
            raise StoreError(
                f"the history database {path} cannot be read ({exc}) nor moved aside "
                f"({err.strerror or err}); move or delete it by hand"
            ) from None
        return backup


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the race it guards against is rare
        yield
        return
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
