"""Starting pip: in a target interpreter, with its arguments on standard input, never on
its command line.

Every pip run that sees the gateway is given the gateway's address, and the address
carries the gateway's secret path token. A process's command line is readable by every
local user (``/proc/PID/cmdline``, ``ps``), while its standard input and its environment
(``/proc/PID/environ``) are not; so pip is started on a small bootstrap and sent its
arguments as one JSON line on standard input (:func:`start_pip`, the only way safe-pip
starts a gated pip).

The same start saves time: pip spends most of the time before its first request importing
itself (about a fifth of a second). :class:`PipAhead` starts pip in the target interpreter
as soon as the command line names that interpreter, importing pip's install machinery
while safe-pip reads its settings and opens the gateway; the arguments follow once they
are known. This module imports only the standard library, so that the start comes before
safe-pip's own imports.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["PipAhead", "pip_environment", "start_pip"]

logger = logging.getLogger(__name__)

_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"})

_BOOTSTRAP = Path(__file__).with_name("pip_bootstrap.py")
"""What the target interpreter runs to start pip (:mod:`safe_pip.resolve.pip_bootstrap`)."""


def pip_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for a pip subprocess that must see only the gateway.

    Every ``PIP_*`` variable goes (the index ones would bypass the gateway; the rest were
    read by safe-pip and are passed on as options), and so do proxy variables: pip talks
    only to 127.0.0.1, and a proxy there would see the gateway's secret path.
    """
    env = {
        key: value
        for key, value in environ.items()
        if not key.startswith("PIP_") and key.lower() not in _PROXY_VARIABLES
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _runner_script() -> Path:
    """pip's ``__pip-runner__.py``: run by any interpreter, it runs this copy of pip there."""
    import pip

    return Path(pip.__file__).resolve().parent / "__pip-runner__.py"


def _launch(python: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """The bootstrap, waiting in ``python`` for its arguments.

    :raises OSError: the interpreter cannot be started.
    """
    return subprocess.Popen(
        # Without -I or -S: pip must see what its runner script sees (see the bootstrap).
        [str(python), str(_BOOTSTRAP), str(_runner_script())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )


def _send(process: subprocess.Popen[str], arguments: Sequence[str]) -> bool:
    """Give the waiting bootstrap its arguments; ``False`` if it ended before reading them
    (its status and error output then tell why)."""
    if process.stdin is None:
        return False
    try:
        process.stdin.write(json.dumps(list(arguments)) + "\n")
        process.stdin.close()
    except OSError:
        return False
    finally:
        # Its standard input is spent, as if it had been started with its arguments.
        process.stdin = None
    return True


def start_pip(
    python: Path,
    arguments: Sequence[str],
    environ: Mapping[str, str],
    ahead: PipAhead | None = None,
) -> subprocess.Popen[str]:
    """pip, run by ``python`` on ``arguments``, which reach it on its standard input.

    Its output is piped, as text. The pip started ``ahead`` is used if it fits; otherwise
    one is started now, the same way, so no argument is ever on a command line.

    :param environ: the caller's environment; pip gets :func:`pip_environment` of it.
    :raises OSError: the interpreter cannot be started.
    """
    process = ahead.take(python, environ, arguments) if ahead is not None else None
    if process is None:
        process = _launch(python, pip_environment(environ))
        _send(process, arguments)
    return process


class PipAhead:
    """pip, started in an interpreter before its arguments are known; used once at most.

    Use it as a context manager: a pip that was never given its arguments is stopped on
    exit.
    """

    def __init__(self, python: Path, env: dict[str, str], process: subprocess.Popen[str]):
        self.python = python
        self._env = env
        self._process: subprocess.Popen[str] | None = process

    @classmethod
    def start(cls, python: Path, environ: Mapping[str, str]) -> PipAhead | None:
        """Start pip in ``python`` with the environment a pip run gets from ``environ``;
        ``None`` when that cannot be done (:func:`start_pip` then starts one when needed)."""
        env = pip_environment(environ)
        try:
            process = _launch(python, env)
        except OSError:
            return None
        return cls(python, env, process)

    def take(
        self, python: Path, environ: Mapping[str, str], arguments: Sequence[str]
    ) -> subprocess.Popen[str] | None:
        """The waiting pip, now running ``arguments``: if it runs in ``python`` with the
        environment a pip run gets from ``environ``, and has not been taken or ended."""
        if python != self.python or pip_environment(environ) != self._env:
            self.close()
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is not None or not _send(process, arguments):
            process.kill()
            process.communicate()
            return None
        logger.debug("resolver: pip was started ahead")
        return process

    def close(self) -> None:
        """Stop pip if nobody took it."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.communicate()

    def __enter__(self) -> PipAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
