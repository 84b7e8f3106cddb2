"""A command handed to pip that would break safe-pip itself is refused before pip runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from safe_pip.errors import SafePipError

__all__ = ["refusal_of_pip_command"]

# pip uninstall's own options that take a value (its general ones are safe-pip's too).
_UNINSTALL_VALUE_FLAGS = frozenset({"-r", "--requirement", "--root-user-action"})


def refusal_of_pip_command(
    general: Sequence[str], command: str, rest: Sequence[str], environ: Mapping[str, str]
) -> SafePipError | None:
    """Why safe-pip refuses to hand this command to pip, or ``None``.

    Only ``uninstall`` can remove what safe-pip runs on; the target is asked for its
    import path only when a project named is one of safe-pip's own dependencies.
    """
    if command != "uninstall":
        return None
    from safe_pip.install.installed import check_uninstall_keeps_safe_pip, own_dependencies
    from safe_pip.target import find_interpreter, query_target

    try:
        python, names = _uninstall_arguments([*general, *rest])
        if not set(names) & set(own_dependencies()):
            return None
        target = query_target(find_interpreter(python, environ))
        check_uninstall_keeps_safe_pip(names, target.sys_path)
    except SafePipError as exc:
        return exc
    return None


def _uninstall_arguments(arguments: Sequence[str]) -> tuple[str | None, list[str]]:
    """``--python``, and the normalized project names ``pip uninstall`` would remove
    (named, or listed in ``-r`` files, read by the same parser as ``install``'s).

    :raises UsageError: a requirements file cannot be read.
    """
    from packaging.utils import canonicalize_name

    from safe_pip.cli.options import general_value_flags
    from safe_pip.resolve.requirement_line import requirement_name
    from safe_pip.resolve.requirements import parse_files

    value_flags = general_value_flags() | _UNINSTALL_VALUE_FLAGS
    python: str | None = None
    named: list[str] = []
    files: list[str] = []
    index = 0
    while index < len(arguments):
        arg = arguments[index]
        flag, has_value, value = arg.partition("=")
        if arg.startswith("-") and not has_value and flag in value_flags:
            value = arguments[index + 1] if index + 1 < len(arguments) else ""
            index += 1
        if flag == "--python":
            python = value
        elif flag in ("-r", "--requirement"):
            files.append(value)
        elif not arg.startswith("-"):
            named.append(arg)
        index += 1
    lines = parse_files(files, [], args=named).lines
    names = [name for name in (requirement_name(line) for line in lines) if name]
    return python, [canonicalize_name(name) for name in names]
