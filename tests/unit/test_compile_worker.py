"""The compiler the target interpreter runs: compiled ahead from the wheel, placed next to
the written module as compileall would write it, in the order asked."""

from __future__ import annotations

import hashlib
import hmac
import json
import marshal
import os
import py_compile
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from safe_pip.install import compile_worker
from safe_pip.install.compile_worker import CHUNK, MAGIC, Inline, Session, helpers
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


def _send(session: Session, kind: str, body: object) -> None:
    """Hand the session a message as it arrives on standard input: decoded JSON, whose
    strings are never interned as a literal may be (marshal writes the two differently)."""
    session.handle(json.loads(json.dumps([kind, body])))


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
    _send(session, "ahead", [str(wheel), [["0", "alpha/core.py", "alpha/core.py"]]])
    _written(site, "alpha/core.py", text)
    _send(session, "written", [["0", str(source), "alpha"]])
    [pyc] = session.answer()
    assert pyc == str(source.parent / "__pycache__" / f"core.{sys.implementation.cache_tag}.pyc")
    assert Path(pyc).read_bytes() == as_compileall_writes(source, site, tmp_path, mode)
    assert not any((tmp_path / "staging").iterdir())


def test_the_bytecode_is_of_the_wheels_member_not_the_file(
    tmp_path: Path, placer: ThreadPoolExecutor
) -> None:
    wheel = _wheel(tmp_path, {"alpha/__init__.py": "value = 'from the wheel'\n"})
    source = _written(tmp_path / "site", "alpha/__init__.py", "value = 'on the disk'\n")
    session = _session(tmp_path, placer)
    session.ahead(str(wheel), [["0", "alpha/__init__.py", "alpha/__init__.py"]])
    session.written([("0", str(source), "alpha")])
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
    session.ahead(str(wheel), [["0", "broken.py", "broken.py"], ["1", "fine.py", "fine.py"]])
    session.written([("0", str(broken), ""), ("1", str(fine), "")])
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
    session.ahead(str(wheel), [["0", "ahead.py", "ahead.py"]])
    # An unknown key is compiled from the file too, as is a key already used.
    session.written(
        [
            (None, str(plain), ""),
            ("0", str(ahead), ""),
            ("9", str(broken), ""),
            ("0", str(plain), ""),
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
        plain, site, tmp_path, TIMESTAMP
    )


def test_modules_go_to_the_helpers_a_chunk_at_a_time(
    tmp_path: Path, placer: ThreadPoolExecutor
) -> None:
    site = tmp_path / "site"
    modules = [_written(site, f"m{number}.py", f"n = {number}\n") for number in range(CHUNK + 1)]
    pool = Counting()
    session = Session(str(tmp_path), False, pool, placer)
    session.written([(None, str(module), "") for module in modules])
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
    _send(session, "ahead", [str(wheel), [["0", "core.py", "core.py"]]])
    _send(session, "written", [["0", str(source), ""]])
    [pyc] = session.answer()
    assert pyc is not None
    expected = as_compileall_writes(source, source.parent, tmp_path, TIMESTAMP)
    assert Path(pyc).read_bytes() == expected
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
    jobs = [[str(n), f"pkg/m{n}.py", f"pkg/m{n}.py"] for n in range(count)]
    written = [[job[0], str(site / job[2]), "pkg"] for job in jobs]
    for job in jobs:
        _written(site, job[1], members[job[1]])
    staging = tmp_path / "staging"
    staging.mkdir()
    store = tmp_path / "store"
    messages = [
        ["store", [str(store), KEY.hex()]],
        ["ahead", [str(wheel), jobs]],
        ["written", written],
    ]
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
    # The helper processes put each module in the store.
    for n, pyc in enumerate(answer):
        body = Path(pyc).read_bytes()[16:]
        source = members[f"pkg/m{n}.py"].encode()
        assert _entry(store, source, f"pkg/m{n}.py").read_bytes() == _signed(
            KEY, source, f"pkg/m{n}.py", body
        )


KEY = bytes(range(32))
SOURCE = b"value = 'from the source'\n"


def _digest(source: bytes, dfile: str) -> bytes:
    return hashlib.sha256(MAGIC + dfile.encode() + b"\0" + source).digest()


def _entry(store: Path, source: bytes, dfile: str) -> Path:
    """Where the store keeps a module: ``<magic>/<digest[:2]>/<digest>``."""
    name = _digest(source, dfile).hex()
    return store / MAGIC.hex() / name[:2] / name


def _signed(key: bytes, source: bytes, dfile: str, body: bytes) -> bytes:
    """An entry: the HMAC-SHA256 of the module's digest and its code, then the code."""
    return hmac.new(key, _digest(source, dfile) + body, hashlib.sha256).digest() + body


def _marshalled(text: str, dfile: str) -> bytes:
    code = compile(text, dfile, "exec", dont_inherit=True)
    return marshal.dumps(code)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The dfile of every module the worker compiles (in this process)."""
    made: list[str] = []
    real = compile_worker.compiled

    def counted(source: bytes, dfile: str) -> bytes:
        made.append(dfile)
        return real(source, dfile)

    monkeypatch.setattr(compile_worker, "compiled", counted)
    return made


def _compile_with_store(tmp_path: Path, store: Path, source: bytes = SOURCE) -> bytes:
    """Install ``alpha/core.py`` into a new site with the store: its bytecode."""
    wheel = _wheel(tmp_path, {"alpha/core.py": source.decode()})
    site = Path(tempfile.mkdtemp(dir=tmp_path))
    module = _written(site, "alpha/core.py", source.decode())
    with ThreadPoolExecutor(1) as placer:
        session = _session(site, placer)
        _send(session, "store", [str(store), KEY.hex()])
        _send(session, "ahead", [str(wheel), [["0", "alpha/core.py", "alpha/core.py"]]])
        _send(session, "written", [["0", str(module), "alpha"]])
        [pyc] = session.answer()
    assert pyc is not None
    return Path(pyc).read_bytes()


class TestStore:
    def test_a_module_compiled_once_is_taken_from_the_store_after(
        self, tmp_path: Path, compiles: list[str]
    ) -> None:
        store = tmp_path / "store"
        first = _compile_with_store(tmp_path, store)
        assert compiles == ["alpha/core.py"]
        entry = _entry(store, SOURCE, "alpha/core.py")
        assert entry.read_bytes() == _signed(KEY, SOURCE, "alpha/core.py", first[16:])
        second = _compile_with_store(tmp_path, store)
        assert compiles == ["alpha/core.py"]
        assert second[16:] == first[16:]

    def test_a_signed_entry_is_used_as_it_is_and_marked_used(
        self, tmp_path: Path, compiles: list[str]
    ) -> None:
        store = tmp_path / "store"
        entry = _entry(store, SOURCE, "alpha/core.py")
        entry.parent.mkdir(parents=True)
        planted = _marshalled("value = 'from the store'\n", "alpha/core.py")
        entry.write_bytes(_signed(KEY, SOURCE, "alpha/core.py", planted))
        os.utime(entry, (1_000_000, 1_000_000))
        assert _compile_with_store(tmp_path, store)[16:] == planted
        assert compiles == []
        assert entry.stat().st_mtime > 1_000_000

    def test_an_entry_used_lately_is_not_marked_again(
        self, tmp_path: Path, compiles: list[str]
    ) -> None:
        # Marking writes the entry's inode: thousands of modules per install, for a trim
        # that runs once a day.
        store = tmp_path / "store"
        _compile_with_store(tmp_path, store)
        entry = _entry(store, SOURCE, "alpha/core.py")
        lately = time.time() - compile_worker.MARK_AFTER / 2
        os.utime(entry, (lately, lately))
        _compile_with_store(tmp_path, store)
        assert compiles == ["alpha/core.py"]
        assert entry.stat().st_mtime == lately

    @pytest.mark.parametrize(
        "tampered",
        [
            pytest.param(
                lambda good, other: _signed(bytes(32), SOURCE, "alpha/core.py", other),
                id="signed-with-another-key",
            ),
            pytest.param(lambda good, other: good[:32] + other, id="code-replaced-mac-left"),
            pytest.param(
                lambda good, other: _signed(KEY, b"other = 1\n", "alpha/core.py", other),
                id="another-modules-entry",
            ),
            pytest.param(lambda good, other: good[:-1], id="truncated"),
            pytest.param(lambda good, other: good[:20], id="short"),
            pytest.param(lambda good, other: good[:32], id="mac-alone"),
            pytest.param(lambda good, other: b"", id="empty"),
        ],
    )
    def test_an_entry_that_fails_its_check_is_compiled_afresh_and_rewritten(
        self,
        tmp_path: Path,
        compiles: list[str],
        tampered: Callable[[bytes, bytes], bytes],
    ) -> None:
        store = tmp_path / "store"
        good = _entry(store, SOURCE, "alpha/core.py")
        body = _marshalled(SOURCE.decode(), "alpha/core.py")
        other = _marshalled("value = 'planted'\n", "alpha/core.py")
        good.parent.mkdir(parents=True)
        good.write_bytes(tampered(_signed(KEY, SOURCE, "alpha/core.py", body), other))
        pyc = _compile_with_store(tmp_path, store)
        assert compiles == ["alpha/core.py"]
        assert b"from the source" in pyc
        assert b"planted" not in pyc
        assert good.read_bytes() == _signed(KEY, SOURCE, "alpha/core.py", pyc[16:])

    def test_changed_source_is_another_entry(self, tmp_path: Path, compiles: list[str]) -> None:
        store = tmp_path / "store"
        _compile_with_store(tmp_path, store)
        _compile_with_store(tmp_path, store, b"value = 'changed'\n")
        assert compiles == ["alpha/core.py", "alpha/core.py"]
        assert len([entry for entry in store.rglob("*") if entry.is_file()]) == 2

    def test_a_store_that_cannot_be_used_costs_nothing_but_the_saving(
        self, tmp_path: Path, compiles: list[str]
    ) -> None:
        store = tmp_path / "store"
        store.write_text("a file where the store should be")
        pyc = _compile_with_store(tmp_path, store)
        assert compiles == ["alpha/core.py"]
        assert pyc[16:] == _marshalled(SOURCE.decode(), "alpha/core.py")
        assert store.read_text() == "a file where the store should be"


def test_a_wheel_is_opened_once_for_all_its_chunks_and_again_once_rewritten(
    tmp_path: Path, placer: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real = zipfile.ZipFile

    def counted(file: Any, *args: Any, **kwargs: Any) -> zipfile.ZipFile:
        opened.append(str(file))
        return real(file, *args, **kwargs)

    members = {f"m{number}.py": f"n = {number}\n" for number in range(2 * CHUNK + 1)}
    wheel = _wheel(tmp_path, members)
    monkeypatch.setattr(zipfile, "ZipFile", counted)
    pool = Counting()
    session = Session(str(tmp_path), False, pool, placer)
    session.ahead(str(wheel), [[str(n), f"m{n}.py", f"m{n}.py"] for n in range(2 * CHUNK + 1)])
    assert (pool.tasks, opened) == (3, [str(wheel)])
    # The same name, other bytes (a test's wheel, or a file replaced): read afresh.
    monkeypatch.setattr(zipfile, "ZipFile", real)
    _wheel(tmp_path, {"m0.py": "n = 'rewritten'\n", "m1.py": "n = 1\n"})
    monkeypatch.setattr(zipfile, "ZipFile", counted)
    source = _written(tmp_path / "site", "m0.py", "n = 'rewritten'\n")
    session.ahead(str(wheel), [["new", "m0.py", "m0.py"]])
    session.written([("new", str(source), "")])
    assert opened == [str(wheel), str(wheel)]
    assert b"rewritten" in Path(str(session.answer()[-1])).read_bytes()
