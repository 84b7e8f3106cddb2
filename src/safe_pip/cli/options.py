"""pip-compatible options: every option ``pip install`` (pip 26) accepts, plus safe-pip's.

Each option is declared once, with the pipeline stage that honours it. The same table
builds the argparse parser, applies pip's configuration as defaults (as pip's own
``ConfigOptionParser`` does), finds the subcommand behind pip's general options, and
rebuilds the arguments that are handed on to pip's resolver.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from safe_pip.errors import UsageError
from safe_pip.resolve.pipconfig import normalize_key
from safe_pip.target import InterpreterChoice, choose_interpreter

__all__ = [
    "COMMANDS",
    "INSTALL_OPTIONS",
    "Stage",
    "build_parser",
    "general_value_flags",
    "locate",
    "markdown_tables",
    "options_for",
    "parse_args",
    "resolver_args",
    "split_command",
]


class Stage(enum.Enum):
    """The pipeline stage that honours an option."""

    RESOLVER = "resolver"
    REQUIREMENTS = "requirements"
    SOURCES = "sources"
    NETWORK = "network"
    INSTALL = "install"
    OUTPUT = "output"
    POLICY = "policy"


class Group(enum.Enum):
    """Help sections, in pip's order, then safe-pip's own."""

    INSTALL = "Install Options"
    SELECTION = "Package Selection Options"
    INDEX = "Package Index Options"
    GENERAL = "General Options"
    SAFE_PIP = "safe-pip Options"
    ADVISORIES = "Known Vulnerability Options"


@dataclass(frozen=True, slots=True)
class Option:
    """One option: its spellings, where its value goes, and which stage honours it."""

    flags: tuple[str, ...]
    dest: str
    action: str
    stage: Stage
    group: Group
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    type: type = str

    @property
    def takes_value(self) -> bool:
        """Whether the option consumes the next argument."""
        return self.action in ("store", "append")

    @property
    def long_names(self) -> list[str]:
        """Config keys pip matches for this option (long flags without dashes)."""
        return [normalize_key(f) for f in self.flags if f.startswith("--")]


def _opt(
    flags: str,
    dest: str,
    action: str,
    stage: Stage,
    group: Group,
    help_text: str,
    **extra: Any,
) -> Option:
    return Option(tuple(flags.split()), dest, action, stage, group, help_text, **extra)


_R, _Q, _S, _N, _I, _O, _P = (
    Stage.RESOLVER,
    Stage.REQUIREMENTS,
    Stage.SOURCES,
    Stage.NETWORK,
    Stage.INSTALL,
    Stage.OUTPUT,
    Stage.POLICY,
)
_GI, _GS, _GX, _GG, _GP, _GV = (
    Group.INSTALL,
    Group.SELECTION,
    Group.INDEX,
    Group.GENERAL,
    Group.SAFE_PIP,
    Group.ADVISORIES,
)

# fmt: off
INSTALL_OPTIONS: tuple[Option, ...] = (
    # Install Options
    _opt("-r --requirement", "requirements", "append", _Q, _GI,
         "Install from the given requirements file.",
         metavar="<file>"),
    _opt("-c --constraint", "constraints", "append", _Q, _GI,
         "Constrain versions using the given constraints file.",
         metavar="<file>"),
    _opt("--build-constraint", "build_constraints", "append", _Q, _GI,
         "Constrain build dependencies using the given constraints file.",
         metavar="<file>"),
    _opt("--requirements-from-script", "requirements_from_scripts", "append", _R, _GI,
         "Install the dependencies a script declares in PEP 723 inline metadata.",
         metavar="<file>"),
    _opt("--no-deps --no-dependencies", "no_deps", "store_true", _R, _GI,
         "Don't install package dependencies."),
    _opt("--only-deps --only-dependencies", "only_deps", "store_true", _R, _GI,
         "Install only the dependencies of the given requirements."),
    _opt("-e --editable", "editables", "append", _Q, _GI,
         "Install a local project in editable mode.",
         metavar="<path>"),
    _opt("--dry-run", "dry_run", "store_true", _O, _GI,
         "Show what would be installed, with its source, and install nothing."),
    _opt("-t --target", "target", "store", _I, _GI,
         "Install packages into <dir>.",
         metavar="<dir>"),
    _opt("--platform", "platforms", "append", _R, _GI,
         "Only use wheels compatible with <platform> (with --target).",
         metavar="<platform>"),
    _opt("--python-version", "python_version", "store", _R, _GI,
         "The Python version to resolve for (with --target).",
         metavar="<python_version>"),
    _opt("--implementation", "implementation", "store", _R, _GI,
         "Only use wheels for this Python implementation (with --target).",
         metavar="<implementation>"),
    _opt("--abi", "abis", "append", _R, _GI,
         "Only use wheels compatible with this ABI (with --target).",
         metavar="<abi>"),
    _opt("--user", "user", "store_true", _I, _GI,
         "Install to the Python user install directory."),
    _opt("--no-user", "user", "store_false", _I, _GI,
         "Do not install to the user install directory."),
    _opt("--root", "root", "store", _I, _GI,
         "Install everything relative to this alternate root directory.",
         metavar="<dir>"),
    _opt("--prefix", "prefix", "store", _I, _GI,
         "Installation prefix where lib, bin and other top-level folders are placed.",
         metavar="<dir>"),
    _opt("--src --source --source-dir --source-directory", "src", "store", _I, _GI,
         "Directory for editable VCS checkouts (accepted for compatibility; safe-pip installs "
         "no VCS checkouts).",
         metavar="<dir>"),
    _opt("-U --upgrade", "upgrade", "store_true", _R, _GI,
         "Upgrade all specified packages to the newest available version."),
    _opt("--upgrade-strategy", "upgrade_strategy", "store", _R, _GI,
         "How dependencies are upgraded: only-if-needed (default) or eager.",
         metavar="<upgrade_strategy>", choices=("only-if-needed", "eager")),
    _opt("--force-reinstall", "force_reinstall", "store_true", _R, _GI,
         "Reinstall all packages even if they are already up-to-date."),
    _opt("-I --ignore-installed", "ignore_installed", "store_true", _R, _GI,
         "Ignore the installed packages when resolving."),
    _opt("--ignore-requires-python", "ignore_requires_python", "store_true", _R, _GI,
         "Ignore the Requires-Python information."),
    _opt("--no-build-isolation", "build_isolation", "store_false", _R, _GI,
         "Build allowed source distributions without isolation."),
    _opt("--use-pep517", "use_pep517", "store_true", _R, _GI,
         "Use PEP 517 for building (always the case; accepted for compatibility)."),
    _opt("--check-build-dependencies", "check_build_deps", "store_true", _R, _GI,
         "Check the build dependencies."),
    _opt("--break-system-packages", "break_system_packages", "store_true", _I, _GI,
         "Allow modifying an EXTERNALLY-MANAGED Python installation (PEP 668)."),
    _opt("-C --config-settings", "config_settings", "append", _R, _GI,
         "Settings passed to the build backend of allowed builds (KEY=VALUE).",
         metavar="<settings>"),
    _opt("--compile", "compile", "store_true", _I, _GI,
         "Compile Python source files to bytecode (the default)."),
    _opt("--no-compile", "compile", "store_false", _I, _GI,
         "Do not compile Python source files to bytecode."),
    _opt("--no-warn-script-location", "warn_script_location", "store_false", _I, _GI,
         "Do not warn when installing scripts outside PATH."),
    _opt("--no-warn-conflicts", "warn_conflicts", "store_false", _I, _GI,
         "Do not warn about broken dependencies."),
    _opt("--require-hashes", "require_hashes", "store_true", _R, _GI,
         "Require a hash to check each requirement against."),
    _opt("--no-require-hashes", "no_require_hashes", "store_true", _R, _GI,
         "Do not turn on hash-checking mode when a requirement has a hash."),
    _opt("--progress-bar", "progress_bar", "store", _O, _GI,
         "Whether to show progress bars.",
         metavar="<progress_bar>", choices=("auto", "on", "off", "raw")),
    _opt("--root-user-action", "root_user_action", "store", _O, _GI,
         "Action if run as the root user outside a virtual environment.",
         metavar="<root_user_action>", choices=("warn", "ignore")),
    _opt("--report", "report", "store", _O, _GI,
         "Write pip's JSON installation report of what was installed ('-' for stdout).",
         metavar="<file>"),
    _opt("--group", "groups", "append", _R, _GI,
         "Install a named dependency group from pyproject.toml.",
         metavar="<[path:]group>"),
    _opt("--no-clean", "no_clean", "store_true", _R, _GI,
         "Don't clean up build directories."),
    _opt("-d --dest --destination-dir --destination-directory", "dest", "store", _R, _GI,
         "download: the directory to save files into.",
         metavar="<dir>"),
    _opt("-w --wheel-dir", "wheel_dir", "store", _R, _GI,
         "wheel: the directory to put wheels into.",
         metavar="<dir>"),
    _opt("--no-verify", "no_verify", "store_true", _R, _GI,
         "wheel: don't verify that built wheels are valid."),
    _opt("-o --output", "output", "store", _O, _GI,
         "lock: the file to write the pinned requirements to ('-', the default: standard "
         "output).",
         metavar="<file>"),
    # Package Selection Options
    _opt("--pre", "pre", "store_true", _R, _GS,
         "Include pre-release and development versions."),
    _opt("--all-releases", "all_releases", "append", _R, _GS,
         "Allow all release types for these packages (:all:, :none:, or names).",
         metavar="<release_control>"),
    _opt("--only-final", "only_final", "append", _R, _GS,
         "Only allow final releases for these packages.",
         metavar="<release_control>"),
    _opt("--no-binary", "no_binary", "append", _R, _GS,
         "Build these packages from source (needs --allow-sdist for each).",
         metavar="<format_control>"),
    _opt("--only-binary", "only_binary", "append", _R, _GS,
         "Do not use source packages for these packages.",
         metavar="<format_control>"),
    _opt("--prefer-binary", "prefer_binary", "store_true", _R, _GS,
         "Prefer binary packages over source packages."),
    # Package Index Options
    _opt("-i --index-url --pypi-url", "index_url", "store", _S, _GX,
         "Base URL of the package index (default https://pypi.org/simple); the lowest priority "
         "source.",
         metavar="<url>"),
    _opt("--extra-index-url", "extra_index_urls", "append", _S, _GX,
         "An extra package index, asked before --index-url, in the order given.",
         metavar="<url>"),
    _opt("--no-index", "no_index", "store_true", _S, _GX,
         "Ignore package indexes (only look at --find-links locations)."),
    _opt("--refresh-package", "refresh_packages", "append", _S, _GX,
         "Refresh index information for these packages (safe-pip never reuses cached index "
         "pages).",
         metavar="<refresh_package>"),
    _opt("-f --find-links", "find_links", "append", _S, _GX,
         "A directory or HTML page of distribution files, asked before any index.",
         metavar="<url>"),
    _opt("--uploaded-prior-to", "uploaded_prior_to", "store", _P, _GX,
         "Only consider files uploaded before this ISO 8601 date or P<n>D duration.",
         metavar="<datetime_or_duration>"),
    # General Options
    _opt("--debug", "debug", "store_true", _O, _GG,
         "Let unexpected exceptions propagate with a traceback."),
    _opt("--isolated", "isolated", "store_true", _O, _GG,
         "Ignore environment variables and user configuration."),
    _opt("--require-virtualenv --require-venv", "require_venv", "store_true", _I, _GG,
         "Only install into a virtual environment."),
    _opt("--python", "python", "store", _I, _GG,
         "The Python interpreter (or environment directory) to install into.",
         metavar="<python>"),
    _opt("-v --verbose", "verbose", "count", _O, _GG,
         "Give more output, including the source of each project and timings."),
    _opt("-q --quiet", "quiet", "count", _O, _GG,
         "Give less output."),
    _opt("--log --log-file --local-log", "log", "store", _O, _GG,
         "Path to a verbose appending log.",
         metavar="<path>"),
    _opt("--no-input", "no_input", "store_true", _O, _GG,
         "Never prompt: first-seen projects must be approved in advance."),
    _opt("--keyring-provider", "keyring_provider", "store", _N, _GG,
         "Credential lookup through the keyring command.",
         metavar="<keyring_provider>", choices=("auto", "disabled", "import", "subprocess")),
    _opt("--proxy", "proxy", "store", _N, _GG,
         "Use a proxy: scheme://[user:passwd@]proxy.server:port.",
         metavar="<proxy>"),
    _opt("--no-proxy-env", "no_proxy_env", "store_true", _N, _GG,
         "Do not read proxy configuration from environment variables."),
    _opt("--retries", "retries", "store", _N, _GG,
         "Maximum attempts for each HTTP request (default 5).",
         metavar="<retries>", type=int),
    _opt("--timeout --default-timeout", "timeout", "store", _N, _GG,
         "Socket timeout in seconds (default 15).",
         metavar="<sec>", type=float),
    _opt("--exists-action", "exists_action", "append", _O, _GG,
         "Default action when a path already exists: (s)witch, (i)gnore, (w)ipe, (b)ackup, "
         "(a)bort.",
         metavar="<action>", choices=("s", "i", "w", "b", "a")),
    _opt("--trusted-host", "trusted_hosts", "append", _N, _GG,
         "Allow this host (or host:port) over HTTP or with an invalid certificate.",
         metavar="<hostname>"),
    _opt("--cert", "cert", "store", _N, _GG,
         "Path to a PEM-encoded CA certificate bundle.",
         metavar="<path>"),
    _opt("--client-cert", "client_cert", "store", _N, _GG,
         "Path to an SSL client certificate (key and certificate in one PEM file).",
         metavar="<path>"),
    _opt("--cache-dir", "cache_dir", "store", _O, _GG,
         "Store safe-pip's download cache in <dir>.",
         metavar="<dir>"),
    _opt("--no-cache-dir", "no_cache_dir", "store_true", _O, _GG,
         "Use a temporary download cache for this command only."),
    _opt("--disable-pip-version-check", "disable_pip_version_check", "store_true", _O, _GG,
         "Accepted for compatibility: safe-pip never checks for a newer pip."),
    _opt("--no-color", "no_color", "store_true", _O, _GG,
         "Suppress colored output."),
    _opt("--no-python-version-warning", "no_python_version_warning", "store_true", _O, _GG,
         "Accepted for compatibility (deprecated in pip, no effect)."),
    _opt("--use-feature", "use_features", "append", _R, _GG,
         "Enable a pip feature in the resolver.",
         metavar="<feature>"),
    _opt("--use-deprecated", "use_deprecated", "append", _R, _GG,
         "Enable deprecated pip behaviour in the resolver.",
         metavar="<feature>"),
    _opt("--resume-retries", "resume_retries", "store", _N, _GG,
         "Maximum attempts to resume an incomplete download (default 5).",
         metavar="<resume_retries>", type=int),
    # safe-pip's own options (never read from pip's configuration)
    _opt("--trust", "trust", "append", _P, _GP,
         "Approve these first-seen projects (NAME[,NAME] or :all:).",
         metavar="<names>"),
    _opt("--allow-sdist", "allow_sdist", "append", _P, _GP,
         "Allow building these projects from source (NAME[,NAME] or :all:).",
         metavar="<names>"),
    _opt("--allow-startup-hooks", "allow_startup_hooks", "append", _P, _GP,
         "Allow these projects startup hooks, code run at every interpreter start: "
         ".pth import lines, sitecustomize (NAME[,NAME] or :all:).",
         metavar="<names>"),
    _opt("--min-release-age", "min_release_age", "store", _P, _GP,
         "Ignore files uploaded less than DAYS days ago (default 7, the cooldown; "
         "0 turns it off; --require-hashes installs are exempt unless this is given).",
         metavar="<days>", type=float),
    # Known vulnerabilities (install and audit only)
    _opt("--advisories", "advisories", "store", _P, _GV,
         "OSV advisories to check against: a URL or a path of a zip or directory of OSV JSON "
         "files (e.g. https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip).",
         metavar="<url_or_path>"),
    _opt("--advisories-max-age", "advisories_max_age", "store", _P, _GV,
         "Download the advisories again when the cached copy is older than DAYS (default 1).",
         metavar="<days>", type=float),
    _opt("--require-advisories", "require_advisories", "store_true", _P, _GV,
         "Fail (exit status 1) when the advisories cannot be had or are stale, instead of a "
         "warning."),
    _opt("--ignore-vuln", "ignore_vulns", "append", _P, _GV,
         "Ignore this advisory (ID or alias, ID[,ID]); the audit log records it.",
         metavar="<id>"),
    _opt("--audit", "audit", "store_true", _O, _GV,
         "With --dry-run: print the plan's known vulnerabilities as a table, and exit with "
         "status 1 if there are any."),
    _opt("--format", "audit_format", "store", _O, _GV,
         "audit: the output format (default columns).",
         metavar="<format>", choices=("columns", "json", "sarif")),
)
# fmt: on

_PIP_CONFIGURABLE = tuple(
    o for o in INSTALL_OPTIONS if o.group not in (Group.SAFE_PIP, Group.ADVISORIES)
)

# The command-specific options of `pip download` and `pip wheel` (pip 26); every command
# also takes the general options and safe-pip's own.
_DOWNLOAD_AND_WHEEL = frozenset(
    {
        "requirements",
        "constraints",
        "build_constraints",
        "requirements_from_scripts",
        "no_deps",
        "only_deps",
        "src",
        "require_hashes",
        "no_require_hashes",
        "progress_bar",
        "build_isolation",
        "use_pep517",
        "check_build_deps",
        "ignore_requires_python",
        "groups",
        "no_clean",
        "pre",
        "all_releases",
        "only_final",
        "no_binary",
        "only_binary",
        "prefer_binary",
        "index_url",
        "extra_index_urls",
        "no_index",
        "refresh_packages",
        "find_links",
        "uploaded_prior_to",
    }
)
_COMMAND_DESTS: dict[str, frozenset[str] | None] = {
    "install": None,
    "download": _DOWNLOAD_AND_WHEEL
    | {"dest", "platforms", "python_version", "implementation", "abis"},
    "wheel": _DOWNLOAD_AND_WHEEL | {"wheel_dir", "no_verify", "editables", "config_settings"},
    # editables are accepted so that a lock can refuse them with a clear message.
    "lock": _DOWNLOAD_AND_WHEEL
    | {"output", "platforms", "python_version", "implementation", "abis", "editables"},
    "audit": frozenset(
        {
            "requirements",
            "advisories",
            "advisories_max_age",
            "require_advisories",
            "ignore_vulns",
            "audit_format",
        }
    ),
}
_ONLY_FOR = {
    "dest": "download",
    "wheel_dir": "wheel",
    "no_verify": "wheel",
    "output": "lock",
    "audit_format": "audit",
}
COMMANDS = tuple(_COMMAND_DESTS)


def options_for(command: str) -> tuple[Option, ...]:
    """The options ``command`` accepts."""
    allowed = _COMMAND_DESTS[command]
    return tuple(
        option
        for option in INSTALL_OPTIONS
        if option.group in (Group.GENERAL, Group.SAFE_PIP)
        or (allowed is None and _ONLY_FOR.get(option.dest, "install") == "install")
        or (allowed is not None and option.dest in allowed)
    )


_DEFAULTS: dict[str, Any] = {
    "verbose": 0,
    "quiet": 0,
    "user": False,
    "upgrade_strategy": "only-if-needed",
    "build_isolation": True,
    "compile": True,
    "warn_script_location": True,
    "warn_conflicts": True,
    "progress_bar": "auto",
    "root_user_action": "warn",
    "keyring_provider": "auto",
    "retries": 5,
    "timeout": 15.0,
    "resume_retries": 5,
}

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


def _strtobool(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    msg = f"pip configuration value {key}={value!r} is not a valid boolean"
    raise UsageError(msg)


def _config_value(option: Option, key: str, raw: str) -> Any:
    """Convert one pip configuration value the way pip's option parser does."""
    if option.action in ("store_true", "store_false"):
        enabled = _strtobool(key, raw)
        return enabled if option.action == "store_true" else not enabled
    if option.action == "count":
        return int(raw) if raw.strip().isdigit() else int(_strtobool(key, raw))
    if option.action == "append":
        return [_checked(option, key, part) for part in raw.split()]
    return _checked(option, key, raw)


def _checked(option: Option, key: str, raw: str) -> Any:
    try:
        value = option.type(raw)
    except ValueError as exc:
        msg = f"pip configuration value {key}={raw!r} is invalid: {exc}"
        raise UsageError(msg) from exc
    if option.choices and value not in option.choices:
        msg = f"pip configuration value {key}={raw!r} must be one of {', '.join(option.choices)}"
        raise UsageError(msg)
    return value


def config_defaults(config: Mapping[str, str]) -> dict[str, Any]:
    """Turn pip's configuration into parser defaults (pip's ``_update_defaults``)."""
    defaults: dict[str, Any] = {}
    for option in _PIP_CONFIGURABLE:
        for key in option.long_names:
            if key in config:
                defaults[option.dest] = _config_value(option, key, config[key])
    return defaults


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


_DESCRIPTIONS = {
    "install": "Install packages after checking them against safe-pip's policy: wheels only "
    "unless allowed, first source wins, hashes verified, first-seen projects approved, "
    "wheels inspected.",
    "download": "Download packages through safe-pip's gateway: the same sources, priority and "
    "policy as install (no source build runs unless allowed).",
    "wheel": "Build wheels through safe-pip's gateway: only allowed projects are built from "
    "source, and their build requirements come through the gateway too.",
    "audit": "Check an environment (the target, as for install) or a pinned requirements "
    "file (-r) against known vulnerabilities (OSV advisories, --advisories); exit status 1 "
    "when any is found.",
    "lock": "Resolve through safe-pip's gateway and policy for the target interpreter, and "
    "write a fully pinned requirements file with the sha256 of every acceptable file of "
    "each version (install it with --require-hashes).",
}


def build_parser(command: str = "install") -> argparse.ArgumentParser:
    """The parser of a checked command, with help grouped like pip's."""
    prog = f"safe-pip {command}"
    parser = _Parser(
        prog=prog,
        usage=f"{prog} [options] <requirement specifier> ... | -r <requirements file> ...",
        description=_DESCRIPTIONS[command],
        add_help=True,
        allow_abbrev=True,
    )
    groups = {group: parser.add_argument_group(group.value) for group in Group}
    for option in options_for(command):
        kwargs: dict[str, Any] = {"dest": option.dest, "help": option.help}
        if option.takes_value:
            kwargs.update(metavar=option.metavar, type=option.type)
            if option.choices:
                kwargs["choices"] = option.choices
        kwargs["action"] = option.action
        groups[option.group].add_argument(*option.flags, **kwargs)
    parser.add_argument("requirements_args", nargs="*", metavar="requirement")
    parser.set_defaults(**_DEFAULTS)
    return parser


def parse_args(
    command: str, argv: Sequence[str], pip_config: Mapping[str, str] | None = None
) -> argparse.Namespace:
    """Parse a checked command's arguments, with pip's configuration as defaults.

    Every option of :data:`INSTALL_OPTIONS` is present in the result; those the command
    does not take keep their defaults.

    :raises UsageError: unknown option, missing value, invalid choice.
    """
    parser = build_parser(command)
    parser.set_defaults(**config_defaults(pip_config or {}))
    args = parser.parse_intermixed_args(list(argv))
    for option in INSTALL_OPTIONS:
        if not hasattr(args, option.dest):
            default: Any = [] if option.action == "append" else None
            setattr(args, option.dest, _DEFAULTS.get(option.dest, default))
    return args


def locate(
    command: str, argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[argparse.Namespace, InterpreterChoice]:
    """The arguments before pip's configuration is read, and the interpreter they name
    (pip's configuration is looked up in that interpreter's environment, so cannot name it).

    :raises UsageError: bad arguments, or no such interpreter.
    """
    first = parse_args(command, argv)
    return first, choose_interpreter(first.python, environ)


_STAGE_NAMES = {
    Stage.RESOLVER: "resolver",
    Stage.REQUIREMENTS: "requirements",
    Stage.SOURCES: "gateway",
    Stage.NETWORK: "gateway, fetch",
    Stage.INSTALL: "install",
    Stage.OUTPUT: "output",
    Stage.POLICY: "policy",
}


def markdown_tables() -> str:
    """Every option as Markdown tables, one per help group (the README's reference)."""
    lines: list[str] = []
    for group in Group:
        lines += [f"**{group.value}**", "", "| option | stage | meaning |", "|---|---|---|"]
        for option in INSTALL_OPTIONS:
            if option.group is group:
                flags = ", ".join(f"`{flag}`" for flag in option.flags)
                if option.metavar:
                    flags += f" `{option.metavar}`"
                stage = _STAGE_NAMES[option.stage]
                lines.append(f"| {flags} | {stage} | {option.help} |")
        lines.append("")
    return "\n".join(lines)


def general_value_flags() -> frozenset[str]:
    """pip's general options that take a value (the next argument, unless ``=value``)."""
    return frozenset(
        flag
        for option in INSTALL_OPTIONS
        if option.group is Group.GENERAL and option.takes_value
        for flag in option.flags
    )


def split_command(argv: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
    """Split ``argv`` into pip's general options, the subcommand, and what follows it.

    pip accepts general options before the subcommand; those that take a value consume
    the next argument unless written ``--opt=value``.
    """
    value_flags = general_value_flags()
    general: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if not arg.startswith("-") or arg == "-":
            return general, arg, list(argv[index + 1 :])
        general.append(arg)
        if arg in value_flags and index + 1 < len(argv):
            general.append(argv[index + 1])
            index += 1
        index += 1
    return general, None, []


def _tokens(option: Option, value: Any) -> Iterable[str]:
    flag = next((f for f in option.flags if f.startswith("--")), option.flags[0])
    if option.action == "store_true":
        return [flag] if value else []
    if option.action == "store_false":
        return [flag] if value is False else []
    if option.action == "append":
        return [token for item in value or () for token in (flag, str(item))]
    if option.action == "count":
        return [flag] * int(value or 0)
    return [flag, str(value)] if value is not None else []


def resolver_args(args: argparse.Namespace, *, exclude: Iterable[str] = ()) -> list[str]:
    """Rebuild the resolver-stage options for pip's ``install --dry-run``."""
    skipped = set(exclude)
    tokens: list[str] = []
    seen: set[str] = set()
    for option in INSTALL_OPTIONS:
        if option.stage is not Stage.RESOLVER or option.dest in skipped:
            continue
        if option.dest in seen:
            continue
        seen.add(option.dest)
        value = getattr(args, option.dest)
        if value == _DEFAULTS.get(option.dest, None if option.takes_value else False):
            continue
        tokens.extend(_tokens(_flag_for_value(option, value), value))
    return tokens


def _flag_for_value(option: Option, value: Any) -> Option:
    """For a dest with a positive and a negative flag, pick the one that expresses ``value``."""
    if option.action in ("store_true", "store_false") and isinstance(value, bool):
        wanted = "store_true" if value else "store_false"
        for candidate in INSTALL_OPTIONS:
            if candidate.dest == option.dest and candidate.action == wanted:
                return candidate
    return option
