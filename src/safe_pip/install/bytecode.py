"""Bytecode: the target interpreter compiles the plan's modules from the verified wheels
while they are still being inspected, and writes each module's bytecode once the module
is written.

On large plans compiling is most of an install's time, and it used to wait for the files
to be written. One process of the *target* interpreter (its magic number and cache tag)
compiles with a helper process per core. A wheel's modules are compiled from the archive
as soon as the wheel has passed inspection: compiling runs none of the code, and no byte
of it is written yet. Once the installer has written a module, its bytecode goes next to
it with the module's own timestamp and size in the header, exactly what ``compileall``
would write then. A module with nothing compiled ahead (its archive member not known) is
compiled from the written file.

The interpreter runs with ``-I -S``: the wheels just written may contain ``.pth`` files,
which must not run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from safe_pip.install.inspection import WheelInfo
from safe_pip.target import TargetEnvironment

__all__ = ["COMPILED_SCHEMES", "Compiler", "CompilerFailed", "compiling", "pyc_path"]

logger = logging.getLogger(__name__)

COMPILED_SCHEMES = ("purelib", "platlib")
"""The schemes whose modules get bytecode, as pip compiles them."""

# Runs inside the target interpreter, with a staging directory as its argument. Each stdin
# line is ["ahead", [wheel, [[key, member, dfile], ...]]] (compile these members of a
# wheel into staged bytecode) or ["written", [[key or null, path, ddir], ...]] (these
# modules are written: give each its bytecode, from the staged one or else from the file).
# At the end of input it prints the .pyc path (or null) of every written module, in order.
_COMPILE = r"""
import compileall, importlib.util, json, marshal, os, shutil, sys, zipfile
from concurrent.futures import Future, ThreadPoolExecutor
MAGIC = importlib.util.MAGIC_NUMBER
# py_compile's own choice: hash-based bytecode for reproducible builds.
HASHED = bool(os.environ.get("SOURCE_DATE_EPOCH"))
staging = sys.argv[1]

def ahead(wheel, jobs):
    staged = []
    with zipfile.ZipFile(wheel) as archive:
        for key, member, dfile in jobs:
            try:
                source = archive.read(member)
                code = compile(source, dfile, "exec", dont_inherit=True)
            except Exception:
                staged.append(None)
                continue
            if HASHED:
                head = MAGIC + (3).to_bytes(4, "little") + importlib.util.source_hash(source)
            else:
                head = MAGIC + bytes(12)
            path = os.path.join(staging, key)
            with open(path, "wb") as out:
                out.write(head + marshal.dumps(code))
            staged.append(path)
    return staged

def from_files(jobs):
    done = []
    for path, ddir in jobs:
        ok = compileall.compile_file(path, ddir=ddir, force=True, quiet=2)
        done.append(importlib.util.cache_from_source(path) if ok else None)
    return done

def place(compiled, offset, path):
    staged = compiled.result()[offset]
    if staged is None:
        return None
    source = os.stat(path)
    if not HASHED:
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
        partial = "{}.{}".format(pyc, os.getpid())
        shutil.copy(staged, partial)
        os.replace(partial, pyc)
        os.unlink(staged)
    return pyc

class Inline:
    def submit(self, function, *args):
        future = Future()
        future.set_result(function(*args))
        return future

pool = Inline()
if (os.cpu_count() or 1) > 1 and sys.platform.startswith("linux"):
    try:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        pool = ProcessPoolExecutor(mp_context=multiprocessing.get_context("fork"))
    except (ImportError, OSError):
        pass
placer = ThreadPoolExecutor(1)
compiled = {}
results = []
for line in sys.stdin:
    kind, body = json.loads(line)
    if kind == "ahead":
        wheel, jobs = body
        for start in range(0, len(jobs), 32):
            chunk = jobs[start:start + 32]
            future = pool.submit(ahead, wheel, chunk)
            for offset, job in enumerate(chunk):
                compiled[job[0]] = (future, offset)
        continue
    disk = []
    for key, path, ddir in body:
        if key in compiled:
            future, offset = compiled.pop(key)
            results.append((placer.submit(place, future, offset, path), None))
        else:
            results.append(None)
            disk.append((len(results) - 1, path, ddir))
    for start in range(0, len(disk), 32):
        chunk = disk[start:start + 32]
        future = pool.submit(from_files, [(path, ddir) for _, path, ddir in chunk])
        for offset, (index, _, _) in enumerate(chunk):
            results[index] = (future, offset)
print(json.dumps([f.result() if o is None else f.result()[o] for f, o in results]))
"""


class CompilerFailed(Exception):
    """The compiler process failed; the bytecode it was asked for may be missing."""


def pyc_path(source: Path, cache_tag: str) -> Path:
    """``importlib.util.cache_from_source`` for the target interpreter's cache tag."""
    return source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"


class Compiler:
    """The target interpreter's compiler for one plan. Use :func:`compiling` to get one."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self._ahead: dict[tuple[str, str, str], str] = {}
        self.written: list[Path] = []
        """Every module :meth:`modules_written` was told of, in order."""

    def compile_wheel(
        self, project: str, wheel: Path, info: WheelInfo, scheme_dirs: Mapping[str, str]
    ) -> None:
        """Compile an inspected wheel's modules before they are written, given the
        installer's scheme directories (which the bytecode names as the modules' home)."""
        jobs = []
        for entry in info.entries:
            if (
                entry.member is None
                or entry.scheme not in COMPILED_SCHEMES
                or not entry.path.endswith(".py")
            ):
                continue
            key = str(len(self._ahead))
            self._ahead[(project, entry.scheme, entry.path)] = key
            jobs.append([key, entry.member, str(Path(scheme_dirs[entry.scheme]) / entry.path)])
        if jobs:
            self._send(["ahead", [str(wheel), jobs]])

    def modules_written(self, project: str, modules: Sequence[tuple[Path, str, str, str]]) -> None:
        """Give written modules their bytecode: ``(written file, directory the bytecode
        names, scheme, path in the scheme)`` of each."""
        jobs = []
        for real, ddir, scheme, path in modules:
            jobs.append([self._ahead.pop((project, scheme, path), None), str(real), ddir])
            self.written.append(real)
        if jobs:
            self._send(["written", jobs])

    def _send(self, message: list[object]) -> None:
        stdin = self._process.stdin
        if stdin is None:
            return
        try:
            stdin.write(json.dumps(message) + "\n")
            stdin.flush()
        except OSError:
            pass  # the compiler died; finish() reports it

    def finish(self) -> list[Path | None]:
        """Wait for the compiler: the bytecode file of each written module, in order.

        :raises CompilerFailed: it failed.
        """
        try:
            stdout, stderr = self._process.communicate()
            if self._process.returncode != 0:
                raise CompilerFailed(stderr.strip() or f"exit status {self._process.returncode}")
            results = json.loads(stdout)
        except (OSError, ValueError) as exc:
            raise CompilerFailed(str(exc)) from exc
        if not isinstance(results, list) or len(results) != len(self.written):
            msg = "the compiler's answer does not match what it was asked"
            raise CompilerFailed(msg)
        return [Path(pyc) if pyc else None for pyc in results]

    def stop(self) -> None:
        """Kill the compiler and its helpers, so nothing is written afterwards."""
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        elif self._process.poll() is None:
            self._process.kill()
        self._process.communicate()


@contextmanager
def compiling(target: TargetEnvironment) -> Iterator[Compiler | None]:
    """A compiler for the target; ``None`` when it has no bytecode cache or cannot start.
    Stopped on exit unless :meth:`Compiler.finish` ran."""
    if not target.cache_tag:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="safe-pip-bytecode-") as staging:
        try:
            process = subprocess.Popen(
                [str(target.python), "-I", "-S", "-c", _COMPILE, staging],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                # Its own process group: stop() must reach the helper processes it forks,
                # which hold its output pipes open for as long as they live.
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            logger.warning(
                "bytecode compilation is unavailable (%s); modules will compile on first import",
                exc,
            )
            yield None
            return
        compiler = Compiler(process)
        try:
            yield compiler
        finally:
            if process.returncode is None:
                compiler.stop()
