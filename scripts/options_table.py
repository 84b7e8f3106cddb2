"""Print the README's option tables from the one option table in safe_pip.cli.options.

Usage: python scripts/options_table.py  (paste the output into README.md's "Options")
"""

from __future__ import annotations

from safe_pip.cli.options import INSTALL_OPTIONS, Group, Stage

_STAGE = {
    Stage.RESOLVER: "resolver",
    Stage.REQUIREMENTS: "requirements",
    Stage.SOURCES: "gateway",
    Stage.NETWORK: "gateway, fetch",
    Stage.INSTALL: "install",
    Stage.OUTPUT: "output",
    Stage.POLICY: "policy",
}


def table() -> str:
    """The markdown tables, one per help group."""
    lines: list[str] = []
    for group in Group:
        lines += [f"**{group.value}**", "", "| option | stage | meaning |", "|---|---|---|"]
        for option in INSTALL_OPTIONS:
            if option.group is not group:
                continue
            flags = ", ".join(f"`{flag}`" for flag in option.flags)
            if option.metavar:
                flags += f" `{option.metavar}`"
            lines.append(f"| {flags} | {_STAGE[option.stage]} | {option.help} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
