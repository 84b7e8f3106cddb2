"""Bytecode: compiled ahead from the wheels, written exactly as compileall would write it,
and no module code run."""

from __future__ import annotations

import dataclasses
import importlib.util
import marshal
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from safe_pip.install.bytecode import compiling, pyc_path
from safe_pip.install.bytecode_store import BytecodeStore
from safe_pip.install.inspection import inspect_wheel
from safe_pip.target import Scheme, TargetEnvironment
from tests.support.bytecode import as_compileall_writes
from tests.support.dists import WheelSpec, build_wheel
from tests.support.environments import fake_environment, install, planned

Env = tuple[TargetEnvironment, Scheme]
TAG = sys.implementation.cache_tag
FILES = {
    "alpha/__init__.py": "from alpha.core import value\n",
    "alpha/core.py": "value = 1\n\ndef twice():\n    return value * 2\n",
    "alpha/broken.py": "def (:\n",
}


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return fake_environment(tmp_path)


def _site(env: Env) -> Path:
    return Path(env[1].paths["purelib"])


@pytest.mark.parametrize(
    ("epoch", "mode"),
    [
        (None, py_compile.PycInvalidationMode.TIMESTAMP),
        ("1700000000", py_compile.PycInvalidationMode.CHECKED_HASH),
    ],
    ids=["timestamp", "source-date-epoch-hash"],
)
def test_bytecode_compiled_ahead_is_what_compileall_writes(
    env: Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    epoch: str | None,
    mode: py_compile.PycInvalidationMode,
) -> None:
    if epoch is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    install(*env, build_wheel(tmp_path / "dists", WheelSpec("alpha", "1.0", files=FILES)))
    for module in ("__init__", "core"):
        source = _site(env) / "alpha" / f"{module}.py"
        written = pyc_path(source, TAG).read_bytes()
        assert written == as_compileall_writes(source, _site(env), tmp_path, mode)


def test_modules_are_compiled_from_the_wheel_before_they_are_written(
    env: Env, tmp_path: Path
) -> None:
    target, _ = env
    files = {"alpha/__init__.py": "value = 'from the wheel'\n"}
    wheel = build_wheel(tmp_path / "dists", WheelSpec("alpha", "1.0", files=files))
    dist = planned(wheel)
    source = _site(env) / "alpha" / "__init__.py"
    source.parent.mkdir()
    source.write_text("value = 'on the disk'\n")
    with compiling(target) as compiler:
        assert compiler is not None
        compiler.compile_wheel(dist.name, wheel, inspect_wheel(dist, wheel))
        compiler.modules_written(dist.name, [(source, "purelib", "alpha/__init__.py")])
        [pyc] = compiler.finish()
    assert pyc is not None
    code = marshal.loads(pyc.read_bytes()[16:])  # noqa: S302 (bytecode this test just made)
    assert "from the wheel" in code.co_consts


def test_a_module_that_does_not_compile_gets_no_bytecode(env: Env, tmp_path: Path) -> None:
    result = install(*env, build_wheel(tmp_path / "dists", WheelSpec("alpha", "1.0", files=FILES)))
    assert result.installed
    assert not pyc_path(_site(env) / "alpha" / "broken.py", TAG).exists()
    assert pyc_path(_site(env) / "alpha" / "core.py", TAG).is_file()


def test_a_module_not_compiled_ahead_is_compiled_from_the_written_file(
    env: Env, tmp_path: Path
) -> None:
    target, _ = env
    source = _site(env) / "beta.py"
    source.write_text("value = 2\n")
    with compiling(target) as compiler:
        assert compiler is not None
        compiler.modules_written("beta", [(source, "purelib", "beta.py")])
        assert compiler.finish() == [pyc_path(source, TAG)]
    assert pyc_path(source, TAG).read_bytes() == as_compileall_writes(
        source, _site(env), tmp_path, py_compile.PycInvalidationMode.TIMESTAMP
    )


def test_compiling_runs_no_code_of_the_modules(env: Env, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    files = {"alpha/__init__.py": f"open({str(marker)!r}, 'w').close()\n"}
    install(*env, build_wheel(tmp_path / "dists", WheelSpec("alpha", "1.0", files=files)))
    assert pyc_path(_site(env) / "alpha" / "__init__.py", TAG).is_file()
    assert not marker.exists()


def test_a_target_without_a_bytecode_cache_gets_no_compiler(env: Env) -> None:
    target = dataclasses.replace(env[0], cache_tag=None)
    with compiling(target) as compiler:
        assert compiler is None


def test_an_unfinished_compiler_is_stopped(env: Env) -> None:
    with compiling(env[0]) as compiler:
        assert compiler is not None
        process = compiler._process
    assert process.returncode is not None


def test_a_compiler_interrupted_while_it_is_awaited_is_still_stopped(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A signal (Ctrl-C, SIGTERM) can land while finish() hands over the last of its input:
    # subprocess then counts the exchange as started though it set nothing up for it, and a
    # second communicate() fails; stopping must not need one.
    with pytest.raises(KeyboardInterrupt), compiling(env[0]) as compiler:
        assert compiler is not None
        process = compiler._process
        assert process.stdin is not None
        close = process.stdin.close

        def interrupted() -> None:
            # The compiler is left waiting for the end of its input, as one held up by a large
            # module would be, so it is still running when the interrupt unwinds.
            monkeypatch.setattr(process.stdin, "close", close)
            raise KeyboardInterrupt

        monkeypatch.setattr(process.stdin, "close", interrupted)
        compiler.finish()
    assert process.returncode is not None
    assert process.stdout is not None
    assert process.stdout.closed


def test_a_traceback_names_the_installed_modules_real_path(env: Env, tmp_path: Path) -> None:
    files = {"alpha/__init__.py": "", "alpha/fail.py": "def fail():\n    raise ValueError(9)\n"}
    install(*env, build_wheel(tmp_path / "dists", WheelSpec("alpha", "1.0", files=files)))
    source = _site(env) / "alpha" / "fail.py"
    pyc = pyc_path(source, TAG)
    written = pyc.read_bytes()
    compiled = marshal.loads(written[16:])  # noqa: S302 (bytecode this test just made)
    assert compiled.co_filename == "alpha/fail.py"
    code = f"import sys; sys.path[:0] = [{str(_site(env))!r}]; import alpha.fail; alpha.fail.fail()"
    ran = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert f'File "{source}", line 2, in fail\n    raise ValueError(9)' in ran.stderr
    assert pyc.read_bytes() == written  # the bytecode was used, not replaced


class Emptied(BytecodeStore):
    """A store whose size limit is nothing: empty after each install."""

    def evict(self, limit: int = 0) -> int:
        return super().evict(0)


def _written_with(target: TargetEnvironment, site: Path, store: BytecodeStore) -> list[bytes]:
    """Compile FILES' modules ahead with the store and write them into ``site``: the
    bytecode of each module (of those that compile), and the store's entries meanwhile."""
    wheel = build_wheel(site.parent / "dists", WheelSpec("alpha", "1.0", files=FILES))
    dist = planned(wheel)
    with compiling(target, store) as compiler:
        assert compiler is not None
        # Handed over on standard input: any user may read a process's command line.
        assert store.key.hex() not in str(compiler._process.args)
        compiler.compile_wheel(dist.name, wheel, inspect_wheel(dist, wheel))
        modules = []
        for path, text in FILES.items():
            (site / path).parent.mkdir(parents=True, exist_ok=True)
            (site / path).write_text(text)
            modules.append((site / path, "purelib", path))
        compiler.modules_written(dist.name, modules)
        compiled = [pyc.read_bytes() for pyc in compiler.finish() if pyc is not None]
        assert store.usage()[0] == len(compiled)
    return compiled


def test_a_store_gives_other_environments_the_same_bytecode(env: Env, tmp_path: Path) -> None:
    store = BytecodeStore(tmp_path / "cache", tmp_path / "home")
    first = _written_with(env[0], tmp_path / "one" / "site", store)
    second = _written_with(env[0], tmp_path / "two" / "site", store)
    assert len(first) == 2
    assert [pyc[16:] for pyc in second] == [pyc[16:] for pyc in first]


def test_the_store_is_brought_under_its_limit_once_the_compiler_is_done(
    env: Env, tmp_path: Path
) -> None:
    store = Emptied(tmp_path / "cache", tmp_path / "home")
    # A store last trimmed long ago (its directory keeps the time): a trim is due.
    (store.root / importlib.util.MAGIC_NUMBER.hex()).mkdir(parents=True)
    os.utime(store.root, (0, 0))
    _written_with(env[0], _site(env), store)
    assert store.usage() == (0, 0)


def test_a_store_trimmed_lately_is_left_as_it_is(env: Env, tmp_path: Path) -> None:
    store = Emptied(tmp_path / "cache", tmp_path / "home")
    _written_with(env[0], _site(env), store)
    assert store.usage()[0] > 0


def test_a_store_without_a_key_is_not_used(env: Env, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")
    store = BytecodeStore(tmp_path / "cache", home)
    target, _ = env
    source = _site(env) / "beta.py"
    source.write_text("value = 2\n")
    with compiling(target, store) as compiler:
        assert compiler is not None
        compiler.modules_written("beta", [(source, "purelib", "beta.py")])
        assert compiler.finish() == [pyc_path(source, TAG)]
    assert not store.root.exists()
