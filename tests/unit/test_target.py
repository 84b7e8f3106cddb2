from __future__ import annotations

import os
import platform
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from safe_pip.errors import ExternallyManaged, UsageError
from safe_pip.target import (
    TargetEnvironment,
    check_externally_managed,
    choose_interpreter,
    choose_scheme,
    find_interpreter,
    is_own_interpreter,
    pip_python,
    query_target,
    site_prefix_of,
)
from tests.support.interpreters import marked_python


def _executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


@pytest.fixture(scope="module")
def here() -> TargetEnvironment:
    return query_target(Path(sys.executable))


def _system(tmp_path: Path, here: TargetEnvironment) -> TargetEnvironment:
    stdlib = tmp_path / "lib"
    stdlib.mkdir()
    return replace(here, prefix=tmp_path, base_prefix=tmp_path, stdlib=stdlib)


class TestQuery:
    def test_reports_this_interpreter(self, here: TargetEnvironment) -> None:
        assert here.version == tuple(sys.version_info[:3])
        assert here.cache_tag == sys.implementation.cache_tag
        assert here.markers is not None
        assert here.markers["python_full_version"] == platform.python_version()
        assert set(here.sys_path) <= set(sys.path)
        assert here.paths["purelib"] in here.sys_path
        assert Path(here.paths["purelib"]).is_dir()

    def test_prefix_scheme(self, tmp_path: Path) -> None:
        target = query_target(Path(sys.executable), str(tmp_path))
        assert Path(target.paths["purelib"]).is_relative_to(tmp_path)

    def test_a_broken_interpreter_is_a_usage_error(self, tmp_path: Path) -> None:
        fake = tmp_path / "python"
        fake.write_text("#!/bin/sh\nexit 3\n")
        fake.chmod(0o755)
        with pytest.raises(UsageError, match="Cannot query"):
            query_target(fake)


class TestFindInterpreter:
    def test_environment_directory(self, tmp_path: Path) -> None:
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "python").write_text("")
        assert find_interpreter(str(tmp_path), {}) == tmp_path / "bin" / "python"

    def test_virtual_env_then_own_interpreter(self, tmp_path: Path) -> None:
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "python").write_text("")
        assert find_interpreter(None, {"VIRTUAL_ENV": str(tmp_path)}) == tmp_path / "bin" / "python"
        assert find_interpreter(None, {}) == Path(sys.executable)

    def test_missing(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="no such interpreter"):
            find_interpreter(str(tmp_path / "nope"), {})

    def test_conda_then_the_first_python_on_path(self, tmp_path: Path) -> None:
        conda, first, second = tmp_path / "conda", tmp_path / "first", tmp_path / "second"
        _executable(conda / "bin" / "python")
        _executable(first / "python")
        _executable(second / "python3")
        path = os.pathsep.join([str(tmp_path / "empty"), str(first), str(second)])
        chosen = choose_interpreter(None, {"PATH": path, "CONDA_PREFIX": str(conda)})
        assert chosen.python == conda / "bin" / "python" and not chosen.explicit
        assert "conda" in chosen.reason
        chosen = choose_interpreter(None, {"PATH": path})
        # Directory by directory, as a shell looks: `python` in the first beats `python3`
        # in the second; the path is kept as found (a venv's link is not resolved).
        assert chosen.python == first / "python"
        assert chosen.reason == "the first python on PATH"
        venv = tmp_path / "venv"
        _executable(venv / "bin" / "python")
        chosen = choose_interpreter(None, {"PATH": path, "VIRTUAL_ENV": str(venv)})
        assert chosen.python == venv / "bin" / "python" and chosen.explicit

    def test_no_python_on_path_is_our_own(self, tmp_path: Path) -> None:
        chosen = choose_interpreter(None, {"PATH": str(tmp_path)})
        assert chosen.python == Path(sys.executable) and "safe-pip's own" in chosen.reason

    def test_pip_python_names_what_install_chose(self, tmp_path: Path) -> None:
        _executable(tmp_path / "python3")
        assert pip_python({"PATH": str(tmp_path)}) == str(tmp_path / "python3")
        assert pip_python({"VIRTUAL_ENV": str(tmp_path)}) == str(tmp_path)
        assert pip_python({"VIRTUAL_ENV": sys.prefix}) is None
        own = str(Path(sys.executable).parent)
        assert pip_python({"PATH": own}) is None

    def test_own_interpreter(self, tmp_path: Path) -> None:
        assert is_own_interpreter(Path(sys.executable))
        (tmp_path / "pyvenv.cfg").write_text("")
        assert not is_own_interpreter(tmp_path / "bin" / "python")

    def test_site_prefix_of_a_venv(self, tmp_path: Path) -> None:
        (tmp_path / "pyvenv.cfg").write_text("")
        assert site_prefix_of(tmp_path / "bin" / "python") == tmp_path
        assert site_prefix_of(tmp_path / "a" / "b" / "python") is None


class TestSchemes:
    def test_target_directory_layout(self, here: TargetEnvironment, tmp_path: Path) -> None:
        scheme = choose_scheme(here, target_dir=str(tmp_path))
        assert scheme.paths["purelib"] == scheme.paths["platlib"] == str(tmp_path)
        assert scheme.paths["scripts"] == str(tmp_path / "bin")
        assert scheme.is_target_dir and scheme.site_dirs == (tmp_path,)

    def test_root_relocates_every_path(self, here: TargetEnvironment, tmp_path: Path) -> None:
        scheme = choose_scheme(here, root=str(tmp_path))
        real = scheme.real(scheme.paths["purelib"])
        assert real.is_relative_to(tmp_path)
        assert str(real).endswith(scheme.paths["purelib"])

    def test_satisfied_anywhere_the_target_imports_from(
        self, here: TargetEnvironment, tmp_path: Path
    ) -> None:
        here = replace(here, user_site_enabled=True)
        user = choose_scheme(here, user=True)
        dirs = user.satisfying_dirs(here)
        assert dirs[: len(user.site_dirs)] == list(user.site_dirs)
        assert Path(here.paths["purelib"]) in dirs
        assert choose_scheme(here, target_dir=str(tmp_path)).satisfying_dirs(here) == [tmp_path]

    def test_user_scheme_hidden_in_a_venv(self, here: TargetEnvironment) -> None:
        venv = replace(here, base_prefix=Path("/somewhere/else"), user_site_enabled=False)
        with pytest.raises(UsageError, match="User site-packages are not visible"):
            choose_scheme(venv, user=True)


class TestExternallyManaged:
    def test_marker_refuses_with_the_distributors_text(
        self, here: TargetEnvironment, tmp_path: Path
    ) -> None:
        target = _system(tmp_path, here)
        (target.stdlib / "EXTERNALLY-MANAGED").write_text(
            "[externally-managed]\nError=Use apt install python3-xyz.\n"
        )
        with pytest.raises(ExternallyManaged, match="apt install python3-xyz") as caught:
            check_externally_managed(target)
        assert "--break-system-packages" in str(caught.value)
        assert caught.value.exit_code == 3

    def test_no_marker(self, here: TargetEnvironment, tmp_path: Path) -> None:
        check_externally_managed(_system(tmp_path, here))

    def test_a_venv_is_never_externally_managed(
        self, here: TargetEnvironment, tmp_path: Path
    ) -> None:
        target = replace(_system(tmp_path, here), base_prefix=Path("/base"))
        (target.stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=x\n")
        check_externally_managed(target)


def test_a_marked_system_python_is_refused_as_it_describes_itself(tmp_path: Path) -> None:
    """Debian and others mark their system Python; safe-pip must refuse it like pip. A copy
    stands in for it: the marker is found where the interpreter says its stdlib is."""
    python = marked_python(tmp_path / "system", "Use apt install python3-xyz.")
    target = query_target(python)
    assert not target.is_venv
    with pytest.raises(ExternallyManaged, match="apt install python3-xyz"):
        check_externally_managed(target)
