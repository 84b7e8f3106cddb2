"""Startup hooks in a wheel's archive: which ``.pth`` files run code, and the well-known
hooks recognised by their exact bytes.

Whether such a file really is a hook depends on where it lands, which is
:mod:`safe_pip.install.startup_hooks`' question.
"""

from __future__ import annotations

import re
import sys
import zipfile
import zlib
from collections.abc import Collection, Sequence
from pathlib import Path

from safe_pip.distfiles import dist_info_dirs
from safe_pip.install.scripts import entry_points_data

__all__ = ["declared_namespaces", "known_hook", "may_install_hooks", "runs_code"]

# Every byte sequence that ends a .pth line for some supported interpreter. 3.11 and 3.12
# read the file in text mode in the locale encoding (universal newlines: \n, \r, \r\n);
# 3.13+ decode it as utf-8-sig, else in the locale encoding, and split it with
# str.splitlines(), which also breaks at \x0b \x0c \x1c \x1d \x1e \x85 \u2028 \u2029.
# Spelt in every ASCII-compatible encoding a locale may use: single bytes (\x85 is NEL in
# latin-1 and its kin; \xc2\x85 in UTF-8 ends with it), UTF-8's \u2028 and \u2029, and
# gb18030's four-byte \x85, \u2028, \u2029. Splitting at all of them finds every line start
# of every reading; a test checks the list against every codec Python has.
_PTH_BREAKS = re.compile(
    rb"[\n\r\x0b\x0c\x1c\x1d\x1e\x85]|\xe2\x80[\xa8\xa9]|\x81\x30\x81\x35|\x81\x36\xa6[\x35\x36]"
)
# site executes a line that starts with "import " or "import\t". Leading blanks and
# byte-order marks (utf-8-sig drops the first) are allowed here too, a stricter reading.
_PTH_CODE = re.compile(rb"^[ \t\xef\xbb\xbf]*import[ \t]")

# setuptools' distutils-precedence.pth, byte for byte as each release since 49.3.0 wrote it
# (setup.py, install_with_pth: the lines joined with "; ", and the newline distutils adds in
# text mode: "\r\n" where built on Windows). It imports _distutils_hack, from the same wheel.
_DISTUTILS_PRECEDENCE = frozenset(
    ("; ".join(("import os", *lines)) + "; " + newline).encode()
    for newline in ("\n", "\r\n")
    for lines in (
        (  # 49.3.0 to 49.x
            "enabled = os.environ.get('SETUPTOOLS_USE_DISTUTILS') == 'local'",
            "enabled and __import__('_distutils_hack').add_shim()",
        ),
        *(
            (
                "var = 'SETUPTOOLS_USE_DISTUTILS'",
                f"enabled = os.environ.get(var, {default!r}) == 'local'",
                f"enabled and __import__('_distutils_hack').{call}()",
            )
            # 'local' in 50.0.x and from 60.0.0 on, 'stdlib' from 50.1.0 to 59.x;
            # ensure_shim in 60.1.x only.
            for default, call in (
                ("local", "add_shim"),
                ("stdlib", "add_shim"),
                ("local", "ensure_shim"),
            )
        ),
    )
)
# setuptools' -nspkg.pth for legacy namespace packages (namespaces.py, _nspkg_tmpl; before
# 28.7.0 in install_egg_info.py), each template it ever used since 20.6.0: one line per
# package (sorted, with every parent), the template's lines joined with ";", then the
# parent line for a subpackage; written in text mode ("\r\n" where built on Windows).
_NSPKG_ROOT = "sys._getframe(1).f_locals['sitedir']"
_NSPKG_P = "p = os.path.join(%(root)s, *%(pth)r)"
_NSPKG_TAIL = (
    "mp = (m or []) and m.__dict__.setdefault('__path__',[])",
    "(p not in mp) and mp.append(p)",
)
_NSPKG_MODULE = "sys.modules.setdefault(%(pkg)r, types.ModuleType(%(pkg)r))"
_NSPKG_FROM_SPEC = (
    "sys.modules.setdefault(%(pkg)r, importlib.util.module_from_spec("
    "importlib.machinery.PathFinder.find_spec(%(pkg)r, [os.path.dirname(p)])))"
)
_NSPKG_IE = "ie = os.path.exists(os.path.join(p,'__init__.py'))"
_NSPKG_MFS = (
    "has_mfs = sys.version_info > (3, 5)",
    _NSPKG_P,
    "importlib = has_mfs and __import__('importlib.util')",
    "has_mfs and __import__('importlib.machinery')",
    f"m = has_mfs and {_NSPKG_FROM_SPEC}",
)
_NSPKG_TEMPLATES = tuple(
    ("import sys, types, os", *lines, *_NSPKG_TAIL)
    for lines in (
        (_NSPKG_P, _NSPKG_IE, f"m = not ie and {_NSPKG_MODULE}"),  # 20.6.0 to 28.6.1
        (
            "pep420 = sys.version_info > (3, 3)",
            _NSPKG_P,
            _NSPKG_IE,
            f"m = not ie and not pep420 and {_NSPKG_MODULE}",
        ),  # 28.3.0 to 30.4.0
        (*_NSPKG_MFS, f"m = m or not has_mfs and {_NSPKG_MODULE}"),  # 31.0.0 to 34.2.0
        (*_NSPKG_MFS, f"m = m or {_NSPKG_MODULE}"),  # 34.3.0 to 69.0.3
        (
            _NSPKG_P,
            "importlib = __import__('importlib.util')",
            "__import__('importlib.machinery')",
            f"m = {_NSPKG_FROM_SPEC}",
            f"m = m or {_NSPKG_MODULE}",
        ),  # 69.1.0 on
    )
)
_NSPKG_PARENT = "m and setattr(sys.modules[%(parent)r], %(child)r, m)"


def may_install_hooks(path: Path) -> bool:
    """Whether a wheel has any file that could be a startup hook wherever it lands (a
    ``.pth`` or ``.start`` file, anything named like ``sitecustomize``/``usercustomize``,
    any ``.data`` file, a script so named): a cheap look at its member names, so that
    :func:`~safe_pip.install.inspection.peek_wheel` reads only these. ``True`` when the
    archive cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            scripts = [
                data.lower()
                for dist_info in dist_info_dirs(archive)
                if (data := entry_points_data(archive, dist_info)) is not None
            ]
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error, KeyError):
        return True
    if any(b"customize" in text for text in scripts):
        return True
    for name in names:
        lowered = name.lower()
        parts = lowered.split("/")
        if lowered.endswith((".pth", ".start")) or ".data" in parts[0]:
            return True
        if any(part.startswith(("sitecustomize", "usercustomize")) for part in parts):
            return True
    return False


def runs_code(data: bytes) -> bool:
    """Whether ``site`` would execute a line of this ``.pth`` file on any supported Python,
    whatever encoding it decodes it with (see ``_PTH_BREAKS``)."""
    return any(_PTH_CODE.match(line) for line in _PTH_BREAKS.split(data))


def declared_namespaces(archive: zipfile.ZipFile, dist_info: str) -> tuple[str, ...]:
    """What setuptools' ``_get_all_ns_packages`` makes of ``namespace_packages.txt``: every
    declared package and its parents, sorted; nothing unless each is a dotted identifier."""
    try:
        text = archive.read(f"{dist_info}/namespace_packages.txt").decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return ()
    names: set[str] = set()
    for line in filter(None, map(str.strip, text.splitlines())):
        parts = line.split(".")
        if not all(part.isidentifier() and part.isascii() for part in parts):
            return ()
        names.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return tuple(sorted(names))


def _nspkg_contents(namespaces: Sequence[str]) -> set[bytes]:
    """Every ``-nspkg.pth`` a setuptools release would write for these packages."""
    found = set()
    for template in _NSPKG_TEMPLATES:
        lines = []
        for package in namespaces:
            parent, _, child = package.rpartition(".")
            values = {
                "root": _NSPKG_ROOT,
                "pth": tuple(package.split(".")),
                "pkg": package,
                "parent": parent,
                "child": child,
            }
            joined = ";".join((*template, _NSPKG_PARENT) if parent else template)
            lines.append(joined % values + "\n")
        text = "".join(lines)
        found.update({text.encode(), text.replace("\n", "\r\n").encode()})
    return found


def known_hook(
    project: str, path: str, data: bytes, namespaces: Sequence[str], ships: Collection[str]
) -> str | None:
    """What a startup hook is, when its bytes are exactly those of a well-known one that
    imports nothing from another project; else ``None``.

    - ``distutils-precedence.pth`` of setuptools itself, as released, with the
      ``_distutils_hack`` it imports in the same wheel;
    - a legacy namespace package's ``-nspkg.pth``, as setuptools writes it for exactly the
      packages the wheel's ``namespace_packages.txt`` declares, which the wheel ships files
      in and none of which is in the standard library (it creates module objects and runs
      no package code; :mod:`safe_pip.install.startup_hooks` checks no module stands where it
      looks).

    :param path: the file's path in its scheme directory.
    :param ships: the paths in that scheme directory this wheel writes.
    """
    if "/" in path:
        return None
    if (
        project == "setuptools"
        and path == "distutils-precedence.pth"
        and data in _DISTUTILS_PRECEDENCE
        and "_distutils_hack/__init__.py" in ships
    ):
        return "setuptools' distutils-precedence.pth, as released"
    if (
        path.endswith("-nspkg.pth")
        and namespaces
        and _own_namespaces(namespaces, ships)
        and data in _nspkg_contents(namespaces)
    ):
        return f"setuptools' namespace-package hook for {', '.join(namespaces)}"
    return None


def _own_namespaces(namespaces: Sequence[str], ships: Collection[str]) -> bool:
    """Whether the wheel ships files in each namespace package, and none is a name of the
    standard library (which the hook would replace in ``sys.modules``)."""
    top = {name.split(".", 1)[0] for name in namespaces}
    if top & (set(sys.stdlib_module_names) | set(sys.builtin_module_names)):
        return False
    return all(
        any(path.startswith(f"{name.replace('.', '/')}/") for path in ships) for name in namespaces
    )
