"""Inspection: one wheel per refusal reason, each refused with that reason named."""

from __future__ import annotations

import ast
import base64
import codecs
import encodings
import hashlib
import importlib.util
import io
import pkgutil
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import installer
import pytest
from installer.destinations import WheelDestination
from installer.records import RecordEntry
from installer.sources import WheelFile

from safe_pip.distfiles import url_key
from safe_pip.errors import PolicyDenied, UnsafeWheel
from safe_pip.install import archive_checks, inspection, known_hooks
from safe_pip.install.inspection import WheelEntry, check_direct_urls, inspect_wheel
from safe_pip.models import DistKind, IndexFile, Plan, PlannedDist
from tests.support.dists import record_line
from tests.support.environments import planned

WheelFactory = Callable[..., Path]


def refusal(wheel: Path, dist: PlannedDist | None = None, **kwargs: Any) -> str:
    with pytest.raises(UnsafeWheel) as caught:
        inspect_wheel(dist or planned(wheel), wheel, **kwargs)
    message = str(caught.value)
    assert wheel.name in message
    assert "Nothing was installed" in message
    return message


def _change(member: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    def mutate(members: dict[str, bytes]) -> None:
        members[member] = data

    return mutate


def _drop(member: str) -> Callable[[dict[str, bytes]], None]:
    def mutate(members: dict[str, bytes]) -> None:
        del members[member]

    return mutate


_PLATLIB = b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n"


def _rewrite(member: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    """Change a member and write a RECORD that agrees, so only the change is judged."""

    def mutate(members: dict[str, bytes]) -> None:
        members[member] = data
        record = next(p for p in members if p.endswith(".dist-info/RECORD"))
        rows = [record_line(p, d) for p, d in members.items() if p != record]
        members[record] = ("\n".join([*rows, f"{record},,"]) + "\n").encode()

    return mutate


def _md5_record(members: dict[str, bytes]) -> None:
    def row(path: str, data: bytes) -> str:
        digest = base64.urlsafe_b64encode(hashlib.md5(data).digest()).rstrip(b"=").decode()  # noqa: S324
        return f"{path},md5={digest},{len(data)}"

    record = "alpha-1.0.dist-info/RECORD"
    rows = [row(p, d) for p, d in members.items() if p != record]
    members[record] = ("\n".join([*rows, f"{record},,"]) + "\n").encode()


def _encrypt_first_member(path: Path) -> None:
    """Set the "encrypted" flag of the central directory's first entry."""
    data = bytearray(path.read_bytes())
    first = data.index(b"PK\x01\x02")
    data[first + 8] |= 0x1
    path.write_bytes(bytes(data))


def _point_second_member_at_first(path: Path) -> None:
    """Make the central directory's second entry reuse the first entry's data."""
    data = bytearray(path.read_bytes())
    first = data.index(b"PK\x01\x02")
    second = data.index(b"PK\x01\x02", first + 4)
    data[second + 42 : second + 46] = data[first + 42 : first + 46]
    path.write_bytes(bytes(data))


class TestInspectWheel:
    def test_a_valid_wheel_lists_every_file_the_installer_writes(self, wheel: WheelFactory) -> None:
        path = wheel(
            "alpha",
            "1.0",
            files={
                "alpha/__init__.py": "",
                "alpha/__pycache__/x.cpython-311.pyc": b"ignored by installer",
                "alpha-1.0.data/scripts/tool": "#!python\n",
                "alpha-1.0.data/data/share/alpha.txt": "data",
            },
            entry_points={"alpha-cli": "alpha:main"},
        )
        info = inspect_wheel(planned(path), path)
        assert info.dist_info == "alpha-1.0.dist-info"
        assert set(info.entries) == {
            WheelEntry("scripts", "alpha-cli"),
            WheelEntry("purelib", "alpha/__init__.py", "alpha/__init__.py"),
            WheelEntry("scripts", "tool", "alpha-1.0.data/scripts/tool"),
            WheelEntry("data", "share/alpha.txt", "alpha-1.0.data/data/share/alpha.txt"),
            WheelEntry("purelib", "alpha-1.0.dist-info/METADATA", "alpha-1.0.dist-info/METADATA"),
            WheelEntry("purelib", "alpha-1.0.dist-info/WHEEL", "alpha-1.0.dist-info/WHEEL"),
            WheelEntry(
                "purelib",
                "alpha-1.0.dist-info/entry_points.txt",
                "alpha-1.0.dist-info/entry_points.txt",
            ),
            WheelEntry("purelib", "alpha-1.0.dist-info/INSTALLER"),
            WheelEntry("purelib", "alpha-1.0.dist-info/REQUESTED"),
            WheelEntry("purelib", "alpha-1.0.dist-info/direct_url.json"),
            WheelEntry("purelib", "alpha-1.0.dist-info/RECORD"),
        }

    def test_windows_scripts_are_launchers(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", entry_points={"alpha-cli": "alpha:main"})
        info = inspect_wheel(planned(path), path, script_kind="win-amd64")
        assert WheelEntry("scripts", "alpha-cli.exe") in info.entries

    def test_pth_files_with_import_lines_are_marked(self, wheel: WheelFactory) -> None:
        path = wheel(
            "alpha",
            "1.0",
            files={
                "alpha.pth": "# a comment\nimport os; os.system('x')\n",
                "bom.pth": b"\xef\xbb\xbfimport\tsys\n",
                "paths.pth": "/opt/extra\nimportant_dir\n",
            },
        )
        info = inspect_wheel(planned(path), path)
        runs_code = {entry.path: entry.runs_code for entry in info.entries}
        assert runs_code["alpha.pth"] is True
        assert runs_code["bom.pth"] is True
        assert runs_code["paths.pth"] is False

    def test_platlib_wheels_go_to_platlib(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", mutate=_rewrite("alpha-1.0.dist-info/WHEEL", _PLATLIB))
        info = inspect_wheel(planned(path), path)
        assert WheelEntry("platlib", "alpha/__init__.py", "alpha/__init__.py") in info.entries

    @pytest.mark.parametrize(
        ("spec", "reason"),
        [
            ({"dist_info": "other-1.0.dist-info"}, "does not match the file name"),
            ({"metadata_name": "other"}, "METADATA says other 1.0"),
            ({"metadata_version": "9.0"}, "METADATA says alpha 9.0"),
            ({"record": False}, "Unable to retrieve `RECORD`"),
            (
                {"mutate": _change("alpha/extra.py", b"x = 1\n")},
                "alpha/extra.py is not mentioned in RECORD",
            ),
            ({"mutate": _md5_record}, "with md5, which is too weak"),
            (
                {
                    "mutate": _rewrite(
                        "alpha-1.0.dist-info/METADATA", b"Name: al\xffpha\nVersion: 1.0\n"
                    )
                },
                "METADATA is not UTF-8 text",
            ),
            ({"files": {"/tmp/evil.py": ""}}, "'/tmp/evil.py' is an absolute path"),
            ({"files": {"C:/evil.py": ""}}, "is an absolute path"),
            ({"files": {"../evil.py": ""}}, "'../evil.py' contains '..'"),
            (
                {"files": {"../site-packages-evil/evil.py": ""}},
                "'../site-packages-evil/evil.py' contains '..'",
            ),
            ({"files": {"alpha\\evil.py": ""}}, "contains a backslash"),
            ({"files": {"alpha-1.0.data/evil/x.py": ""}}, "not in a known .data scheme"),
            ({"files": {"alpha-1.0.data/purelib": ""}}, "not in a known .data scheme"),
            (
                {"files": {"alpha-1.0.data/purelib/beta-1.0.dist-info/METADATA": "Name: beta"}},
                "would create metadata of another project (beta-1.0.dist-info)",
            ),
            (
                {"files": {"alpha-1.0.dist-info/INSTALLER": "pip\n"}},
                "is a file the installer writes itself",
            ),
            (
                {"entry_points": {"../../bin/evil": "alpha:main"}},
                "console script name '../../bin/evil' is not a plain file name",
            ),
            ({"entry_points": {"..": "alpha:main"}}, "console script name '..'"),
            ({"entry_points": {"a\\b": "alpha:main"}}, "console script name 'a\\\\b'"),
            ({"entry_points": {"broken": "not a target"}}, "entry_points.txt cannot be read"),
            (
                {"appended": [("alpha/__init__.py", b"print('second copy')\n")]},
                "duplicate archive member 'alpha/__init__.py'",
            ),
            (
                {"symlinks": {"alpha/passwd": "/etc/passwd"}},
                "'alpha/passwd' is a symbolic link",
            ),
            ({"files": {"alpha/bomb.bin": b"\0" * (65 << 20)}}, "'alpha/bomb.bin' expands"),
            ({"prefix": b"#!/bin/sh\necho polyglot\n"}, "bytes before 'alpha/__init__.py'"),
            (
                {"mutate": _drop("alpha-1.0.dist-info/WHEEL")},
                "alpha-1.0.dist-info/WHEEL is missing",
            ),
            (
                {"mutate": _rewrite("alpha-1.0.dist-info/WHEEL", b"Wheel-Version: 2.0\n")},
                "unsupported Wheel-Version '2.0'",
            ),
            ({"mutate": _drop("alpha-1.0.dist-info/METADATA")}, "METADATA is missing"),
            (
                {"requires": ["evil @ https://example.invalid/evil-1.0.tar.gz"]},
                "requires 'evil @ https://example.invalid/evil-1.0.tar.gz', a direct URL",
            ),
        ],
        ids=lambda value: value if isinstance(value, str) else None,
    )
    def test_refused(self, wheel: WheelFactory, spec: dict[str, Any], reason: str) -> None:
        path = wheel("alpha", "1.0", **spec)
        assert reason in refusal(path)

    def test_metadata_differing_from_what_pip_resolved_with(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", requires=["beta>=2"], requires_python=">=3.8")
        message = refusal(path, planned(path, ["beta>=1"], ">=3.8"))
        assert "requires-dist differs from the metadata pip resolved with" in message
        message = refusal(path, planned(path, ["beta>=2"], ">=3.12"))
        assert "requires-python differs" in message

    def test_whitespace_and_order_of_requirements_do_not_matter(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", requires=["gamma", "beta >=1"])
        inspect_wheel(planned(path, ["beta   >=1", "gamma"]), path)

    def test_file_name_must_match_the_plan(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0")
        dist = planned(path)
        other = PlannedDist(
            name=dist.name,
            version=dist.version.__class__("2.0"),
            kind=dist.kind,
            requested=True,
            metadata={"name": "alpha", "version": "2.0"},
            local_path=dist.local_path,
        )
        assert "file name says alpha 1.0, the plan says alpha 2.0" in refusal(path, other)

    def test_approved_direct_url_requirements_pass(self, wheel: WheelFactory) -> None:
        url = "https://example.invalid/evil-1.0-py3-none-any.whl"
        path = wheel("alpha", "1.0", requires=[f"evil @ {url}"])
        inspect_wheel(planned(path, [f"evil @ {url}"]), path, approved_urls={url_key(url)})

    def test_overlapping_members_are_refused_before_they_are_read(
        self, wheel: WheelFactory
    ) -> None:
        path = wheel("alpha", "1.0")
        _point_second_member_at_first(path)
        assert "overlaps the member before it" in refusal(path)

    def test_encrypted_members_are_refused_before_they_are_read(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0")
        _encrypt_first_member(path)
        assert "'alpha/__init__.py' is encrypted" in refusal(path)

    def test_not_a_zip_archive(self, tmp_path: Path) -> None:
        path = tmp_path / "alpha-1.0-py3-none-any.whl"
        path.write_bytes(b"not a zip")
        assert "not a readable zip archive" in refusal(path)

    def test_every_problem_is_listed(self, wheel: WheelFactory) -> None:
        path = wheel(
            "alpha",
            "1.0",
            metadata_name="other",
            files={"../evil.py": "", "alpha/__init__.py": ""},
            entry_points={"a/b": "alpha:main"},
        )
        message = refusal(path)
        assert "METADATA says other" in message
        assert "contains '..'" in message
        assert "'a/b' is not a plain file name" in message


def _direct(url: str) -> PlannedDist:
    file = IndexFile(
        filename="evil-1.0-py3-none-any.whl",
        url=url,
        project=planned(Path("evil-1.0-py3-none-any.whl")).name,
        version=planned(Path("evil-1.0-py3-none-any.whl")).version,
        kind=DistKind.WHEEL,
        sha256="0" * 64,
    )
    dist = planned(Path("evil-1.0-py3-none-any.whl"))
    return PlannedDist(
        name=dist.name,
        version=dist.version,
        kind=DistKind.WHEEL,
        requested=False,
        metadata=dist.metadata,
        file=file,
    )


class TestCheckDirectUrls:
    def test_a_url_no_requirement_names_is_refused(self) -> None:
        plan = Plan((_direct("https://evil.invalid/evil-1.0-py3-none-any.whl"),))
        with pytest.raises(PolicyDenied) as caught:
            check_direct_urls(plan, frozenset())
        assert "evil-1.0 from https://evil.invalid/evil-1.0-py3-none-any.whl" in str(caught.value)
        assert "'NAME @ URL'" in str(caught.value)

    def test_a_url_the_user_gave_passes(self) -> None:
        url = "https://user:secret@evil.invalid/evil-1.0-py3-none-any.whl"
        plan = Plan((_direct("https://evil.invalid/evil-1.0-py3-none-any.whl"),))
        check_direct_urls(plan, frozenset({url_key(url + "#sha256=abc")}))

    def test_distributions_from_sources_are_not_direct(self, wheel: WheelFactory) -> None:
        check_direct_urls(Plan((planned(wheel("alpha", "1.0")),)), frozenset())


class TestExpansion:
    def test_megabytes_of_zeros_are_not_a_bomb(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", files={"alpha/zeros.pb": b"\0" * (3 << 20)})
        inspect_wheel(planned(path), path)

    def test_many_members_that_together_expand_too_far_are_a_bomb(
        self, wheel: WheelFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(archive_checks, "_BIG_ARCHIVE", 8 << 20)
        files = {f"alpha/bomb{n}.bin": b"\0" * (3 << 20) for n in range(3)}
        path = wheel("alpha", "1.0", files=files)
        assert "archive expands to 94" in refusal(path)


class _Recording(WheelDestination):
    """pypa/installer's destination that writes nothing and notes where each file goes."""

    def __init__(self) -> None:
        self.written: set[tuple[str, str]] = set()

    def write_script(self, name: str, module: str, attr: str, section: Any) -> RecordEntry:
        self.written.add(("scripts", name))
        return RecordEntry(name, None, None)

    def write_file(self, scheme: Any, path: Any, stream: BinaryIO, is_executable: bool) -> Any:
        self.written.add((scheme, str(path)))
        return RecordEntry(str(path), None, None)

    def finalize_installation(self, scheme: Any, record_file_path: str, records: Any) -> None:
        self.written.add((scheme, record_file_path))


_MAIN = "pip._internal.cli.main:main"


class TestPipScripts:
    """The scripts pip itself writes for pip (and easy_install)."""

    @pytest.mark.parametrize(
        "declared",
        [
            {"pip": _MAIN, "pip3": _MAIN, "pip3.9": _MAIN},
            {"pip3": _MAIN, "pip": "other:main", "pip2.7": _MAIN, "tool": "t:main"},
            {"easy_install": "setuptools.command.easy_install:main", "easy_install-3.6": "x:y"},
            {"pip3": _MAIN, "pip3.9": _MAIN},
            {"pipx": "pipx.main:cli", "pip-audit": "pip_audit._cli:audit", "pip": _MAIN},
            {"alpha-cli": "alpha:main"},
        ],
    )
    def test_the_names_of_pips_own_rule(self, declared: dict[str, str]) -> None:
        # pip's own function names the scripts for the interpreter running it.
        from pip._internal.operations.install.wheel import (
            get_console_script_specs,
        )

        text = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in declared.items())
        scripts = inspection.pip_scripts(
            list(installer.utils.parse_entrypoints(text)), sys.version_info[:2]
        )
        assert [f"{name} = {module}:{attr}" for name, module, attr, _ in scripts] == (
            get_console_script_specs(declared)
        )

    def test_the_installer_writes_the_names_inspection_lists(self, wheel: WheelFactory) -> None:
        path = wheel("pip", "1.0", entry_points={"pip": _MAIN, "pip3": _MAIN, "pip3.9": _MAIN})
        info = inspect_wheel(planned(path), path, python_version=(3, 14))
        assert info.scripts_renamed
        names = {entry.path for entry in info.entries if entry.scheme == "scripts"}
        assert names == {"pip", "pip3", "pip3.14"}
        text = inspection.entry_points_text(info.scripts)
        assert list(installer.utils.parse_entrypoints(text)) == list(info.scripts)

    def test_other_projects_are_left_as_declared(self, wheel: WheelFactory) -> None:
        path = wheel("alpha", "1.0", entry_points={"alpha3.9": "alpha:main"})
        info = inspect_wheel(planned(path), path, python_version=(3, 14))
        assert not info.scripts_renamed
        assert info.scripts == (("alpha3.9", "alpha", "main", "console"),)


_PRECEDENCE = (
    b"import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == "
    b"'local'; enabled and __import__('_distutils_hack').add_shim(); \n"
)
_HACK = ["_distutils_hack/__init__.py"]


def _setuptools_nspkg(namespaces: list[str]) -> bytes:
    """The -nspkg.pth the installed setuptools writes for these packages, from the
    templates in its source (importing setuptools would patch distutils in this process)."""
    spec = importlib.util.find_spec("setuptools")
    assert spec is not None and spec.origin is not None
    source = (Path(spec.origin).parent / "namespaces.py").read_text()
    templates = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("_nspkg_tmpl", "_nspkg_tmpl_multi")
    }
    root = "sys._getframe(1).f_locals['sitedir']"
    assert repr(root) in source or f'"{root}"' in source
    lines = []
    for pkg in sorted(namespaces):
        parent, _, child = pkg.rpartition(".")
        template = templates["_nspkg_tmpl"] + (templates["_nspkg_tmpl_multi"] if parent else ())
        values = {"root": root, "pth": tuple(pkg.split(".")), "pkg": pkg}
        lines.append(";".join(template) % {**values, "parent": parent, "child": child} + "\n")
    return "".join(lines).encode()


class TestKnownHooks:
    """Well-known startup hooks, recognised by their exact bytes only."""

    def test_distutils_precedence_as_the_installed_setuptools_wrote_it(self) -> None:
        installed = Path(sysconfig.get_paths()["purelib"]) / "distutils-precedence.pth"
        if not installed.is_file():
            pytest.skip("this setuptools installed no distutils-precedence.pth")
        data = installed.read_bytes()
        assert inspection.known_hook("setuptools", installed.name, data, (), _HACK)

    @pytest.mark.parametrize(
        ("project", "path", "data", "ships"),
        [
            ("setuptools", "distutils-precedence.pth", _PRECEDENCE + b"import evil\n", _HACK),
            ("setuptools", "distutils-precedence.pth", _PRECEDENCE.replace(b"; \n", b"\n"), _HACK),
            ("setuptools", "distutils-precedence.pth", _PRECEDENCE, []),
            ("setuptools", "other.pth", _PRECEDENCE, _HACK),
            ("setuptools", "sub/distutils-precedence.pth", _PRECEDENCE, _HACK),
            ("setuptools-evil", "distutils-precedence.pth", _PRECEDENCE, _HACK),
        ],
        ids=["more-lines", "one-byte-less", "hack-not-shipped", "renamed", "not-top", "project"],
    )
    def test_anything_else_is_unknown(
        self, project: str, path: str, data: bytes, ships: list[str]
    ) -> None:
        assert inspection.known_hook(project, path, data, (), ships) is None

    @pytest.mark.parametrize("namespaces", [["zope"], ["a", "a.b"], ["a", "a.b", "a.b.c", "z"]])
    def test_a_namespace_hook_as_setuptools_writes_it(self, namespaces: list[str]) -> None:
        data = _setuptools_nspkg(namespaces)
        ships = [f"{name.replace('.', '/')}/x/m.py" for name in namespaces]
        known = inspection.known_hook("x", "x-1.0-py3.9-nspkg.pth", data, namespaces, ships)
        assert known is not None
        assert ", ".join(namespaces) in known

    def test_a_namespace_hook_for_other_packages_is_unknown(self) -> None:
        data = _setuptools_nspkg(["a", "evil"])
        ships = ["a/x/m.py", "evil/x/m.py"]
        assert inspection.known_hook("x", "x-nspkg.pth", data, ["a"], ships) is None
        assert inspection.known_hook("x", "x.pth", data, ["a", "evil"], ships) is None
        assert inspection.known_hook("x", "x-nspkg.pth", data, ["a", "evil"], ["a/m.py"]) is None
        tampered = data.replace(b"types.ModuleType", b"__import__('evil') or types.ModuleType")
        assert inspection.known_hook("x", "x-nspkg.pth", tampered, ["a", "evil"], ships) is None

    def test_a_namespace_hook_over_the_standard_library_is_unknown(self) -> None:
        """It would put a namespace module in place of ``json`` in ``sys.modules``."""
        data = _setuptools_nspkg(["json"])
        assert inspection.known_hook("x", "x-nspkg.pth", data, ["json"], ["json/x.py"]) is None

    def test_namespaces_come_from_namespace_packages_txt(self, wheel: WheelFactory) -> None:
        data = _setuptools_nspkg(["a", "a.b"]).decode()
        files = {
            "a/b/c/__init__.py": "",
            "c-1.0-py3.9-nspkg.pth": data,
            "c-1.0.dist-info/namespace_packages.txt": "a.b\n",
        }
        path = wheel("c", "1.0", files=files)
        info = inspect_wheel(planned(path), path)
        assert info.namespaces == ("a", "a.b")
        (entry,) = [entry for entry in info.entries if entry.path.endswith(".pth")]
        assert entry.runs_code
        assert entry.known_hook == "setuptools' namespace-package hook for a, a.b"


class TestMayInstallHooks:
    """The cheap look that spares :func:`inspection.peek_wheel` most wheels: it must find
    every wheel placement could find a startup hook in."""

    @pytest.mark.parametrize(
        ("files", "entry_points", "expected"),
        [
            ({"alpha/__init__.py": ""}, {}, False),
            ({"alpha/data.json": "", "alpha/x.pthx": ""}, {"alpha": "alpha:main"}, False),
            ({"alpha.pth": "/opt\n"}, {}, True),
            ({"deep/in/x.PTH": ""}, {}, True),
            ({"alpha.start": ""}, {}, True),
            ({"SiteCustomize.py": ""}, {}, True),
            ({"usercustomize/__init__.py": ""}, {}, True),
            ({"alpha-1.0.data/data/share/x": ""}, {}, True),
            ({"alpha/__init__.py": ""}, {"sitecustomize": "alpha:main"}, True),
            # Only a top-level .dist-info's entry_points.txt declares scripts.
            (
                {"alpha/x.dist-info/entry_points.txt": "[console_scripts]\nsitecustomize = a:b\n"},
                {},
                False,
            ),
        ],
    )
    def test_finds_every_possible_hook(
        self,
        wheel: WheelFactory,
        files: dict[str, str],
        entry_points: dict[str, str],
        expected: bool,
    ) -> None:
        path = wheel("alpha", "1.0", files=files, entry_points=entry_points)
        assert inspection.may_install_hooks(path) is expected


class TestInstallerReading:
    """Every member is placed where pypa/installer will write it (DESIGN invariant 8), which
    names the ``.data`` directory from the file name, not from the ``.dist-info``."""

    @pytest.mark.parametrize(
        ("name", "version", "dist_info", "data_dir"),
        [
            ("alpha", "1.0", None, "alpha-1.0.data"),
            ("alpha", "1.0", "Alpha-1.0.dist-info", "alpha-1.0.data"),
            ("alpha", "1.0", "ALPHA-1.0.dist-info", "alpha-1.0.data"),
            ("foo-bar", "1.0", "Foo.Bar-1.0.dist-info", "foo_bar-1.0.data"),
            ("foo-bar", "1.0", "foo.bar-1.0.dist-info", "foo_bar-1.0.data"),
            ("alpha", "1.0.0", "alpha-1.0.dist-info", "alpha-1.0.0.data"),
            ("alpha", "01.0", "alpha-1.0.dist-info", "alpha-01.0.data"),
            ("alpha", "1.0", "alpha-1.0.0.dist-info", "alpha-1.0.data"),
        ],
    )
    def test_entries_are_what_installer_writes(
        self,
        wheel: WheelFactory,
        name: str,
        version: str,
        dist_info: str | None,
        data_dir: str,
    ) -> None:
        package = name.replace("-", "_")
        files = {
            f"{package}/__init__.py": "",
            f"{data_dir}/purelib/hook.pth": "/opt/x\n",
            f"{data_dir}/platlib/{package}_ext.py": "",
            f"{data_dir}/scripts/tool": "#!python\n",
            f"{data_dir}/headers/{package}.h": "",
            f"{data_dir}/data/share/{package}.txt": "",
        }
        path = wheel(name, version, dist_info=dist_info, files=files)
        info = inspect_wheel(planned(path), path)
        recording = _Recording()
        with WheelFile.open(path) as source:
            installer.install(source, recording, {"INSTALLER": b"safe-pip\n"})
        ours = {(entry.scheme, entry.path) for entry in info.entries}
        assert recording.written <= ours
        assert ("purelib", "hook.pth") in recording.written
        assert ("data", f"share/{package}.txt") in recording.written
        assert ours - recording.written == {
            ("purelib", f"{info.dist_info}/{generated}")
            for generated in ("REQUESTED", "direct_url.json")
        }

    @pytest.mark.parametrize(
        ("spec", "reason"),
        [
            (
                {"files": {"Alpha-1.0.data/purelib/alpha.pth": "import os\n"}},
                "Alpha-1.0.data is not the .data directory pypa/installer reads "
                "(alpha-1.0.data, named from the file name)",
            ),
            (
                {
                    "dist_info": "Alpha-1.0.dist-info",
                    "files": {
                        "Alpha-1.0.data/purelib/alpha/x.py": "",
                        "alpha-1.0.data/purelib/alpha/y.py": "",
                    },
                },
                "Alpha-1.0.data is not the .data directory pypa/installer reads",
            ),
            (
                {"files": {"alpha-1.0.0.data/scripts/tool": "#!python\n"}},
                "alpha-1.0.0.data is not the .data directory pypa/installer reads",
            ),
            (
                {"files": {"ALPHA-1.0.DATA/scripts/tool": "#!python\n"}},
                "ALPHA-1.0.DATA is not the .data directory pypa/installer reads",
            ),
            (
                {"dist_info": "al-pha-1.0.dist-info"},
                "al-pha-1.0.dist-info does not match the file name",
            ),
            (
                {"files": {"alpha-1.0.data/purelib/alpha-1.0.dist-info/entry_points.txt": ""}},
                "writes into alpha-1.0.dist-info through .data",
            ),
            (
                {"files": {"alpha-1.0.data/platlib/Beta-2.0.DIST-INFO/METADATA": ""}},
                "would create metadata of another project (Beta-2.0.DIST-INFO)",
            ),
            ({"files": {"alpha//x.py": ""}}, "'alpha//x.py' has an empty or '.' path component"),
            (
                {"files": {"./alpha-1.0.data/purelib/x.pth": "import os\n"}},
                "has an empty or '.' path component",
            ),
            (
                {"files": {"alpha-1.0.data/./purelib/x.pth": "import os\n"}},
                "has an empty or '.' path component",
            ),
            ({"files": {"other.dist-info": ""}}, "expected exactly one .dist-info directory"),
        ],
        ids=lambda value: value if isinstance(value, str) else None,
    )
    def test_refused(self, wheel: WheelFactory, spec: dict[str, Any], reason: str) -> None:
        path = wheel("alpha", "1.0", **spec)
        assert reason in refusal(path)


# Every character str.splitlines() ends a line at (Python 3.13+ site), and text mode's.
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _locale_codecs() -> list[str]:
    """Every codec that could be a locale encoding: ASCII reads as ASCII, both ways."""
    names = {module.name for module in pkgutil.iter_modules(encodings.__path__)}
    ascii_text = bytes(range(128))
    found = []
    for name in sorted(names):
        if "escape" in name:  # Python literals, not file encodings
            continue
        try:
            if not codecs.lookup(name)._is_text_encoding:
                continue
            text = ascii_text.decode(name)
            same = text == ascii_text.decode("ascii") and text.encode(name) == ascii_text
        except (LookupError, ValueError, TypeError):
            continue
        if same:
            found.append(name)
    return found


class TestPthReading:
    """A ``.pth`` line is code if any supported ``site`` would run it (DESIGN invariant 8)."""

    @pytest.mark.parametrize("separator", list(_BREAKS), ids=lambda s: f"U+{ord(s):04X}")
    def test_a_line_behind_any_line_break_of_any_version_is_code(self, separator: str) -> None:
        data = f"# a comment{separator}import os; os.system('x')\n".encode()
        assert known_hooks.runs_code(data)

    @pytest.mark.parametrize(
        "data",
        [
            b"import os\n",
            b"import\tos\n",
            b"\xef\xbb\xbfimport os\n",
            b"# comment\r\nimport os",
            b"# caf\xe9\x85import os\n",  # not UTF-8: latin-1 locale, \x85 is NEL
            "# 注释\u2028import os\n".encode("gb18030"),
            "# 注释\x85import os\n".encode("gb18030"),
            b"  import os\n",  # site would not run it; stricter here costs nothing
        ],
    )
    def test_code(self, data: bytes) -> None:
        assert known_hooks.runs_code(data)

    @pytest.mark.parametrize(
        "data",
        [
            b"/opt/extra\nimportant_dir\n",
            b"# import os\n",
            b"import_dir\n",
            b"importos\n",
            b"lib\\import os\n",
        ],
    )
    def test_not_code(self, data: bytes) -> None:
        assert not known_hooks.runs_code(data)

    @pytest.mark.parametrize("codec", _locale_codecs())
    def test_every_line_break_in_every_locale_encoding_is_known(self, codec: str) -> None:
        for char in _BREAKS:
            try:
                encoded = char.encode(codec)
            except UnicodeEncodeError:
                continue
            data = b"# comment" + encoded + b"import os\n"
            assert known_hooks.runs_code(data), (codec, char, encoded)

    @pytest.mark.parametrize("codec", ["utf-8", "latin-1", "cp1252", "gb18030", "shift_jis"])
    def test_agrees_with_each_real_reading(self, codec: str) -> None:
        """Where 3.11/3.12 (text mode) or 3.13+ (``splitlines``) would run a line, so do we."""
        for char in _BREAKS:
            for text in (f"# x{char}import os\n", f"/opt/x{char}# y{char}import\tos"):
                try:
                    data = text.encode(codec)
                except UnicodeEncodeError:
                    continue
                decoded = data.decode(codec)
                old = io.TextIOWrapper(io.BytesIO(data), encoding=codec)
                readings = [list(old), decoded.splitlines()]
                runs = any(
                    line.startswith(("import ", "import\t")) for lines in readings for line in lines
                )
                assert known_hooks.runs_code(data) >= runs, (codec, text)
