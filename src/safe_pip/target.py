"""The target environment: which interpreter, which install scheme, and may we write there.

The target interpreter is asked once (a short subprocess) for its paths, so the target
needs no pip, and may be another Python version than the one running safe-pip.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safe_pip.errors import ExternallyManaged, UsageError

__all__ = [
    "InterpreterChoice",
    "Scheme",
    "TargetEnvironment",
    "TargetQuery",
    "check_externally_managed",
    "choose_interpreter",
    "choose_scheme",
    "find_interpreter",
    "is_own_interpreter",
    "pip_python",
    "query_target",
    "site_prefix_of",
]

_SCHEME_KEYS = ("purelib", "platlib", "scripts", "data")

_PROBE = Path(__file__).with_name("target_probe.py")
"""What the target interpreter runs to describe itself (:mod:`safe_pip.target_probe`)."""


@dataclass(frozen=True, slots=True)
class TargetEnvironment:
    """What the target interpreter told us about itself."""

    python: Path
    prefix: Path
    base_prefix: Path
    version: tuple[int, int, int]
    cache_tag: str | None
    os_name: str
    paths: Mapping[str, str]
    user_paths: Mapping[str, str]
    user_site_enabled: bool
    stdlib: Path
    tags: tuple[str, ...] | None = None
    """The wheel tags the target supports, most preferred first (``None``: unknown)."""
    sys_path: tuple[str, ...] = ()
    """Where the target imports from (less the script's own directory): where pip looks
    for what is installed."""
    markers: Mapping[str, str] | None = None
    """The target's PEP 508 marker environment (``None``: unknown)."""

    @property
    def is_venv(self) -> bool:
        """Whether the target is a virtual environment."""
        return self.prefix != self.base_prefix

    @property
    def script_kind(self) -> str:
        """The launcher kind pypa/installer writes console scripts for."""
        if self.os_name != "nt":
            return "posix"
        import platform

        return {"ARM64": "win-arm64", "AMD64": "win-amd64"}.get(platform.machine(), "win-ia32")


@dataclass(frozen=True, slots=True)
class Scheme:
    """Where each part of a wheel goes, plus the directories holding installed projects."""

    paths: Mapping[str, str]
    """``purelib``, ``platlib``, ``scripts``, ``data`` and ``headers`` directories."""
    site_dirs: tuple[Path, ...]
    """Directories whose ``*.dist-info`` count as installed in this scheme."""
    root: Path | None = None
    """``--root``: every path is written below this directory."""
    is_target_dir: bool = False
    """``--target``: pip's flat directory layout."""

    def real(self, path: str | Path) -> Path:
        """Where a scheme path is really written, taking ``--root`` into account."""
        path = Path(path)
        if self.root is None:
            return path
        return self.root / path.relative_to(path.anchor)

    def install_paths(self, project: str, target: TargetEnvironment) -> dict[str, str]:
        """pypa/installer's scheme dictionary for one project (``--root`` not applied)."""
        paths = {key: str(self.paths[key]) for key in _SCHEME_KEYS}
        paths["headers"] = self.headers_for(project, target)
        return paths

    def satisfying_dirs(self, target: TargetEnvironment) -> list[Path]:
        """Where pip finds a requirement already satisfied: this scheme's directories,
        then (unless ``--target`` or ``--root``) everything the target imports from, so
        that under ``--user`` a project the environment already has is found, as by pip."""
        own = [self.real(directory) for directory in self.site_dirs]
        if self.is_target_dir or self.root is not None:
            return own
        return [*own, *(Path(entry) for entry in target.sys_path if entry)]

    def headers_for(self, project: str, target: TargetEnvironment) -> str:
        """pip's header directory for a project."""
        if self.is_target_dir:
            return str(Path(self.paths["data"]) / "include" / project)
        major, minor, _ = target.version
        if target.is_venv:
            return str(target.prefix / "include" / "site" / f"python{major}.{minor}" / project)
        return str(Path(self.paths["include"]) / project)


@dataclass(frozen=True, slots=True)
class InterpreterChoice:
    """The interpreter a command works on, and why that one."""

    python: Path
    reason: str
    """Why, in words for the plan: ``the active virtual environment (VIRTUAL_ENV)``."""
    explicit: bool
    """Named by ``--python`` or an active virtual environment (else: found by looking)."""


def choose_interpreter(python: str | None, environ: Mapping[str, str]) -> InterpreterChoice:
    """The interpreter the user means, as ``pip`` on their PATH would take it.

    ``--python`` (an interpreter or an environment directory, as with pip), else the
    active virtual environment, else the active conda environment, else the first
    ``python3`` or ``python`` on PATH, else the interpreter safe-pip runs in. Outside a
    virtual environment that is the user's Python, not safe-pip's private one (pipx).

    :raises UsageError: ``--python`` or the active environment names no interpreter.
    """
    if python:
        candidate = Path(python).expanduser()
        if candidate.is_dir():
            return InterpreterChoice(
                _interpreter_in(candidate, f"--python {python}"), "--python", True
            )
        if candidate.is_file():
            return InterpreterChoice(candidate.absolute(), "--python", True)
        msg = f"--python {python}: no such interpreter or environment"
        raise UsageError(msg)
    venv = environ.get("VIRTUAL_ENV")
    if venv and Path(venv).is_dir():
        found = _interpreter_in(Path(venv), f"VIRTUAL_ENV={venv}")
        return InterpreterChoice(found, "the active virtual environment (VIRTUAL_ENV)", True)
    conda = environ.get("CONDA_PREFIX")
    if conda and Path(conda).is_dir():
        found = _interpreter_in(Path(conda), f"CONDA_PREFIX={conda}")
        return InterpreterChoice(found, "the active conda environment (CONDA_PREFIX)", False)
    on_path = _first_on_path(environ.get("PATH"))
    if on_path is not None:
        return InterpreterChoice(on_path, f"the first {on_path.name} on PATH", False)
    own = Path(sys.executable)
    return InterpreterChoice(own, "safe-pip's own (no python3 or python on PATH)", False)


def find_interpreter(python: str | None, environ: Mapping[str, str]) -> Path:
    """The interpreter to install for (see :func:`choose_interpreter`).

    :raises UsageError: it does not exist.
    """
    return choose_interpreter(python, environ).python


def pip_python(environ: Mapping[str, str]) -> str | None:
    """pip's ``--python`` for a command handed to pip when none was given: the same
    choice as ``install`` makes, or ``None`` where that is safe-pip's own interpreter
    (pip then runs in place)."""
    venv = environ.get("VIRTUAL_ENV")
    if venv:
        # pip takes an environment directory as it is, and says itself if it is broken.
        return None if _same_path(Path(venv), Path(sys.prefix)) else venv
    try:
        chosen = choose_interpreter(None, environ).python
    except UsageError:
        return None
    return None if is_own_interpreter(chosen) else str(chosen)


def is_own_interpreter(python: Path) -> bool:
    """Whether ``python`` runs in safe-pip's own environment (without running it).

    A virtual environment's interpreter is a link to its base interpreter, so the
    environment is compared, not the executable alone.
    """
    prefix = site_prefix_of(python)
    if prefix is not None:
        return _same_path(prefix, Path(sys.prefix))
    return sys.prefix == sys.base_prefix and _same_path(python, Path(sys.executable))


def _same_path(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return False


def _first_on_path(path: str | None) -> Path | None:
    """The first ``python3`` or ``python`` on PATH, directory by directory, as a shell
    finds them (kept as found: a virtual environment's link must not be resolved)."""
    if not path:
        return None
    for directory in path.split(os.pathsep):
        if not directory:
            continue
        for name in ("python3", "python"):
            found = shutil.which(name, path=directory)
            if found is not None:
                return Path(found).absolute()
    return None


def _interpreter_in(env_dir: Path, what: str) -> Path:
    # A conda environment on Windows keeps python.exe at its root.
    for relative in ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe"):
        found = env_dir / relative
        if found.is_file():
            return found.absolute()
    msg = f"{what}: no Python interpreter found in that directory"
    raise UsageError(msg)


def site_prefix_of(python: Path) -> Path | None:
    """The environment prefix of an interpreter without running it (for pip.conf lookup)."""
    if (python.parent.parent / "pyvenv.cfg").is_file():
        return python.parent.parent
    if python == Path(sys.executable):
        return Path(sys.prefix)
    return None


class TargetQuery:
    """The target interpreter describing itself: asked at once, answered when needed, so
    the interpreter's start overlaps other work. Close it if the answer is not wanted."""

    def __init__(self, python: Path, prefix: str | None = None) -> None:
        """:param prefix: compute the default scheme for this ``--prefix`` instead."""
        self.python = python
        self.prefix = prefix
        self._process: subprocess.Popen[str] | None = None
        self._error: OSError | None = None
        try:
            self._process = subprocess.Popen(
                # Without -I or -S: they would change what it reports (see the probe).
                [str(python), str(_PROBE), prefix or "", _packaging_dir()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError as exc:
            self._error = exc

    def result(self) -> TargetEnvironment:
        """The answer.

        :raises UsageError: the interpreter cannot be run.
        """
        try:
            data = self._answer()
        except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            msg = f"Cannot query the target interpreter {self.python}: {detail.strip()}"
            raise UsageError(msg) from exc
        return TargetEnvironment(
            python=self.python,
            prefix=Path(data["prefix"]),
            base_prefix=Path(data["base_prefix"]),
            version=(data["version"][0], data["version"][1], data["version"][2]),
            cache_tag=data["cache_tag"],
            os_name=data["os_name"],
            paths=data["paths"],
            user_paths=data["user_paths"],
            user_site_enabled=data["user_site_enabled"],
            stdlib=Path(data["stdlib"]),
            tags=tuple(data["tags"]) if data.get("tags") else None,
            sys_path=tuple(data.get("sys_path", ())),
            markers=data.get("markers"),
        )

    def _answer(self) -> dict[str, Any]:
        if self._process is None:
            raise self._error or OSError("not started")
        try:
            stdout, stderr = self._process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.close()
            raise
        if self._process.returncode != 0:
            raise subprocess.CalledProcessError(self._process.returncode, "query", stdout, stderr)
        answer: dict[str, Any] = json.loads(stdout)
        return answer

    def close(self) -> None:
        """Stop the interpreter if it is still answering."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


def query_target(python: Path, prefix: str | None = None) -> TargetEnvironment:
    """Ask the interpreter for its install paths.

    :param prefix: compute the default scheme for this ``--prefix`` instead.
    :raises UsageError: the interpreter cannot be run.
    """
    return TargetQuery(python, prefix).result()


def _packaging_dir() -> str:
    """The directory holding our ``packaging``, for the target to compute its wheel tags."""
    import packaging

    return str(Path(packaging.__file__).resolve().parent.parent)


def choose_scheme(
    target: TargetEnvironment,
    *,
    user: bool = False,
    target_dir: str | None = None,
    root: str | None = None,
) -> Scheme:
    """The scheme for ``--user``, ``--target``, ``--prefix`` (already in ``target.paths``),
    ``--root``, or the environment itself.

    :raises UsageError: ``--user`` in a virtual environment that hides user site-packages.
    """
    root_path = Path(root).absolute() if root else None
    if target_dir:
        base = Path(target_dir).absolute()
        paths = {
            "purelib": str(base),
            "platlib": str(base),
            "scripts": str(base / "bin"),
            "data": str(base),
        }
        return Scheme(paths, (base,), root_path, is_target_dir=True)
    if user:
        if target.is_venv and not target.user_site_enabled:
            msg = (
                "Can not perform a '--user' install. User site-packages are not visible "
                "in this virtualenv."
            )
            raise UsageError(msg)
        source = target.user_paths
    else:
        source = target.paths
    paths = {key: source[key] for key in _SCHEME_KEYS}
    paths["include"] = source.get("include", "")
    site_dirs = tuple(dict.fromkeys(Path(source[k]) for k in ("purelib", "platlib")))
    return Scheme(paths, site_dirs, root_path)


def check_externally_managed(target: TargetEnvironment) -> None:
    """Refuse an environment marked EXTERNALLY-MANAGED (PEP 668), as pip does.

    :raises ExternallyManaged: with the distributor's message and the flag that overrides.
    """
    if target.is_venv:
        return
    marker = target.stdlib / "EXTERNALLY-MANAGED"
    if not marker.is_file():
        return
    text = _marker_error(marker)
    msg = (
        f"This environment is externally managed (PEP 668): {target.python}\n"
        f"{text}\n"
        f"Install into a virtual environment (python -m venv .venv, then safe-pip "
        f"--python .venv install ...), or pass --break-system-packages to override this "
        f"at the risk of breaking the system's Python."
    )
    raise ExternallyManaged(msg)


def _marker_error(marker: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(marker, encoding="utf-8")
    except configparser.Error:
        return "(the EXTERNALLY-MANAGED file could not be parsed)"
    section = "externally-managed"
    language = (os.environ.get("LANG") or "").split(".")[0]
    localized = [f"Error-{language}", f"Error-{language.split('_')[0]}"] if language else []
    for key in [*localized, "Error"]:
        if parser.has_option(section, key):
            return parser.get(section, key)
    return "The distributor manages this Python installation; use its package manager."
