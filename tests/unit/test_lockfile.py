from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from safe_pip.errors import SourceError, UsageError
from safe_pip.models import (
    DistKind,
    IndexFile,
    Plan,
    PlannedDist,
    ProjectPage,
    ServedProject,
    SourceSpec,
)
from safe_pip.resolve.lockfile import check_lockable, locked_projects, render_requirements
from safe_pip.resolve.requirement_line import RequirementLine
from safe_pip.resolve.requirements import parse_files

CORP = SourceSpec("corp", "https://corp.example/simple/")


def _file(name: str, version: str, tag: str, digest: str) -> IndexFile:
    return IndexFile(
        f"{name}-{version}-{tag}.whl",
        f"https://files.example/{name}-{version}-{tag}.whl",
        canonicalize_name(name),
        Version(version),
        DistKind.WHEEL,
        digest * 64,
    )


def _served(name: str, *files: IndexFile) -> ServedProject:
    return ServedProject(ProjectPage(canonicalize_name(name), CORP, files), files, ())


def _planned(file: IndexFile) -> PlannedDist:
    return PlannedDist(file.project, file.version, DistKind.WHEEL, True, {}, file, CORP)


class TestLockedProjects:
    def test_every_served_file_of_the_pinned_version_sorted_by_name(self) -> None:
        beta_any = _file("beta", "1.1", "py3-none-any", "b")
        beta_linux = _file("beta", "1.1", "cp311-cp311-linux_x86_64", "a")
        beta_old = _file("beta", "1.0", "py3-none-any", "c")
        alpha = _file("alpha", "1.0", "py3-none-any", "d")
        served: dict[NormalizedName, ServedProject | None] = {
            canonicalize_name("beta"): _served("beta", beta_old, beta_any, beta_linux),
            canonicalize_name("alpha"): _served("alpha", alpha),
        }
        projects = locked_projects(Plan((_planned(beta_any), _planned(alpha))), served)
        assert [p.name for p in projects] == ["alpha", "beta"]
        assert projects[1].sha256s == ("a" * 64, "b" * 64)
        assert projects[1].source is CORP

    def test_a_local_project_cannot_be_locked(self) -> None:
        dist = PlannedDist(
            canonicalize_name("proj"), Version("1"), DistKind.LOCAL_DIR, True, {}, local_path="/p"
        )
        with pytest.raises(UsageError, match="proj: cannot lock local directory /p"):
            locked_projects(Plan((dist,)), {})


class TestCheckLockable:
    @pytest.mark.parametrize(
        "line",
        [
            RequirementLine("./proj", "command line", editable=True),
            RequirementLine("./dist/x-1.0-py3-none-any.whl", "command line"),
            RequirementLine("x @ https://files.example/x-1.0.tar.gz", "-r r.in (line 2)"),
        ],
    )
    def test_paths_urls_and_editables_are_refused_up_front(self, line: RequirementLine) -> None:
        with pytest.raises(UsageError, match="safe-pip lock cannot lock"):
            check_lockable([line, RequirementLine("beta>=1", "command line")])

    def test_index_requirements_pass(self) -> None:
        check_lockable([RequirementLine("beta[extra]>=1; python_version>'3'", "command line")])


class TestRenderRequirements:
    def test_pip_format_with_continuations_and_the_source(self) -> None:
        a = _file("beta", "1.1", "py3-none-any", "a")
        b = _file("beta", "1.1", "py311-none-any", "b")
        projects = locked_projects(
            Plan((_planned(a),)), {canonicalize_name("beta"): _served("beta", a, b)}
        )
        text = render_requirements(projects, ["generated", "", "   safe-pip lock beta"])
        assert text == (
            "#\n# generated\n#\n#    safe-pip lock beta\n#\n"
            "beta==1.1 \\\n"
            f"    --hash=sha256:{'a' * 64} \\\n"
            f"    --hash=sha256:{'b' * 64}\n"
            "    # from corp\n"
        )

    def test_the_output_parses_back_with_every_hash(self, tmp_path: Path) -> None:
        a = _file("beta", "1.1", "py3-none-any", "a")
        b = _file("beta", "1.1", "py311-none-any", "b")
        projects = locked_projects(
            Plan((_planned(a),)), {canonicalize_name("beta"): _served("beta", a, b)}
        )
        path = tmp_path / "lock.txt"
        path.write_text(render_requirements(projects, ["x"]))
        (line,) = parse_files([str(path)], []).lines
        assert line.text == "beta==1.1"
        assert line.hashes == (f"sha256:{'a' * 64}", f"sha256:{'b' * 64}")


class TestNothingStartsALineOfItsOwn:
    """A hostile index lists the digests; whoever runs the lock writes the command in its
    header: neither may add an option line to a file pip reads (DESIGN invariant 8)."""

    def _listed(self, digest: str) -> IndexFile:
        file = _file("beta", "1.1", "py311-none-any", "b")
        return IndexFile(file.filename, file.url, file.project, file.version, file.kind, digest)

    @pytest.mark.parametrize(
        "digest",
        [
            "b" * 64 + "\n--extra-index-url=https://evil.example/simple/",
            "b" * 63 + "\u2028",
            "b" * 32,
            "z" * 64,
        ],
    )
    def test_a_malformed_digest_of_another_file_is_left_out(
        self, tmp_path: Path, digest: str
    ) -> None:
        chosen = _file("beta", "1.1", "py3-none-any", "a")
        served = {canonicalize_name("beta"): _served("beta", chosen, self._listed(digest))}
        (project,) = locked_projects(Plan((_planned(chosen),)), served)
        assert project.sha256s == ("a" * 64,)
        path = tmp_path / "lock.txt"
        path.write_text(render_requirements((project,), ["x"]))
        parsed = parse_files([str(path)], [], environ={})
        assert [line.hashes for line in parsed.lines] == [(f"sha256:{'a' * 64}",)]
        assert parsed.options == type(parsed.options)()

    def test_a_malformed_digest_of_the_chosen_file_fails_the_lock(self) -> None:
        chosen = self._listed("b" * 64 + "\n--pre")
        served = {canonicalize_name("beta"): _served("beta", chosen)}
        with pytest.raises(SourceError, match=r"beta: corp lists beta-1\.1-py311-none-any\.whl"):
            locked_projects(Plan((_planned(chosen),)), served)

    def test_line_breaks_in_the_header_are_escaped(self, tmp_path: Path) -> None:
        a = _file("beta", "1.1", "py3-none-any", "a")
        (project,) = locked_projects(
            Plan((_planned(a),)), {canonicalize_name("beta"): _served("beta", a)}
        )
        header = ["safe-pip lock 'x\n--extra-index-url=https://evil.example/\x85--pre\x00'"]
        text = render_requirements((project,), header)
        assert "# safe-pip lock 'x\\u000a--extra-index-url=https://evil.example/\\u0085" in text
        assert len(text.splitlines()) == len(text.split("\n")) - 1
        path = tmp_path / "lock.txt"
        path.write_text(text)
        parsed = parse_files([str(path)], [], environ={})
        assert [line.text for line in parsed.lines] == ["beta==1.1"]
        assert parsed.options == type(parsed.options)()


class TestPylockInput:
    @pytest.mark.parametrize("name", ["pylock.toml", "pylock.dev.toml", "pylock.toml[extra]"])
    def test_a_pylock_file_is_refused_with_the_way_to_lock(self, tmp_path: Path, name: str) -> None:
        with pytest.raises(UsageError, match="safe-pip lock -r <requirements>"):
            parse_files([str(tmp_path / name)], [])
