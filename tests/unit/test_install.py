"""Install: all or nothing, whatever fails or interrupts, and nothing removed that an
installed RECORD merely claims."""

from __future__ import annotations

import csv
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from installer.utils import copyfileobj_with_hashing

from safe_pip.errors import InstallError, UnsafeWheel
from safe_pip.install import backups, compile_handoff, destination, journal
from safe_pip.install import installer as installer_module
from safe_pip.install.inspection import inspect_wheel
from safe_pip.install.installer import install_wheels
from safe_pip.install.placement import lay_out
from safe_pip.target import Scheme, TargetEnvironment
from tests.support.dists import WheelSpec, build_wheel
from tests.support.environments import fake_environment, install, planned, snapshot

WheelFactory = Callable[..., Path]
Env = tuple[TargetEnvironment, Scheme]
TAG = sys.implementation.cache_tag


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return fake_environment(tmp_path)


def site(env: Env) -> Path:
    return Path(env[1].paths["purelib"])


def record_rows(env: Env, dist_info: str) -> list[str]:
    with (site(env) / dist_info / "RECORD").open(newline="") as stream:
        return [row[0] for row in csv.reader(stream)]


class TestInstallWheels:
    def test_writes_files_scripts_metadata_and_bytecode(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        result = install(*env, wheel("alpha", "1.0", entry_points={"alpha-cli": "alpha:main"}))
        assert [d.label for d in result.installed] == ["alpha-1.0"]
        assert (site(env) / "alpha" / "__init__.py").is_file()
        assert (site(env) / "alpha" / "__pycache__" / f"__init__.{TAG}.pyc").is_file()
        assert (site(env) / "alpha-1.0.dist-info" / "INSTALLER").read_text() == "safe-pip\n"
        assert (site(env) / "alpha-1.0.dist-info" / "REQUESTED").exists()
        assert result.scripts == (env[0].prefix / "bin" / "alpha-cli",)
        rows = record_rows(env, "alpha-1.0.dist-info")
        assert f"alpha/__pycache__/__init__.{TAG}.pyc" in rows
        assert "../../../bin/alpha-cli" in rows

    def test_an_upgrade_removes_the_old_version_and_its_empty_directories(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        old_files = {"alpha/__init__.py": "", "alpha/old/x.py": "x = 1\n"}
        install(*env, wheel("alpha", "1.0", files=old_files))
        result = install(*env, wheel("alpha", "2.0"), upgrade=True)
        assert [old.version for old in result.replaced] == ["1.0"]
        assert not (site(env) / "alpha" / "old").exists()
        assert not (site(env) / "alpha-1.0.dist-info").exists()
        assert (site(env) / "alpha-2.0.dist-info" / "RECORD").is_file()
        assert not list(env[0].prefix.rglob(".safe-pip-replaced-*"))

    @pytest.mark.parametrize("link", [False, True], ids=["file", "dangling-link"])
    def test_what_appears_after_placement_is_not_written_over(
        self, env: Env, wheel: WheelFactory, tmp_path: Path, link: bool
    ) -> None:
        target, scheme = env
        built = wheel("alpha", "1.0")
        dist = planned(built)
        layout = lay_out([(dist, built, inspect_wheel(dist, built))], target, scheme)
        intruder = site(env) / "alpha" / "__init__.py"
        intruder.parent.mkdir()
        if link:
            intruder.symlink_to(tmp_path / "elsewhere")
        else:
            intruder.write_text("mine\n")
        before = snapshot(target.prefix)
        with pytest.raises(InstallError, match="would overwrite"):
            install_wheels(layout, target, scheme)
        assert snapshot(target.prefix) == before
        assert not (tmp_path / "elsewhere").exists()

    @pytest.mark.parametrize(
        "unapproved",
        ["alpha/hook.pth", "alpha-1.0.dist-info/INSTALLER", "alpha-cli"],
        ids=["member", "generated-metadata", "script"],
    )
    def test_a_path_placement_did_not_approve_is_never_written(
        self, env: Env, wheel: WheelFactory, unapproved: str
    ) -> None:
        """Defence in depth (DESIGN invariant 8): should inspection ever read a wheel differently
        from pypa/installer, the installer still writes only what placement approved."""
        target, scheme = env
        built = wheel(
            "alpha",
            "1.0",
            files={"alpha/__init__.py": "", "alpha/hook.pth": "/opt\n"},
            entry_points={"alpha-cli": "alpha:main"},
        )
        dist = planned(built)
        layout = lay_out([(dist, built, inspect_wheel(dist, built))], target, scheme)
        (placed,) = layout.wheels
        kept = tuple(path for path in placed.files if not str(path).endswith(unapproved))
        assert len(kept) == len(placed.files) - 1
        narrowed = dataclasses.replace(layout, wheels=(dataclasses.replace(placed, files=kept),))
        before = snapshot(target.prefix)
        with pytest.raises(UnsafeWheel, match=f"alpha: pypa/installer would write .*{unapproved}"):
            install_wheels(narrowed, target, scheme)
        assert snapshot(target.prefix) == before

    def test_a_shared_identical_file_is_recorded_but_not_rewritten(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        namespace = {"ns/__init__.py": "__path__ = __import__('pkgutil').extend_path(x)\n"}
        install(*env, wheel("beta", "1.0", files={**namespace, "ns/beta.py": ""}))
        shared = site(env) / "ns" / "__init__.py"
        before = shared.stat().st_mtime_ns
        install(*env, wheel("gamma", "1.0", files={**namespace, "ns/gamma.py": ""}))
        assert shared.stat().st_mtime_ns == before
        assert "ns/__init__.py" in record_rows(env, "gamma-1.0.dist-info")


@pytest.fixture
def upgraded(env: Env, wheel: WheelFactory) -> Iterator[tuple[Path, Path]]:
    """alpha 1.0 and beta 1.0 installed; alpha 2.0 and beta 2.0 ready to replace them."""
    install(
        *env,
        wheel("alpha", "1.0", files={"alpha/__init__.py": "v = 1\n", "alpha/old.py": ""}),
        wheel("beta", "1.0", entry_points={"beta-cli": "beta:main"}),
    )
    yield (
        wheel("alpha", "2.0", files={"alpha/__init__.py": "v = 2\n", "alpha/new/x.py": ""}),
        wheel("beta", "2.0", entry_points={"beta-cli": "beta:main"}),
    )


def fail_writing(
    monkeypatch: pytest.MonkeyPatch, prefix: str, error: BaseException, *, after: bool = False
) -> None:
    """Make writing the first file under ``prefix`` (of its scheme directory) raise
    ``error``, once the file is opened or (``after``) once its bytes are written."""
    original = copyfileobj_with_hashing

    def copy(source: BinaryIO, destination: BinaryIO, algorithm: str) -> tuple[str, int]:
        if f"/{prefix}" in str(getattr(destination, "name", "")):
            if after:
                original(source, destination, algorithm)
            raise error
        return original(source, destination, algorithm)

    monkeypatch.setattr(destination, "copyfileobj_with_hashing", copy)


def assert_restored(
    env: Env, error: type[BaseException], *wheels: Path, **options: Any
) -> BaseException:
    """Install ``wheels`` expecting ``error``; the environment must end byte for byte as it
    began."""
    before = snapshot(env[0].prefix)
    with pytest.raises(error) as caught:
        install(*env, *wheels, **options)
    assert snapshot(env[0].prefix) == before
    return caught.value


class TestRollback:
    def test_a_failure_in_the_second_wheel_restores_the_environment(
        self,
        env: Env,
        upgraded: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        fail_writing(monkeypatch, "beta/", OSError(28, "No space left on device"))
        error = str(assert_restored(env, InstallError, *upgraded, upgrade=True))
        assert "Installing beta-2.0 failed: [Errno 28] No space left on device" in error
        assert "restored as it was" in error

    @pytest.mark.parametrize(
        ("prefix", "after"),
        [("beta/", False), ("alpha/new/", True)],
        ids=["before-a-write", "after-a-new-file-is-written"],
    )
    def test_an_interrupt_while_writing_restores_the_environment(
        self,
        env: Env,
        upgraded: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch,
        prefix: str,
        after: bool,
    ) -> None:
        fail_writing(monkeypatch, prefix, KeyboardInterrupt(), after=after)
        assert_restored(env, KeyboardInterrupt, *upgraded, upgrade=True)

    def test_an_interrupt_while_compiling_restores_the_environment(
        self,
        env: Env,
        upgraded: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:

        def interrupted(*args: Any, **kwargs: Any) -> Any:
            # The compiler has written some bytecode when the interrupt arrives.
            (site(env) / "alpha" / "__pycache__" / f"__init__.{TAG}.pyc").write_bytes(b"x")
            raise KeyboardInterrupt

        monkeypatch.setattr(compile_handoff.BytecodeHandOff, "finish", interrupted)
        assert_restored(env, KeyboardInterrupt, *upgraded, upgrade=True)

    @pytest.mark.parametrize("moved", [False, True], ids=["before-a-move", "after-a-move"])
    def test_an_interrupt_while_setting_aside_restores_the_environment(
        self,
        env: Env,
        upgraded: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch,
        moved: bool,
    ) -> None:
        original = journal.move_file
        calls = []

        def move(source: Path, destination: Path) -> None:
            calls.append(source)
            if len(calls) == 3:
                if moved:
                    original(source, destination)
                raise KeyboardInterrupt
            original(source, destination)

        monkeypatch.setattr(journal, "move_file", move)
        assert_restored(env, KeyboardInterrupt, *upgraded, upgrade=True)

    def test_a_stale_bytecode_file_in_the_way_is_put_back(
        self, env: Env, wheel: WheelFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stale = site(env) / "gamma" / "__pycache__" / f"__init__.{TAG}.pyc"
        stale.parent.mkdir(parents=True)
        stale.write_bytes(b"stale")
        monkeypatch.setattr(
            destination.PlacedDestination,
            "write_record",
            lambda self, compiled: (_ for _ in ()).throw(OSError("disk full")),
        )
        assert_restored(env, InstallError, wheel("gamma", "1.0"))

    def test_a_second_interrupt_does_not_stop_the_rollback(
        self,
        env: Env,
        upgraded: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        fail_writing(monkeypatch, "beta/", OSError("write failed"))
        original = journal.Journal.rollback

        def rollback(self: Any, *args: Any) -> list[str]:
            os.kill(os.getpid(), signal.SIGINT)
            return original(self, *args)

        monkeypatch.setattr(journal.Journal, "rollback", rollback)
        assert_restored(env, InstallError, *upgraded, upgrade=True)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    def test_files_that_cannot_be_put_back_are_kept_and_named(
        self,
        env: Env,
        upgraded: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        fail_writing(monkeypatch, "beta/", OSError("write failed"))
        original = journal.move_file

        def move(source: Path, destination: Path) -> None:
            if ".safe-pip-replaced-" in str(source):
                raise OSError("read-only file system")
            original(source, destination)

        monkeypatch.setattr(journal, "move_file", move)
        with pytest.raises(InstallError) as caught:
            install(*env, *upgraded, upgrade=True)
        assert "could not be put back" in str(caught.value)
        assert "alpha/__init__.py (kept as " in str(caught.value)
        assert list(site(env).glob(".safe-pip-replaced-*/*"))


class TestWheelsAtOnce:
    """Wheels are written several at a time; a failure or an interrupt still ends with the
    environment as it began, and nothing written after the rollback."""

    def test_two_wheels_are_written_at_the_same_time(
        self, env: Env, wheel: WheelFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(installer_module, "_WRITERS", 2)
        both = threading.Barrier(2, timeout=10)
        original = copyfileobj_with_hashing

        def copy(source: BinaryIO, written: BinaryIO, algorithm: str) -> tuple[str, int]:
            if str(getattr(written, "name", "")).endswith("__init__.py"):
                both.wait()  # broken (and the install failed) unless both are being written
            return original(source, written, algorithm)

        monkeypatch.setattr(destination, "copyfileobj_with_hashing", copy)
        result = install(*env, wheel("alpha", "1.0"), wheel("beta", "1.0"))
        assert [dist.label for dist in result.installed] == ["alpha-1.0", "beta-1.0"]

    @pytest.mark.parametrize("stop", ["interrupt", "another-wheel-fails"])
    def test_wheels_still_being_written_stop_before_the_rollback(
        self, env: Env, wheel: WheelFactory, monkeypatch: pytest.MonkeyPatch, stop: str
    ) -> None:
        monkeypatch.setattr(installer_module, "_WRITERS", 2)
        # An upgrade: the directory stays, so a file written late would stay too.
        install(*env, wheel("alpha", "1.0"))
        many = wheel("alpha", "2.0", files={f"alpha/m{i}.py": "" for i in range(300)})
        few = wheel("beta", "1.0")
        started = threading.Event()
        original = copyfileobj_with_hashing

        def copy(source: BinaryIO, written: BinaryIO, algorithm: str) -> tuple[str, int]:
            name = str(getattr(written, "name", ""))
            if "/alpha/" in name:
                if not started.is_set():
                    started.set()
                    if stop == "interrupt":
                        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
                time.sleep(0.002)  # still writing when the other thread stops
            elif "/beta/" in name and stop == "another-wheel-fails":
                started.wait(10)
                raise OSError(28, "No space left on device")
            return original(source, written, algorithm)

        monkeypatch.setattr(destination, "copyfileobj_with_hashing", copy)
        error = KeyboardInterrupt if stop == "interrupt" else InstallError
        before = snapshot(env[0].prefix)
        with pytest.raises(error):
            install(*env, many, few, upgrade=True)
        time.sleep(0.2)
        assert snapshot(env[0].prefix) == before


class TestSignalsHeld:
    def test_signals_are_held_and_reported(self) -> None:
        with journal.signals_held() as received:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
        assert received == [signal.SIGINT, signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class TestJournal:
    def test_a_move_is_noted_before_it_is_made(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        original, backup = tmp_path / "module.py", tmp_path / "backup"
        original.write_text("old")

        def interrupted(source: Path, destination: Path) -> None:
            raise KeyboardInterrupt

        record = journal.Journal()
        monkeypatch.setattr(journal, "move_file", interrupted)
        with pytest.raises(KeyboardInterrupt):
            record.move_aside(original, backup)
        monkeypatch.undo()
        assert record.moved == [(original, backup)]
        assert record.rollback(lambda directory: None) == []
        assert original.read_text() == "old"

    def test_a_rollback_removes_what_was_made_and_puts_back_what_was_moved(
        self, tmp_path: Path
    ) -> None:
        replaced = tmp_path / "old.py"
        replaced.write_text("old")
        record = journal.Journal()
        record.move_aside(replaced, tmp_path / "backup")
        made = tmp_path / "new" / "deep"
        record.make_dirs(made)
        record.created.append(made / "new.py")
        (made / "new.py").write_text("new")
        assert record.rollback(lambda directory: None) == []
        assert sorted(path.name for path in tmp_path.iterdir()) == ["old.py"]
        assert replaced.read_text() == "old"

    def test_a_set_aside_link_is_put_back_even_dangling(self, tmp_path: Path) -> None:
        link = tmp_path / "pkg" / "data"
        link.parent.mkdir()
        link.symlink_to(tmp_path / "nowhere")
        record = journal.Journal()
        record.move_aside(link, tmp_path / "backup")
        link.parent.rmdir()  # its directory went too, as an upgrade's emptied one does
        assert record.rollback(lambda directory: None) == []
        assert link.is_symlink() and link.readlink() == tmp_path / "nowhere"

    def test_a_file_found_in_the_way_is_no_longer_noted_as_made(self, tmp_path: Path) -> None:
        """Only the file this install made is forgotten, whatever other wheels noted
        meanwhile: forgetting the last one noted would leave another's file behind and
        remove the one in the way on a rollback."""
        record = journal.Journal()
        in_the_way, other = tmp_path / "theirs.py", tmp_path / "other.py"
        in_the_way.write_text("theirs")
        real_open = Path.open

        def open_meanwhile(path: Path, *args: Any, **kwargs: Any) -> Any:
            record.created.append(other)  # another wheel's writer, between noting and opening
            return real_open(path, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Path, "open", open_meanwhile)
            with pytest.raises(FileExistsError):
                record.create(in_the_way)
        assert record.created == [other]


class TestRemoval:
    def test_only_files_an_installer_could_have_written_are_removed(
        self, env: Env, wheel: WheelFactory, tmp_path: Path
    ) -> None:
        target, scheme = env
        stdlib = target.prefix / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        interpreter = target.prefix / "bin" / "python"
        interpreter.write_text("the interpreter")
        env = (dataclasses.replace(target, stdlib=stdlib, python=interpreter), scheme)
        install(*env, wheel("alpha", "1.0"), wheel("beta", "1.0"))
        claimed = {
            "outside": tmp_path / "outside.txt",
            "stdlib": stdlib / "os.py",
            "link": site(env) / "alpha" / "link",
        }
        for path in claimed.values():
            if path.name != "link":
                path.write_text("keep me")
        claimed["link"].symlink_to(claimed["outside"])
        rows = [os.path.relpath(path, site(env)) for path in claimed.values()]
        rows += ["beta/__init__.py", "../../../pyvenv.cfg", "../../../bin/python"]
        with (site(env) / "alpha-1.0.dist-info" / "RECORD").open("a") as stream:
            stream.writelines(f"{row},,\n" for row in rows)
        install(*env, wheel("alpha", "2.0"), upgrade=True)
        assert all(path.exists() or path.is_symlink() for path in claimed.values())
        assert (site(env) / "beta" / "__init__.py").exists()
        assert (target.prefix / "pyvenv.cfg").exists()
        assert interpreter.read_text() == "the interpreter"


class TestCompilerShutdown:
    def test_a_failure_while_compiling_in_parallel_stops_every_compiler_process(
        self,
        env: Env,
        upgraded: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Enough sources that the compiler hands work to helper processes before beta fails.
        many = {f"alpha/m{index}.py": "x = 1\n" * 200 for index in range(200)}
        big = build_wheel(upgraded[0].parent / "big", WheelSpec("alpha", "3.0", files=many))
        fail_writing(monkeypatch, "beta/", OSError(28, "No space left on device"))
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                install(*env, big, upgraded[1], upgrade=True)
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive(), "the rollback hung waiting for compiler processes"
        assert isinstance(outcome[0], InstallError)


def _gone_soon(paths: list[Path]) -> bool:
    """Whether every path disappears within ten seconds (deleted in the background)."""
    deadline = time.monotonic() + 10
    while any(path.exists() for path in paths):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class TestLargeRollback:
    """Undoing thousands of files and directories one by one took
    seconds; each directory the install created goes away whole, in one rename."""

    @pytest.fixture
    def many(self, wheel: WheelFactory) -> Path:
        return wheel("many", "1.0", files={f"many/p{n}/m.py": "" for n in range(50)})

    @pytest.fixture
    def deleted_later(self, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
        deleted: list[Path] = []
        original = backups._delete_later

        def recording(directories: list[Path]) -> None:
            deleted.extend(directories)
            original(directories)

        monkeypatch.setattr(backups, "_delete_later", recording)
        return deleted

    def test_created_directories_are_moved_out_whole_and_deleted_after(
        self,
        env: Env,
        many: Path,
        monkeypatch: pytest.MonkeyPatch,
        deleted_later: list[Path],
    ) -> None:
        removed: list[Path] = []
        monkeypatch.setattr(journal, "remove_file", removed.append)
        monkeypatch.setattr(journal, "_remove_empty_dir", removed.append)
        fail_writing(monkeypatch, "many/p49/", KeyboardInterrupt(), after=True)
        assert_restored(env, KeyboardInterrupt, many)
        assert removed == []
        assert len(deleted_later) == 1
        assert not deleted_later[0].is_relative_to(env[0].prefix)
        assert _gone_soon(deleted_later)

    def test_on_another_file_system_they_wait_in_the_backup_directory(
        self,
        env: Env,
        many: Path,
        monkeypatch: pytest.MonkeyPatch,
        deleted_later: list[Path],
    ) -> None:
        before = snapshot(env[0].prefix)
        monkeypatch.setattr(backups, "_same_file_system", lambda one, other: False)
        fail_writing(monkeypatch, "many/p49/", KeyboardInterrupt(), after=True)
        with pytest.raises(KeyboardInterrupt):
            install(*env, many)
        assert not (site(env) / "many").exists()
        assert any(path.name.startswith(".safe-pip-replaced-") for path in deleted_later)
        assert _gone_soon(deleted_later)
        assert snapshot(env[0].prefix) == before

    def test_where_they_cannot_go_they_are_removed_in_place(
        self, env: Env, many: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(backups.Backups, "trash", lambda self, directory: None)
        fail_writing(monkeypatch, "many/p49/", KeyboardInterrupt(), after=True)
        assert_restored(env, KeyboardInterrupt, many)
