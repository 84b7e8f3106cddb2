"""End to end: the bytecode store. Each module is compiled once, into bytecode that does not
depend on where it is installed; an entry the store's owner did not sign is never installed;
and installed bytecode behaves as compileall's does once the source changes."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import marshal
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SafePip, Venv, install, make_venv
from tests.support.index import PackageIndex
from tests.support.outcomes import succeeded

TAG = sys.implementation.cache_tag
FILES = {
    "alpha/__init__.py": "from alpha.core import VALUE\n",
    "alpha/core.py": "VALUE = 'from the source'\n\ndef fail():\n    raise ValueError(VALUE)\n",
    "alpha/sub/__init__.py": "",
    "alpha/sub/deep.py": "DEEP = 3\n",
}


@pytest.fixture
def served(index: Callable[..., PackageIndex], wheel: Callable[..., Path]) -> PackageIndex:
    server = index()
    server.add(wheel("alpha", "1.0", files=FILES))
    return server


def _store(safe_pip: SafePip) -> Path:
    return safe_pip.home / "safe-pip-home" / "cache" / "bytecode"


def _bytecode(venv: Venv) -> dict[str, bytes]:
    """Every module's bytecode file, by the module's path in site-packages."""
    found = {}
    for module in FILES:
        source = venv.site_packages / module
        found[module] = Path(importlib.util.cache_from_source(str(source))).read_bytes()
    return found


def _entries(store: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in store.rglob("*") if path.is_file()}


def _entry_of(store: Path, body: bytes) -> Path:
    """The store's entry holding ``body`` (after its 32-byte MAC)."""
    [entry] = [path for path, content in _entries(store).items() if content[32:] == body]
    return entry


@pytest.mark.parametrize("epoch", [None, "1700000000"], ids=["timestamp", "hash"])
def test_environments_anywhere_get_the_same_bytecode_with_the_store_or_without(
    safe_pip: SafePip, served: PackageIndex, tmp_path: Path, epoch: str | None
) -> None:
    env = {} if epoch is None else {"SOURCE_DATE_EPOCH": epoch}
    one = make_venv(tmp_path / "one")
    two = make_venv(tmp_path / "elsewhere" / "two")
    uncached = make_venv(tmp_path / "uncached")
    succeeded(install(safe_pip, one, served, "alpha", env=env))
    stored = _entries(_store(safe_pip))
    assert len(stored) == len(FILES)
    succeeded(install(safe_pip, two, served, "alpha", env=env))
    assert _entries(_store(safe_pip)) == stored
    succeeded(install(safe_pip, uncached, served, "--no-cache-dir", "alpha", env=env))
    # A timestamp header holds the written file's time: the rest must be the same.
    skip = 0 if epoch else 16
    expected = {module: pyc[skip:] for module, pyc in _bytecode(one).items()}
    assert {module: pyc[skip:] for module, pyc in _bytecode(two).items()} == expected
    assert {module: pyc[skip:] for module, pyc in _bytecode(uncached).items()} == expected
    for venv in (one, two):
        ran = venv.run("import alpha.core; alpha.core.fail()")
        path = venv.site_packages / "alpha" / "core.py"
        assert f'File "{path}", line 4, in fail' in ran.stderr
        assert "ValueError: from the source" in ran.stderr


def _planted_mac_left(entry: bytes, planted: bytes, source: bytes) -> bytes:
    return entry[:32] + planted


def _planted_signed_with_another_key(entry: bytes, planted: bytes, source: bytes) -> bytes:
    magic = importlib.util.MAGIC_NUMBER
    digest = hashlib.sha256(magic + b"alpha/core.py\0" + source).digest()
    return hmac.new(os.urandom(32), digest + planted, hashlib.sha256).digest() + planted


@pytest.mark.parametrize(
    "tamper",
    [_planted_mac_left, _planted_signed_with_another_key],
    ids=["mac-left", "another-key"],
)
def test_a_tampered_entry_is_not_installed_and_is_rewritten(
    safe_pip: SafePip,
    served: PackageIndex,
    tmp_path: Path,
    tamper: Callable[[bytes, bytes, bytes], bytes],
) -> None:
    first = make_venv(tmp_path / "first")
    succeeded(install(safe_pip, first, served, "alpha"))
    body = _bytecode(first)["alpha/core.py"][16:]
    entry = _entry_of(_store(safe_pip), body)
    signed = entry.read_bytes()
    planted = marshal.dumps(compile("VALUE = 'planted'\n", "alpha/core.py", "exec"))
    source = FILES["alpha/core.py"].encode()
    entry.write_bytes(tamper(signed, planted, source))
    second = make_venv(tmp_path / "second")
    succeeded(install(safe_pip, second, served, "alpha"))
    assert _bytecode(second)["alpha/core.py"][16:] == body
    assert second.run("import alpha; print(alpha.VALUE)").stdout == "from the source\n"
    assert entry.read_bytes() == signed


def test_an_edited_module_is_recompiled_on_import_and_the_others_are_left(
    safe_pip: SafePip, served: PackageIndex, venv: Venv
) -> None:
    succeeded(install(safe_pip, venv, served, "alpha"))
    untouched = Path(
        importlib.util.cache_from_source(str(venv.site_packages / "alpha/sub/deep.py"))
    )
    before = untouched.read_bytes(), untouched.stat().st_mtime_ns
    core = venv.site_packages / "alpha" / "core.py"
    written = core.stat().st_mtime
    core.write_text("VALUE = 'edited'\n")
    os.utime(core, (written + 10, written + 10))
    ran = venv.run("import alpha, alpha.sub.deep; print(alpha.VALUE, alpha.sub.deep.DEEP)")
    assert ran.stdout == "edited 3\n", ran.stderr
    assert (untouched.read_bytes(), untouched.stat().st_mtime_ns) == before


def test_concurrent_installs_sharing_a_store_both_succeed_alike(
    safe_pip: SafePip,
    index: Callable[..., PackageIndex],
    wheel: Callable[..., Path],
    launch: Callable[..., subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    files = {f"many/m{n}.py": f"def f{n}(x):\n    return x * {n}\n" for n in range(300)}
    served = index()
    served.add(wheel("many", "1.0", files={"many/__init__.py": "", **files}))
    # A first install without bytecode approves and downloads the project: the two that
    # follow then reach their compiling together.
    warm = make_venv(tmp_path / "warm")
    succeeded(install(safe_pip, warm, served, "--no-compile", "many"))
    assert not _entries(_store(safe_pip))
    venvs = [make_venv(tmp_path / name) for name in ("one", "two")]
    started = [
        launch("--python", str(venv.python), "install", "-i", served.url, "many") for venv in venvs
    ]
    for process in started:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, out + err
        assert "Traceback" not in err
    compiled = [
        {
            path.name: path.read_bytes()[16:]
            for path in (venv.site_packages / "many" / "__pycache__").iterdir()
        }
        for venv in venvs
    ]
    assert len(compiled[0]) == len(files) + 1
    assert compiled[0] == compiled[1]
    stored = _entries(_store(safe_pip))
    assert sorted(content[32:] for content in stored.values()) == sorted(compiled[0].values())
