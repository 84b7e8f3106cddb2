"""Placement: every file's final path is checked against its scheme, the installed projects,
the rest of the plan, and the startup-hook policy, before anything is written."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from safe_pip.errors import InstallError, UnsafeWheel
from safe_pip.install.inspection import WheelEntry, WheelInfo, inspect_wheel
from safe_pip.install.locations import same_content
from safe_pip.install.placement import Layout, check_startup_hooks, contained, lay_out
from safe_pip.models import NameSet
from safe_pip.target import Scheme, TargetEnvironment
from tests.support.environments import fake_environment, install, planned

WheelFactory = Callable[..., Path]
Env = tuple[TargetEnvironment, Scheme]
SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return fake_environment(tmp_path)


def site(env: Env) -> Path:
    return Path(env[1].paths["purelib"])


def place(env: Env, *wheels: Path, **options: Any) -> Layout:
    inspected = []
    for wheel in wheels:
        dist = planned(wheel)
        inspected.append((dist, wheel, inspect_wheel(dist, wheel)))
    return lay_out(inspected, *env, **options)


def refused(env: Env, *wheels: Path, **options: Any) -> str:
    with pytest.raises(UnsafeWheel) as caught:
        place(env, *wheels, **options)
    assert "Nothing was installed." in str(caught.value)
    return str(caught.value)


class TestContained:
    def test_by_path_components_not_by_string_prefix(self, tmp_path: Path) -> None:
        root = tmp_path / "site-packages"
        assert contained(root / "pkg" / "x.py", root)
        assert not contained(tmp_path / "site-packages-evil" / "x.py", root)
        assert not contained(tmp_path / "x.py", root)

    def test_a_link_on_disk_that_leaves_the_root_does_not_count(self, tmp_path: Path) -> None:
        root = tmp_path / "site-packages"
        root.mkdir()
        (tmp_path / "elsewhere").mkdir()
        (root / "pkg").symlink_to(tmp_path / "elsewhere")
        assert not contained(root / "pkg" / "x.py", root)

    def test_a_root_reached_through_a_link_is_still_the_root(self, tmp_path: Path) -> None:
        (tmp_path / "real").mkdir()
        (tmp_path / "link").symlink_to(tmp_path / "real")
        assert contained(tmp_path / "link" / "pkg" / "x.py", tmp_path / "link")


class TestSameContent:
    def test_only_a_regular_file_with_the_members_bytes(
        self, tmp_path: Path, wheel: WheelFactory
    ) -> None:
        path = wheel("alpha", "1.0", files={"alpha/__init__.py": "v = 1\n"})
        same, other, link = tmp_path / "same.py", tmp_path / "other.py", tmp_path / "link.py"
        same.write_text("v = 1\n")
        other.write_text("v = 2\n")
        link.symlink_to(same)
        assert same_content(path, "alpha/__init__.py", same)
        assert not same_content(path, "alpha/__init__.py", other)
        assert not same_content(path, "alpha/__init__.py", link)
        assert not same_content(path, None, same)
        assert not same_content(path, "alpha/__init__.py", tmp_path / "missing.py")


class TestLayOut:
    def test_every_file_gets_its_final_path(self, env: Env, wheel: WheelFactory) -> None:
        path = wheel(
            "alpha",
            "1.0",
            files={"alpha/__init__.py": "", "alpha-1.0.data/data/share/alpha.txt": "x"},
            entry_points={"alpha-cli": "alpha:main"},
        )
        layout = place(env, path)
        (placed,) = layout.wheels
        prefix = env[0].prefix
        assert set(placed.files) >= {
            site(env) / "alpha" / "__init__.py",
            site(env) / "alpha-1.0.dist-info" / "RECORD",
            prefix / "bin" / "alpha-cli",
            prefix / "share" / "alpha.txt",
        }
        assert layout.findings == ()

    def test_root_is_applied(self, tmp_path: Path, wheel: WheelFactory) -> None:
        env = fake_environment(tmp_path, root=str(tmp_path / "staging"))
        (placed,) = place(env, wheel("alpha", "1.0")).wheels
        relative = site(env).relative_to(site(env).anchor)
        assert tmp_path / "staging" / relative / "alpha" / "__init__.py" in placed.files

    def test_a_path_outside_its_scheme_is_refused_whatever_inspection_said(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        path = wheel("alpha", "1.0")
        dist = planned(path)
        info = WheelInfo(
            "alpha-1.0.dist-info",
            (WheelEntry("purelib", "../site-packages-evil/evil.py", "x"),),
        )
        with pytest.raises(UnsafeWheel) as caught:
            lay_out([(dist, path, info)], *env)
        assert f"{site(env)}-evil/evil.py, outside {site(env)}" in str(caught.value)

    def test_a_link_in_site_packages_leading_out_is_refused(
        self, env: Env, wheel: WheelFactory, tmp_path: Path
    ) -> None:
        (tmp_path / "outside").mkdir()
        (site(env) / "alpha").symlink_to(tmp_path / "outside")
        message = refused(env, wheel("alpha", "1.0"))
        assert "alpha/__init__.py: would be written to" in message
        assert "outside" in message

    def test_a_file_of_another_installed_project_is_refused(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        install(*env, wheel("beta", "1.0"))
        message = refused(env, wheel("gamma", "1.0", files={"beta/__init__.py": "evil = 1\n"}))
        assert "gamma 1.0 (gamma-1.0-py3-none-any.whl) would not stay in its place" in message
        assert f"would overwrite {site(env)}/beta/__init__.py, a file of the installed " in (
            message
        )
        assert "project beta" in message

    def test_an_identical_file_of_another_project_is_shared(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        namespace = "__import__('pkg_resources').declare_namespace(__name__)\n"
        files = {"ns/__init__.py": namespace}
        install(*env, wheel("beta", "1.0", files={**files, "ns/beta.py": ""}))
        layout = place(env, wheel("gamma", "1.0", files={**files, "ns/gamma.py": ""}))
        assert layout.wheels[0].shared == {site(env) / "ns" / "__init__.py"}
        assert site(env) / "ns" / "__init__.py" in layout.kept

    def test_a_file_no_project_owns_is_refused(self, env: Env, wheel: WheelFactory) -> None:
        (site(env) / "alpha").mkdir()
        (site(env) / "alpha" / "__init__.py").write_text("mine\n")
        message = refused(env, wheel("alpha", "1.0"))
        assert "which no installed project owns" in message

    def test_files_of_the_version_being_replaced_are_fine(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        install(*env, wheel("alpha", "1.0"))
        (placed,) = place(env, wheel("alpha", "2.0")).wheels
        assert [old.version for old in placed.replaces] == ["1.0"]

    def test_two_wheels_of_the_plan_writing_one_file_are_refused(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        message = refused(
            env,
            wheel("beta", "1.0", files={"shared/x.py": ""}),
            wheel("gamma", "1.0", files={"shared/x.py": ""}),
        )
        assert f"{site(env)}/shared/x.py is also written by beta-1.0" in message

    def test_one_wheel_writing_a_file_twice_is_refused(self, env: Env, wheel: WheelFactory) -> None:
        files = {"beta/x.py": "", "beta-1.0.data/purelib/beta/x.py": ""}
        message = refused(env, wheel("beta", "1.0", files=files))
        assert "is also written elsewhere in this wheel" in message

    def test_a_legacy_version_without_record_cannot_be_replaced(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        (site(env) / "alpha-0.1.egg-info").mkdir()
        with pytest.raises(InstallError) as caught:
            place(env, wheel("alpha", "1.0"))
        assert "Cannot replace alpha 0.1" in str(caught.value)

    def test_target_directory_keeps_what_is_there_without_upgrade(
        self, tmp_path: Path, wheel: WheelFactory
    ) -> None:
        env = fake_environment(tmp_path, target_dir=str(tmp_path / "target"))
        install(*env, wheel("alpha", "1.0"))
        layout = place(env, wheel("alpha", "2.0"))
        assert [d.label for d in layout.skipped] == ["alpha-2.0"]
        assert layout.wheels == ()
        (placed,) = place(env, wheel("alpha", "2.0"), upgrade=True).wheels
        assert [old.version for old in placed.replaces] == ["1.0"]


class TestStartupHooks:
    @pytest.mark.parametrize(
        ("files", "reason"),
        [
            ({"evil.pth": "import os\n"}, "evil.pth: a .pth file with an import line"),
            ({"sitecustomize.py": "print(1)\n"}, "sitecustomize.py: imported by site"),
            ({"usercustomize/__init__.py": ""}, "usercustomize/__init__.py: imported by site"),
            (
                {f"evil-1.0.data/data/{SITE}/evil_data.py": ""},
                "evil_data.py: written onto the import path through .data/data",
            ),
            (
                {f"evil-1.0.data/data/{SITE}/evil.pth": "import os\n"},
                "evil.pth: a .pth file with an import line",
            ),
            ({"evil-1.0.data/purelib/evil.pth": "import os\n"}, "a .pth file with an import"),
            ({"evil.pth": "# paths\x0cimport os\n"}, "evil.pth: a .pth file with an import"),
            ({"evil.start": "evil:main\n"}, "evil.start: a .start file, whose entry points"),
            ({"EVIL.START": ""}, "EVIL.START: a .start file"),
        ],
    )
    def test_refused_unless_allowed(
        self, env: Env, wheel: WheelFactory, files: dict[str, str], reason: str
    ) -> None:
        path = wheel("evil", "1.0", files={"evil/__init__.py": "", **files})
        message = refused(env, path)
        assert "evil 1.0 (evil-1.0-py3-none-any.whl) installs startup hooks" in message
        assert reason in message
        assert "--allow-startup-hooks evil" in message
        layout = place(env, path, allow_startup_hooks=NameSet(["evil"]))
        assert any(reason in finding.message for finding in layout.findings)
        place(env, path, allow_startup_hooks=NameSet([":all:"]))

    @pytest.mark.parametrize(
        ("dist_info", "member"),
        [
            ("Evil-1.0.dist-info", "evil-1.0.data/purelib/evil.pth"),
            ("Evil-1.0.dist-info", "evil-1.0.data/platlib/evil.pth"),
            ("EVIL-1.0.dist-info", f"evil-1.0.data/data/{SITE}/evil.pth"),
        ],
    )
    def test_found_through_the_data_directory_installer_reads(
        self, env: Env, wheel: WheelFactory, dist_info: str, member: str
    ) -> None:
        """The ``.data`` directory is named from the file name, as pypa/installer does."""
        files = {"evil/__init__.py": "", member: "import os\n"}
        path = wheel("evil", "1.0", dist_info=dist_info, files=files)
        assert "evil.pth: a .pth file with an import line" in refused(env, path)

    def test_another_projects_permission_does_not_count(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        path = wheel("evil", "1.0", files={"evil.pth": "import os\n"})
        refused(env, path, allow_startup_hooks=NameSet(["other"]))

    @pytest.mark.parametrize(
        "files",
        [
            {"paths.pth": "/opt/extra\n"},
            {"evil/sitecustomize.py": ""},
            {"evil/deep/evil.pth": "import os\n"},
            {"evil-1.0.data/data/share/evil/config.json": "{}"},
            {"evil-1.0.data/scripts/evil-tool": "#!python\n"},
            {"evil/deep/evil.start": "evil:main\n"},
        ],
    )
    def test_ordinary_files_are_not_hooks(
        self, env: Env, wheel: WheelFactory, files: dict[str, str]
    ) -> None:
        assert place(env, wheel("evil", "1.0", files=files)).findings == ()

    def test_data_files_of_a_target_directory_are_not_hooks(
        self, tmp_path: Path, wheel: WheelFactory
    ) -> None:
        env = fake_environment(tmp_path, target_dir=str(tmp_path / "target"))
        place(env, wheel("evil", "1.0", files={"evil-1.0.data/data/share/x.txt": ""}))
        refused(env, wheel("evil", "1.0", files={"evil.pth": "import os\n"}))


class TestKnownAndUnchangedHooks:
    """A hook that is nothing new installs without permission."""

    def test_a_hook_byte_identical_to_the_replaced_versions_is_not_new(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        install(
            *env,
            wheel("hooky", "1.0", files={"hooky.pth": "import sys\n"}),
            allow_startup_hooks=NameSet(["hooky"]),
        )
        place(env, wheel("hooky", "2.0", files={"hooky.pth": "import sys\n"}))
        assert "hooky.pth: a .pth file" in refused(
            env, wheel("hooky", "3.0", files={"hooky.pth": "import sys, os\n"})
        )

    def test_a_changed_file_on_disk_is_not_what_the_wheel_brings(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        install(
            *env,
            wheel("hooky", "1.0", files={"hooky.pth": "import sys\n"}),
            allow_startup_hooks=NameSet(["hooky"]),
        )
        (site(env) / "hooky.pth").write_text("import os\n")
        refused(env, wheel("hooky", "2.0", files={"hooky.pth": "import sys\n"}))

    def test_several_refused_projects_are_named_in_one_flag(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        message = refused(
            env,
            wheel("alpha", "1.0", files={"alpha.pth": "import sys\n"}),
            wheel("beta", "1.0", files={"beta.pth": "import sys\n"}),
        )
        assert "alpha 1.0 (alpha-1.0-py3-none-any.whl) and beta 1.0" in message
        assert message.count("--allow-startup-hooks") == 1
        assert "--allow-startup-hooks alpha,beta (or" in message

    def test_the_early_check_refuses_what_lay_out_refuses(
        self, env: Env, wheel: WheelFactory
    ) -> None:
        wheels = [
            wheel("alpha", "1.0", files={"alpha.pth": "import sys\n"}),
            wheel("beta", "1.0", files={"beta.pth": "import sys\n"}),
            wheel("gamma", "1.0"),
        ]
        with pytest.raises(UnsafeWheel) as caught:
            check_startup_hooks([(planned(path), path) for path in wheels], *env)
        assert str(caught.value) == refused(env, *wheels)
        check_startup_hooks(
            [(planned(path), path) for path in wheels],
            *env,
            allow_startup_hooks=NameSet(["alpha", "beta"]),
        )

    @pytest.mark.parametrize(
        "in_the_way",
        ["nsp/__init__.py", "nsp.py", "nsp.cpython-311-x86_64-linux-gnu.so", "nsp/__init__.so"],
    )
    @pytest.mark.parametrize("where", ["installed", "planned"])
    def test_a_namespace_hook_with_a_module_where_it_looks_is_refused(
        self, env: Env, wheel: WheelFactory, in_the_way: str, where: str
    ) -> None:
        nspkg = wheel("nsp-part", "1.0", files=_nspkg_files())
        assert place(env, nspkg).findings == ()
        other = wheel("other", "1.0", files={in_the_way: ""})
        if where == "installed":
            install(*env, other)
            assert "nsp_part-1.0-py3.9-nspkg.pth: a .pth file" in refused(env, nspkg)
        else:
            assert "nsp_part-1.0-py3.9-nspkg.pth: a .pth file" in refused(env, nspkg, other)


def _nspkg_files() -> dict[str, str]:
    line = (
        "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], "
        "*('nsp',));importlib = __import__('importlib.util');__import__('importlib.machinery');"
        "m = sys.modules.setdefault('nsp', importlib.util.module_from_spec("
        "importlib.machinery.PathFinder.find_spec('nsp', [os.path.dirname(p)])));"
        "m = m or sys.modules.setdefault('nsp', types.ModuleType('nsp'));"
        "mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n"
    )
    return {
        "nsp/part/__init__.py": "",
        "nsp_part-1.0-py3.9-nspkg.pth": line,
        "nsp_part-1.0.dist-info/namespace_packages.txt": "nsp\n",
    }
