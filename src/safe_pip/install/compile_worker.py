"""The compiler :mod:`safe_pip.install.bytecode` starts: run by the target interpreter, by
path and with ``-I -S``, with a staging directory as its argument.

Each line of standard input is ``["ahead", [wheel, [[key, member, dfile], ...]]]`` (compile
these members of a wheel into staged bytecode) or ``["written", [[key or null, path, ddir],
...]]`` (these modules are written: give each its bytecode, from the staged one or else from
the file). At the end of input it prints the ``.pyc`` path (or null) of every written
module, in order. A first line ``["store", [root, key]]`` names the bytecode store
(:mod:`safe_pip.install.bytecode_store`) and its key, in hex: members are then taken from
it where it holds them, and put in it once compiled.

The target interpreter has neither safe-pip nor its dependencies, and may be as old as
Python 3.7: this module imports only the standard library and uses nothing newer. Its
paths are strings: pathlib's parsing of each was a fifth of the time of taking a module's
code from the store.
"""

from __future__ import annotations

import os
import sys

# Run by path, a script has its directory first on sys.path: safe-pip's own modules, which
# nothing here may import. ``-I`` keeps it off, but this must not depend on the flags. Only
# what the interpreter has already loaded (os, sys) is used before it is gone.
if (
    __name__ == "__main__"
    and sys.path
    and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__))
):
    del sys.path[0]

import compileall
import contextlib
import hashlib
import hmac
import importlib.util
import json
import marshal
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from typing import TypeAlias

    Compiled: TypeAlias = list[str | None]
    """What one task made of its modules: each a ``.pyc`` path, or ``None``."""

T = TypeVar("T")
J = TypeVar("J")

MAGIC = importlib.util.MAGIC_NUMBER
CHUNK = 32
"""Modules per task for the helper processes."""
MAC_SIZE = 32
"""Bytes of the HMAC-SHA256 that starts each entry of the bytecode store."""

MARK_AFTER = 3600
"""Seconds an entry's last use stays good enough for the trim, which runs at most daily:
marking it writes its inode, for each of the thousands of modules an install takes."""


def header(source: bytes, hashed: bool) -> bytes:
    """The bytecode header for a module's source: hash-based, or with the timestamp and
    size left blank for :func:`place` to fill in from the written file."""
    if hashed:
        return MAGIC + (3).to_bytes(4, "little") + importlib.util.source_hash(source)
    return MAGIC + bytes(12)


def compiled(source: bytes, dfile: str) -> bytes:
    """A module's code, marshalled as a ``.pyc`` holds it after the header."""
    # Named, not passed on at once: marshal flags an object referenced more than once, as
    # py_compile's code object is, and the bytes must be the ones py_compile writes.
    code = compile(source, dfile, "exec", dont_inherit=True)
    return marshal.dumps(code)


class Store(NamedTuple):
    """The bytecode store: each module's code by what determines it, signed with the key,
    so that an entry the store's owner did not write is never used."""

    root: str
    key: bytes

    def compiled(self, source: bytes, dfile: str) -> bytes:
        """:func:`compiled`, taken from the store where it holds the module."""
        named = dfile.encode("utf-8", "surrogateescape")
        digest = hashlib.sha256(MAGIC + named + b"\0" + source).digest()
        entry = os.path.join(self.root, MAGIC.hex(), digest.hex()[:2], digest.hex())
        body = self.load(entry, digest)
        if body is None:
            body = compiled(source, dfile)
            self.save(entry, digest, body)
        return body

    def load(self, entry: str, digest: bytes) -> bytes | None:
        """An entry's code, if it is there and signed with the key; marked as used unless
        it was within :data:`MARK_AFTER`."""
        try:
            with open(entry, "rb") as stream:
                signed = stream.read()
                used = os.fstat(stream.fileno()).st_mtime
        except OSError:
            return None
        mac, body = signed[:MAC_SIZE], signed[MAC_SIZE:]
        if not body or not hmac.compare_digest(mac, self.sign(digest, body)):
            return None
        if time.time() - used > MARK_AFTER:
            with contextlib.suppress(OSError):  # a read-only store is used all the same
                os.utime(entry)
        return body

    def save(self, entry: str, digest: bytes, body: bytes) -> None:
        """Put a module's code in the store, whole or not at all: another install may be
        reading the entry. A store that cannot be written is left as it is."""
        directory = os.path.dirname(entry)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        except OSError:
            return
        try:
            # Not fsynced: an entry a power loss truncates fails its check and is rewritten.
            with os.fdopen(fd, "wb") as stream:
                stream.write(self.sign(digest, body) + body)
            os.replace(temp, entry)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)

    def sign(self, digest: bytes, body: bytes) -> bytes:
        """The MAC of an entry's code, bound to the module it was compiled from."""
        return hmac.new(self.key, digest + body, hashlib.sha256).digest()


def compile_ahead(
    staging: str, wheel: str, hashed: bool, store: Store | None, jobs: Sequence[Sequence[str]]
) -> Compiled:
    """Compile ``[key, member, dfile]`` members of a wheel into ``staging/key``; ``None``
    for a member that does not compile."""
    staged: Compiled = []
    archive = _opened(wheel)
    for key, member, dfile in jobs:
        try:
            source = archive.read(member)
            body = compiled(source, dfile) if store is None else store.compiled(source, dfile)
        except Exception:
            staged.append(None)
            continue
        path = os.path.join(staging, key)
        with open(path, "wb") as stream:
            stream.write(header(source, hashed) + body)
        staged.append(path)
    return staged


_OPENED: dict[tuple[str, int, int, int, int], zipfile.ZipFile] = {}
"""The wheel this process last compiled from, by its path and file's identity."""


def _opened(wheel: str) -> zipfile.ZipFile:
    """The wheel, left open between a process's tasks, which come a wheel at a time:
    reading a large archive's directory again for each chunk of modules was a tenth of the
    time of compiling them. Only the last one is kept, and a file rewritten under the same
    name is opened afresh."""
    found = os.stat(wheel)
    identity = (wheel, found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size)
    archive = _OPENED.get(identity)
    if archive is None:
        for other in _OPENED.values():
            other.close()
        _OPENED.clear()
        archive = _OPENED[identity] = zipfile.ZipFile(wheel)
    return archive


def compile_files(jobs: Sequence[Sequence[str]]) -> Compiled:
    """Compile written ``[path, ddir]`` modules, as ``compileall`` does."""
    done: Compiled = []
    for path, ddir in jobs:
        ok = compileall.compile_file(path, ddir=ddir, force=True, quiet=2)
        done.append(importlib.util.cache_from_source(path) if ok else None)
    return done


def place(compiled: Future[Compiled], offset: int, path: str, hashed: bool) -> str | None:
    """Move a module's staged bytecode next to its written file, stamped with the file's
    timestamp and size; ``None`` if it did not compile."""
    staged = compiled.result()[offset]
    if staged is None:
        return None
    source = os.stat(path)
    if not hashed:
        with open(staged, "r+b") as stream:
            stream.seek(8)
            stream.write((int(source.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little"))
            stream.write((source.st_size & 0xFFFFFFFF).to_bytes(4, "little"))
    os.chmod(staged, (source.st_mode | 0o200) & 0o666)
    pyc = importlib.util.cache_from_source(path)
    os.makedirs(os.path.dirname(pyc), exist_ok=True)
    try:
        os.replace(staged, pyc)
    except OSError:  # the staging directory is on another file system
        copied = f"{pyc}.{os.getpid()}"
        shutil.copy(staged, copied)
        os.replace(copied, pyc)
        os.unlink(staged)
    return pyc


class Inline(Executor):
    """Runs each task at once, where no helper process can be had."""

    def submit(self, __fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        future.set_result(__fn(*args, **kwargs))
        return future


def helpers() -> Executor:
    """A helper process per core; compiling inline where there is one core, or where
    forking is not safe (outside Linux)."""
    if (os.cpu_count() or 1) <= 1 or not sys.platform.startswith("linux"):
        return Inline()
    try:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(mp_context=multiprocessing.get_context("fork"))
    except (ImportError, OSError):
        return Inline()


class Session:
    """One plan's compiling: the messages of standard input, then the answer."""

    def __init__(self, staging: str, hashed: bool, pool: Executor, placer: Executor) -> None:
        self._staging = staging
        self._hashed = hashed
        self._pool = pool
        self._placer = placer
        self._store: Store | None = None
        self._compiled: dict[str, tuple[Future[Compiled], int]] = {}
        self._answers: list[Callable[[], str | None]] = []

    def handle(self, message: Sequence[Any]) -> None:
        """Act on one message (``["store", ...]``, ``["ahead", ...]`` or ``["written", ...]``)."""
        kind, body = message
        if kind == "store":
            root, key = body
            self._store = Store(root, bytes.fromhex(key))
        elif kind == "ahead":
            wheel, jobs = body
            self.ahead(wheel, jobs)
        else:
            self.written(body)

    def ahead(self, wheel: str, jobs: Sequence[Sequence[str]]) -> None:
        """Compile ``[key, member, dfile]`` members of a wheel, to place once written."""
        work = partial(compile_ahead, self._staging, wheel, self._hashed, self._store)
        tasks = self._in_chunks(work, jobs)
        for index, job in enumerate(jobs):
            self._compiled[job[0]] = tasks[index]

    def written(self, modules: Sequence[tuple[str | None, str, str]]) -> None:
        """Give ``[key or None, path, ddir]`` written modules their bytecode: the bytecode
        compiled ahead under that key, else compiled from the file."""
        pending = [
            (path, ddir, None if key is None else self._compiled.pop(key, None))
            for key, path, ddir in modules
        ]
        disk = [[path, ddir] for path, ddir, staged in pending if staged is None]
        from_disk = iter(self._in_chunks(compile_files, disk))
        for path, _, staged in pending:
            if staged is None:
                future, offset = next(from_disk)
                self._answers.append(partial(_nth, future, offset))
            else:
                future, offset = staged
                placed = self._placer.submit(place, future, offset, path, self._hashed)
                self._answers.append(placed.result)

    def answer(self) -> list[str | None]:
        """The bytecode file of every written module, in order, once all are done."""
        return [answer() for answer in self._answers]

    def _in_chunks(
        self, work: Callable[[list[J]], Compiled], jobs: Sequence[J]
    ) -> list[tuple[Future[Compiled], int]]:
        """Hand ``jobs`` to the helpers a chunk at a time: each job's task and place in it."""
        tasks: list[tuple[Future[Compiled], int]] = []
        for start in range(0, len(jobs), CHUNK):
            chunk = list(jobs[start : start + CHUNK])
            future = self._pool.submit(work, chunk)
            tasks.extend((future, offset) for offset in range(len(chunk)))
        return tasks


def _nth(future: Future[Compiled], offset: int) -> str | None:
    return future.result()[offset]


def main(argv: Sequence[str]) -> int:
    """Compile what standard input asks for; print the bytecode files written."""
    [staging] = argv
    # py_compile's own choice: hash-based bytecode for reproducible builds.
    hashed = bool(os.environ.get("SOURCE_DATE_EPOCH"))
    session = Session(staging, hashed, helpers(), ThreadPoolExecutor(1))
    for line in sys.stdin:
        session.handle(json.loads(line))
    sys.stdout.write(json.dumps(session.answer()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
