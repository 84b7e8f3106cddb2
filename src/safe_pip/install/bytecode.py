"""Bytecode: the target interpreter compiles the plan's modules from the verified wheels
while they are still being inspected, and writes each module's bytecode once the module
is written.

On large plans compiling is most of an install's time, and it used to wait for the files
to be written. One process of the *target* interpreter (its magic number and cache tag)
compiles with a helper process per core. A wheel's modules are compiled from the archive
as soon as the wheel has passed inspection: compiling runs none of the code, and no byte
of it is written yet. Once the installer has written a module, its bytecode goes next to
it with the module's own timestamp and size in the header, exactly what ``compileall``
would write then given the scheme as the directory to name (``ddir``). A module with
nothing compiled ahead (its archive member not known) is compiled from the written file.

The bytecode names each module by its path in its scheme (``pkg/mod.py``), not by where
the environment is: the import system puts the real path back into the code it loads
(``_imp._fix_co_filename``), and bytes that do not depend on the environment can come
from the bytecode store (:mod:`safe_pip.install.bytecode_store`), where the compiler
keeps every module it compiles ahead and takes those it has compiled before.

The interpreter runs with ``-I -S``: the wheels just written may contain ``.pth`` files,
which must not run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safe_pip.install.bytecode_store import BytecodeStore
    from safe_pip.install.inspection import WheelInfo
    from safe_pip.target import TargetEnvironment

__all__ = ["COMPILED_SCHEMES", "Compiler", "CompilerFailed", "compiling", "pyc_path"]

logger = logging.getLogger(__name__)

COMPILED_SCHEMES = ("purelib", "platlib")
"""The schemes whose modules get bytecode, as pip compiles them."""

_WORKER = Path(__file__).with_name("compile_worker.py")
"""The compiler the target interpreter runs (:mod:`safe_pip.install.compile_worker`)."""


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

    def compile_wheel(self, project: str, wheel: Path, info: WheelInfo) -> None:
        """Compile an inspected wheel's modules before they are written."""
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
            jobs.append([key, entry.member, entry.path])
        if jobs:
            self._send(["ahead", [str(wheel), jobs]])

    def modules_written(self, project: str, modules: Sequence[tuple[Path, str, str]]) -> None:
        """Give written modules their bytecode: ``(written file, scheme, path in the
        scheme)`` of each."""
        jobs = []
        for real, scheme, path in modules:
            key = self._ahead.pop((project, scheme, path), None)
            jobs.append([key, str(real), posixpath.dirname(path)])
            self.written.append(real)
        if jobs:
            self._send(["written", jobs])

    def use_store(self, store: BytecodeStore) -> None:
        """Take modules compiled before from the store, and put the others in it; before
        anything is compiled. A store whose key cannot be had is not used: it only ever
        saves time."""
        try:
            key = store.key
        except OSError as exc:
            logger.debug("the bytecode store is not used: %s", exc)
            return
        # On standard input, not the command line: any user can read that of any process.
        self._send(["store", [str(store.root), key.hex()]])

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
        """Kill the compiler and its helpers if they still run, so nothing is written
        afterwards, and let go of its pipes."""
        process = self._process
        # Only while it is unreaped: a reaped process's id may already be someone else's.
        if process.returncode is None:
            if os.name == "posix":
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        # Not communicate(): one interrupted while it closed standard input cannot be
        # called again (subprocess marks the exchange begun before it is set up).
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        process.wait()


@contextmanager
def compiling(
    target: TargetEnvironment, store: BytecodeStore | None = None
) -> Iterator[Compiler | None]:
    """A compiler for the target, using ``store`` if given; ``None`` when the target has no
    bytecode cache or the compiler cannot start. Stopped on exit (a no-op once
    :meth:`Compiler.finish` ran); the store is then brought back under its size limit."""
    if not target.cache_tag:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="safe-pip-bytecode-") as staging:
        process = _start(target, staging)
        if process is None:
            yield None
            return
        compiler = Compiler(process)
        if store is not None:
            compiler.use_store(store)
        try:
            yield compiler
        finally:
            compiler.stop()
    if store is not None:
        _evict(store)


def _start(target: TargetEnvironment, staging: str) -> subprocess.Popen[str] | None:
    try:
        return subprocess.Popen(
            [str(target.python), "-I", "-S", str(_WORKER), staging],
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
        return None


def _evict(store: BytecodeStore) -> None:
    try:
        store.evict_if_due()
    except OSError as exc:
        logger.debug("the bytecode store could not be trimmed: %s", exc)
