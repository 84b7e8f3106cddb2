"""``safe-pip install``: parse, build the settings, run the pipeline, present the outcome."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from safe_pip.build.options import BuildOptions, parse_config_settings
from safe_pip.cache_usage import cache_directory
from safe_pip.cli.common import advisory_options, network_options, read_url, setup_logging
from safe_pip.cli.options import build_parser, locate, parse_args, resolver_args
from safe_pip.cli.present import (
    PlainReporter,
    RichReporter,
    finding_line,
    plan_lines,
    printable,
    target_line,
)
from safe_pip.errors import UsageError
from safe_pip.models import NameSet, SourceSpec
from safe_pip.policy.trust import TrustStore
from safe_pip.resolve.pipconfig import load_pip_config
from safe_pip.resolve.requirements import ParsedRequirements, parse_files
from safe_pip.settings.cooldown import cooldown_policy, split_trust
from safe_pip.settings.files import load_file_settings
from safe_pip.settings.options import FileSettings, Settings, default_home, is_unattended
from safe_pip.settings.sources import build_pins, build_sources
from safe_pip.target import InterpreterChoice, site_prefix_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from rich.console import Console

    from safe_pip.cli.consoles import Consoles
    from safe_pip.gateway.network import NetworkOptions
    from safe_pip.pipeline.request import InstallRequest, Outcome
    from safe_pip.policy.prompting import Prompter
    from safe_pip.resolve.ahead import Ahead

__all__ = [
    "command_help",
    "configured_sources",
    "parse_configured",
    "prepare",
    "run_install_command",
    "run_pip_command_through_gateway",
]

logger = logging.getLogger(__name__)

# Resolver options that safe-pip rebuilds itself from requirements files and flags.
_MERGED_RESOLVER_OPTIONS = (
    "pre",
    "prefer_binary",
    "require_hashes",
    "no_require_hashes",
    "only_binary",
    "no_binary",
    "all_releases",
    "only_final",
    "use_features",
)


def command_help(command: str) -> str:
    """The help text of a checked command."""
    return build_parser(command).format_help()


def _parse_requirements(
    args: argparse.Namespace, network: NetworkOptions, environ: Mapping[str, str]
) -> ParsedRequirements:
    parsed = parse_files(
        args.requirements or [],
        args.constraints or [],
        args=args.requirements_args,
        editables=args.editables or [],
        environ=environ,
        fetch_url=read_url(network, environ),
    )
    if not parsed.requirements and not args.groups and not args.requirements_from_scripts:
        msg = 'You must give at least one requirement to install (see "safe-pip install --help").'
        raise UsageError(msg)
    return parsed


def _merged_resolver_args(args: argparse.Namespace, parsed: ParsedRequirements) -> list[str]:
    """Flags plus the file-level options pip would have applied from the files."""
    merged = argparse.Namespace(**vars(args))
    file_options = parsed.options
    for key in _MERGED_RESOLVER_OPTIONS:
        from_file = getattr(file_options, key)
        current = getattr(merged, key)
        if isinstance(from_file, bool):
            setattr(merged, key, current or from_file)
        elif from_file:
            setattr(merged, key, [*(current or []), *from_file])
    return resolver_args(merged)


def configured_sources(
    args: argparse.Namespace, parsed: ParsedRequirements, files: FileSettings
) -> tuple[SourceSpec, ...]:
    """The sources in priority order, from the flags (with pip's configuration), the
    requirements files' options and the settings."""
    file_options = parsed.options
    return build_sources(
        index_url=file_options.index_url or args.index_url or files.index_url,
        extra_index_urls=[
            *files.extra_index_urls,
            *(args.extra_index_urls or []),
            *file_options.extra_index_urls,
        ],
        find_links=[*(args.find_links or []), *file_options.find_links],
        no_index=args.no_index or file_options.no_index,
        named=files.sources,
        marks=files.source_marks,
    )


def _settings(
    args: argparse.Namespace,
    parsed: ParsedRequirements,
    files: FileSettings,
    home: Path,
    environ: Mapping[str, str],
) -> Settings:
    file_options = parsed.options
    sources = configured_sources(args, parsed, files)
    trusted_names, named_releases = split_trust(args.trust or [])
    file_policy = cooldown_policy(
        NameSet.from_csv([*(args.allow_sdist or []), *files.allow_sdist]),
        age_flag=args.min_release_age,
        age_setting=files.min_release_age,
        uploaded_prior_to=args.uploaded_prior_to,
        hash_locked=bool(
            args.require_hashes
            or file_options.require_hashes
            or any(line.hashes for line in parsed.lines)
        ),
        exemptions=[*named_releases, *files.allow_new, *TrustStore(home).exemptions()],
        now=datetime.now(UTC),
    )
    network = network_options(
        args, [*(args.trusted_hosts or []), *file_options.trusted_hosts], environ
    )
    return Settings(
        home=home,
        cache_dir=cache_directory(args.cache_dir, home, disabled=args.no_cache_dir),
        sources=sources,
        pins=build_pins(files.pins, files.sources, files.source_marks),
        file_policy=file_policy,
        trust=NameSet.from_csv([*trusted_names, *files.trust]),
        trust_flags=NameSet.from_csv(trusted_names),
        allow_startup_hooks=NameSet.from_csv(
            [*(args.allow_startup_hooks or []), *files.allow_startup_hooks]
        ),
        network=network,
        advisories=advisory_options(args, files),
        unattended=is_unattended(args.no_input, environ, stdin_tty=sys.stdin.isatty()),
        verbosity=args.verbose - args.quiet,
        environ=dict(environ),
    )


def _request(args: argparse.Namespace, parsed: ParsedRequirements, python: Path) -> InstallRequest:
    from safe_pip.pipeline.request import InstallRequest

    return InstallRequest(
        lines=parsed.lines,
        python=python,
        resolver_options=tuple(_merged_resolver_args(args, parsed)),
        no_binary=(*(args.no_binary or []), *parsed.options.no_binary),
        prefix=args.prefix,
        user=bool(args.user),
        target_dir=args.target,
        root=args.root,
        dry_run=args.dry_run,
        write_report=args.report is not None,
        compile_bytecode=args.compile,
        upgrade=args.upgrade,
        break_system_packages=args.break_system_packages,
        require_venv=args.require_venv,
        foreign_platform=bool(
            args.platforms or args.python_version or args.implementation or args.abis
        ),
        ignore_requires_python=args.ignore_requires_python,
        build=_build_options(args),
    )


def _build_options(args: argparse.Namespace) -> BuildOptions:
    constraints = parse_files([], args.build_constraints or []).lines
    return BuildOptions(
        isolation=args.build_isolation,
        config_settings=parse_config_settings(args.config_settings or []),
        build_constraints=constraints,
    )


def _check_audit_flag(args: argparse.Namespace) -> None:
    """``install --audit`` audits the plan of a dry run, nothing else.

    :raises UsageError: ``--audit`` without ``--dry-run``.
    """
    if args.audit and not args.dry_run:
        msg = (
            "--audit prints the known vulnerabilities of a plan: add --dry-run. (An install "
            "checks the plan anyway, and refuses a vulnerable one; to audit an environment, "
            "run: safe-pip audit)"
        )
        raise UsageError(msg)


def _progress_wanted(args: argparse.Namespace, consoles: Consoles) -> bool:
    if args.progress_bar == "off" or args.quiet:
        return False
    return args.progress_bar == "on" or consoles.err.is_terminal


def parse_configured(
    command: str, argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[argparse.Namespace, InterpreterChoice]:
    """A checked command's arguments with pip's configuration as defaults, and the target
    interpreter (whose environment may hold a pip.conf of its own)."""
    first, choice = locate(command, argv, environ)
    prefix = site_prefix_of(choice.python)
    pip_config = load_pip_config(command, environ, prefix, isolated=first.isolated)
    return parse_args(command, argv, pip_config), choice


def prepare(
    command: str, argv: Sequence[str]
) -> tuple[argparse.Namespace, Settings, InstallRequest, InterpreterChoice]:
    """Parse a checked command's arguments with pip's configuration, read the settings.

    :returns: also the target interpreter and why that one (for the plan).
    """
    environ = dict(os.environ)
    args, choice = parse_configured(command, argv, environ)
    python = choice.python
    home = default_home(environ)
    files = load_file_settings(Path.cwd(), home, environ)
    network = network_options(args, args.trusted_hosts or [], environ)
    parsed = _parse_requirements(args, network, environ)
    settings = _settings(args, parsed, files, home, environ)
    setup_logging(settings.verbosity, args.log)
    for source in settings.sources:
        logger.info("source: %s", source)
    return args, settings, _request(args, parsed, python), choice


def run_pip_command_through_gateway(
    command: str, argv: Sequence[str], out: Console, err: Console
) -> int:
    """``safe-pip download`` / ``safe-pip wheel``: pip's command, behind the gateway.

    :raises SafePipError: for the caller to present.
    """
    from safe_pip.pipeline.pip_commands import run_pip_command

    args, settings, request, _ = prepare(command, argv)
    output = run_pip_command([command], request, settings)
    if not args.quiet:
        out.print(output.rstrip("\n"), markup=False, highlight=False)
    return 0


def run_install_command(argv: Sequence[str], consoles: Consoles, ahead: Ahead | None = None) -> int:
    """Parse ``install`` arguments, run the pipeline, present the outcome.

    :raises SafePipError: for the caller to present.
    """
    from safe_pip.pipeline.install import run_install

    args, settings, request, choice = prepare("install", argv)
    _check_audit_flag(args)
    # As with pip, `--report -` makes standard output the report's alone: every message,
    # the plan included, goes to standard error.
    messages_to_err = args.report == "-"
    say = consoles.line_printer(to_err=messages_to_err)
    reporter: PlainReporter | RichReporter
    if _progress_wanted(args, consoles):
        reporter = RichReporter(consoles.err, settings.verbosity)
    else:
        reporter = PlainReporter(say, settings.verbosity)
    with reporter:
        prompter = (
            None if settings.unattended else _terminal_prompter(consoles.err, reporter.paused)
        )
        outcome = run_install(request, settings, reporter, prompter, ahead)
    _present(outcome, args, choice, say, consoles.line_printer(to_err=True))
    if args.report:
        _write_report(outcome, args.report, consoles.out)
    if args.audit:
        # Imported here: the audit command's module is not loaded by every install.
        from safe_pip.cli.audit_cmd import present_plan_audit

        return present_plan_audit(
            outcome.vulnerabilities, consoles.err if messages_to_err else consoles.out
        )
    return 0


def _present(
    outcome: Outcome,
    args: argparse.Namespace,
    choice: InterpreterChoice,
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> None:
    """Print the outcome: ``say`` the messages, ``warn`` the findings and warnings."""
    quiet = args.quiet > 0
    if not quiet and (args.dry_run or args.verbose or not choice.explicit):
        say(target_line(choice))
    for present in outcome.satisfied:
        if not quiet:
            say(
                f"Requirement already satisfied: {present.name} in {present.site_dir} "
                f"({present.version})"
            )
    if args.dry_run:
        if outcome.plan.dists:
            say("Plan:")
            for line in plan_lines(outcome.plan, outcome.findings, outcome.approvals):
                say(line)
            labels = " ".join(d.label for d in outcome.plan)
            say(f"Would install {labels}")
        # What the cooldown held back of a project left out of the plan.
        planned = {dist.name for dist in outcome.plan}
        for finding in outcome.findings:
            if finding.project not in planned:
                say(printable(finding_line(finding)))
        return
    for finding in outcome.findings:
        warn(printable(finding_line(finding)))
    result = outcome.result
    if result is None:
        return
    if args.verbose and outcome.plan.dists:
        for line in plan_lines(outcome.plan, ()):
            say(line)
    for dist in result.skipped:
        warn(
            f"WARNING: Target directory already contains {dist.name}. Specify --upgrade "
            f"to force replacement."
        )
    _warn_script_location(outcome, args, warn)
    if result.installed and not quiet:
        labels = " ".join(d.label for d in result.installed)
        say(f"Successfully installed {labels}")
    _warn_root(outcome, args, warn)


def _warn_script_location(
    outcome: Outcome, args: argparse.Namespace, warn: Callable[[str], None]
) -> None:
    result = outcome.result
    if not args.warn_script_location or result is None or not result.scripts:
        return
    scripts_dir = str(outcome.scheme.real(outcome.scheme.paths["scripts"]))
    path_dirs = [
        os.path.normcase(os.path.normpath(p)) for p in os.environ.get("PATH", "").split(os.pathsep)
    ]
    if os.path.normcase(os.path.normpath(scripts_dir)) in path_dirs or outcome.target.is_venv:
        return
    names = ", ".join(sorted(p.name for p in result.scripts))
    warn(
        f"WARNING: The scripts {names} are installed in '{scripts_dir}' which is not on "
        f"PATH.\n  Consider adding this directory to PATH or, if you prefer to suppress "
        f"this warning, use --no-warn-script-location."
    )


def _warn_root(outcome: Outcome, args: argparse.Namespace, warn: Callable[[str], None]) -> None:
    if args.root_user_action != "warn" or outcome.target.is_venv:
        return
    if getattr(os, "getuid", lambda: 1)() != 0 or outcome.scheme.is_target_dir:
        return
    warn(
        "WARNING: Running as the 'root' user outside a virtual environment can break "
        "the system's packages; use a virtual environment instead. Use "
        "--root-user-action=ignore to silence this warning."
    )


def _write_report(outcome: Outcome, destination: str, out: Console) -> None:
    from safe_pip.atomic import write_json_atomic
    from safe_pip.install.report import installation_report

    report = installation_report(outcome.plan, outcome.result)
    if destination == "-":
        out.file.write(json.dumps(report, indent=2) + "\n")
        return
    write_json_atomic(Path(destination), report)


def _terminal_prompter(
    err: Console, pause: Callable[[], AbstractContextManager[object]]
) -> Prompter:
    # Imported only when someone can be asked: the review's tables are not drawn otherwise.
    from safe_pip.cli.prompt import TerminalPrompter

    return TerminalPrompter(err, pause)
