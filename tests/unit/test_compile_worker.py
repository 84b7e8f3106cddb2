"""The compiler the target interpreter runs: compiled ahead from the wheel, placed next to
the written module as compileall would write it, in the order asked."""

from __future__ import annotations

import json
import os
import py_compile
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from safe_pip.install import compile_worker
from safe_pip.install.compile_worker import CHUNK, Inline, Session, helpers
from tests.support.bytecode import as_compileall_writes

TIMESTAMP = py_compile.PycInvalidationMode.TIMESTAMP
CHECKED_HASH = py_compile.PycInvalidationMode.CHECKED_HASH


class Counting(Inline):
    """Inline, counting the tasks handed to it."""

    def __init__(self) -> None:
        self.tasks = 0

    def submit(self, __fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        self.tasks += 1
        return super().submit(__fn, *args, **kwargs)


@pytest.fixture
def placer() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


def _session(tmp_path: Path, placer: ThreadPoolExecutor, hashed: bool = False) -> Session:
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    return Session(str(staging), hashed, Inline(), placer)


def _wheel(tmp_path: Path, members: dict[str, str]) -> Path:
    wheel = tmp_path / "alpha-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return wheel


def _written(site: Path, member: str, text: str) -> Path:
    """The module as the installer writes it, after its bytecode was compiled ahead."""
    path = site / member
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("hashed", "mode"), [(False, TIMESTAMP), (True, CHECKED_HASH)])
def test_compiled_ahead_then_placed_as_compileall_writes_it(
    tmp_path: Path, placer: ThreadPoolExecutor, hashed: bool, mode: py_compile.PycInvalidationMode
) -> None:
    text = "value = 1\n"
    wheel = _wheel(tmp_path, {"alpha/core.py": text})
    site = tmp_path / "site"
    source = site / "alpha" / "core.py"
    session = _session(tmp_path, placer, hashed)
    session.handle(["ahead", [str(wheel), [["0", "alpha/core.py", str(source)]]]])
    _written(site, "alpha/core.py", text)
    session.handle(["written", [["0", str(source), str(source.parent)]]])
    [pyc] = session.answer()
    assert pyc == str(source.parent / "__pycache__" / f"core.{sys.implementation.cache_tag}.pyc")
    assert Path(pyc).read_bytes() == as_compileall_writes(source, tmp_path, mode)
    assert not any((tmp_path / "staging").iterdir())


def test_the_bytecode_is_of_the_wheels_member_not_the_file(
    tmp_path: Path, placer: ThreadPoolExecutor
) -> None:
    wheel = _wheel(tmp_path, {"alpha/__init__.py": "value = 'from the wheel'\n"})
    source = _written(tmp_path / "site", "alpha/__init__.py", "value = 'on the disk'\n")
    session = _session(tmp_path, placer)
    session.ahead(str(wheel), [["0", "alpha/__init__.py", str(source)]])
    session.written([("0", str(source), str(source.parent))])
    [pyc] = session.answer()
    assert pyc is not None
    assert b"from the wheel" in Path(pyc).read_bytes()


def test_a_module_that_does_not_compile_gets_none(
    tmp_path: Path, placer: ThreadPoolExecutor
) -> None:
    wheel = _wheel(tmp_path, {"broken.py": "def (:\n", "fine.py": "x = 1\n"})
    site = tmp_path / "site"
    broken = _written(site, "broken.py", "def (:\n")
    fine = _written(site, "fine.py", "x = 1\n")
    session = _session(tmp_path, placer)
    session.ahead(str(wheel), [["0", "broken.py", str(broken)], ["1", "fine.py", str(fine)]])
    session.written([("0", str(broken), str(site)), ("1", str(fine), str(site))])
    missing, compiled = session.answer()
    assert missing is None
    assert compiled is not None and Path(compiled).is_file()


def test_modules_not_compiled_ahead_are_compiled_from_the_file_in_the_order_asked(
    tmp_path: Path, placer: ThreadPoolExecutor
) -> None:
    site = tmp_path / "site"
    wheel = _wheel(tmp_path, {"ahead.py": "a = 1\n"})
    ahead = _written(site, "ahead.py", "a = 1\n")
    plain = _written(site, "plain.py", "b = 2\n")
    broken = _written(site, "broken.py", "def (:\n")
    session = _session(tmp_path, placer)
    session.ahead(str(wheel), [["0", "ahead.py", str(ahead)]])
    # An unknown key is compiled from the file too, as is a key already used.
    session.written(
        [
            (None, str(plain), str(site)),
            ("0", str(ahead), str(site)),
            ("9", str(broken), str(site)),
            ("0", str(plain), str(site)),
        ]
    )
    answer = session.answer()
    tag = sys.implementation.cache_tag
    pycache = site / "__pycache__"
    assert answer == [
        str(pycache / f"plain.{tag}.pyc"),
        str(pycache / f"ahead.{tag}.pyc"),
        None,
        str(pycache / f"plain.{tag}.pyc"),
    ]
    assert (pycache / f"plain.{tag}.pyc").read_bytes() == as_compileall_writes(
        plain, tmp_path, TIMESTAMP
    )


def test_modules_go_to_the_helpers_a_chunk_at_a_time(
    tmp_path: Path, placer: ThreadPoolExecutor
) -> None:
    site = tmp_path / "site"
    modules = [_written(site, f"m{number}.py", f"n = {number}\n") for number in range(CHUNK + 1)]
    pool = Counting()
    session = Session(str(tmp_path), False, pool, placer)
    session.written([(None, str(module), str(site)) for module in modules])
    answer = session.answer()
    assert pool.tasks == 2
    assert [Path(str(pyc)).name.split(".")[0] for pyc in answer] == [m.stem for m in modules]


def test_staged_bytecode_on_another_file_system_is_copied(
    tmp_path: Path, placer: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _wheel(tmp_path, {"core.py": "x = 1\n"})
    source = _written(tmp_path / "site", "core.py", "x = 1\n")
    session = _session(tmp_path, placer)
    staging = tmp_path / "staging"
    real_replace = Path.replace

    def across_devices(self: Path, target: Path) -> Path:
        if self.parent == staging:
            raise OSError(18, "Invalid cross-device link")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", across_devices)
    session.ahead(str(wheel), [["0", "core.py", str(source)]])
    session.written([("0", str(source), str(source.parent))])
    [pyc] = session.answer()
    assert pyc is not None
    assert Path(pyc).read_bytes() == as_compileall_writes(source, tmp_path, TIMESTAMP)
    assert not any(staging.iterdir())
    assert [entry.name for entry in Path(pyc).parent.iterdir()] == [Path(pyc).name]


def test_one_core_compiles_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert isinstance(helpers(), Inline)


def test_run_by_path_with_a_helper_process_per_core(tmp_path: Path) -> None:
    """How bytecode.compiling runs it: ``-I -S``, messages on standard input."""
    count = 2 * CHUNK + 1
    members = {f"pkg/m{number}.py": f"n = {number}\n" for number in range(count)}
    wheel = _wheel(tmp_path, members)
    site = tmp_path / "site"
    jobs = [[str(n), f"pkg/m{n}.py", str(site / f"pkg/m{n}.py")] for n in range(count)]
    written = [[job[0], job[2], str(site / "pkg")] for job in jobs]
    for job in jobs:
        _written(site, job[1], members[job[1]])
    staging = tmp_path / "staging"
    staging.mkdir()
    messages = [["ahead", [str(wheel), jobs]], ["written", written]]
    completed = subprocess.run(
        [sys.executable, "-I", "-S", compile_worker.__file__, str(staging)],
        input="".join(json.dumps(message) + "\n" for message in messages),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer = json.loads(completed.stdout)
    tag = sys.implementation.cache_tag
    assert answer == [str(site / "pkg" / "__pycache__" / f"m{n}.{tag}.pyc") for n in range(count)]
    assert all(Path(pyc).is_file() for pyc in answer)
