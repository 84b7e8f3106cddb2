"""Calling a project's PEP 517 build backend.

pyproject_hooks (what pip and ``build`` use) runs each hook in a subprocess of the build
environment's interpreter; safe-pip starts that subprocess itself, as it starts all build
code: in the project directory, with an environment that sees neither the gateway's
secrets nor anything outside the build environment, its output captured.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pyproject_hooks import BackendUnavailable, BuildBackendHookCaller, HookMissing

from safe_pip.errors import InstallError
from safe_pip.resolve.pip_process import pip_environment

if TYPE_CHECKING:
    from safe_pip.build.buildsystem import BuildSystem

__all__ = ["BackendHooks", "HookProcess", "hook_environment"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# pyproject_hooks names the backend to its hook process in variables with this prefix:
# one inherited from the caller's environment would choose what gets imported.
_CALLER_PREFIX = "_PYPROJECT_HOOKS_"

# Lines of a failed hook's stderr in the error: its traceback, without the build's chatter.
_TAIL_LINES = 15


def hook_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a hook process: pip's, and only the build environment's packages
    importable (no ``PYTHONPATH``, no user site)."""
    env = {
        key: value
        for key, value in pip_environment(environ).items()
        if not key.startswith(_CALLER_PREFIX)
    }
    env.pop("PYTHONPATH", None)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _failure(project: str, hook: str, stderr: str) -> InstallError:
    tail = "\n".join(stderr.strip().splitlines()[-_TAIL_LINES:])
    return InstallError(f"Building {project} failed in {hook}:\n{tail}")


class HookProcess:
    """Runs the subprocess of one hook for pyproject_hooks (its ``runner``).

    Its output goes to the debug log; a failure raises with the end of its stderr.
    """

    def __init__(self, hook: str, project: str, env: Mapping[str, str]) -> None:
        """:param project: the source tree's name, for the error.
        :param env: the whole environment of the process (see :func:`hook_environment`).
        """
        self._hook = hook
        self._project = project
        self._env = env

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        """:raises InstallError: the hook process failed."""
        completed = subprocess.run(
            list(cmd),
            cwd=cwd,
            env={**self._env, **(extra_environ or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        for line in (completed.stdout + completed.stderr).splitlines():
            logger.debug("build %s: %s", self._hook, line)
        if completed.returncode != 0:
            raise _failure(self._project, self._hook, completed.stderr)


class BackendHooks:
    """The hooks of one project's build backend, run by one interpreter."""

    def __init__(
        self,
        source: Path,
        system: BuildSystem,
        python: Path,
        environ: Mapping[str, str],
        config_settings: Mapping[str, str | list[str]],
    ) -> None:
        """:param python: the build environment's interpreter."""
        root = source.resolve()
        self._caller = BuildBackendHookCaller(
            str(source),
            system.backend,
            # pyproject_hooks takes them relative, as the project declares them.
            backend_path=[os.path.relpath(path, root) for path in system.backend_path],
            python_executable=str(python),
        )
        self._project = source.name
        self._env = hook_environment(environ)
        self._config_settings = dict(config_settings) or None

    def get_requires(self, *, editable: bool) -> list[str]:
        """The backend's further requirements for building a wheel (or an editable one).

        :raises InstallError: the hook failed.
        """
        caller = self._caller
        call = (
            caller.get_requires_for_build_editable
            if editable
            else caller.get_requires_for_build_wheel
        )
        return list(self._call(call.__name__, lambda: call(self._config_settings)) or [])

    def build(self, wheel_directory: Path, *, editable: bool) -> str | None:
        """Build a wheel (or an editable one) into ``wheel_directory``.

        :returns: its file name, or None when the backend has no ``build_editable``.
        :raises InstallError: the hook failed.
        """
        call = self._caller.build_editable if editable else self._caller.build_wheel
        try:
            return self._call(
                call.__name__, lambda: call(str(wheel_directory), self._config_settings)
            )
        except HookMissing:
            return None

    def _call(self, hook: str, call: Callable[[], _T]) -> _T:
        """Run ``call`` (one method of the hook caller) with ``hook``'s process."""
        try:
            with self._caller.subprocess_runner(HookProcess(hook, self._project, self._env)):
                return call()
        except BackendUnavailable as exc:
            # A backend missing from its backend-path has no traceback, only the reason.
            raise _failure(self._project, hook, exc.traceback or str(exc)) from exc
