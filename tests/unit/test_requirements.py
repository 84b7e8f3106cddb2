from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from pip._internal.req import req_file as pip_req_file

from safe_pip.errors import UsageError
from safe_pip.resolve import reqfile_reading
from safe_pip.resolve.reqfile_reading import has_url_scheme, read_text
from safe_pip.resolve.reqfile_syntax import (
    LINE_BREAKS,
    logical_lines,
    split_args_options,
    unsafe_character,
)
from safe_pip.resolve.requirement_line import RequirementLine
from safe_pip.resolve.requirements import parse_files

SHA = "ab" * 32
EVIL = "--extra-index-url=http://evil.example/simple/"


def _file(tmp_path: Path, text: str, name: str = "req.txt") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _parse(tmp_path: Path, text: str, **environ: str) -> list[RequirementLine]:
    return list(parse_files([_file(tmp_path, text)], [], environ=environ).lines)


def _pip_reads(text: str) -> list[tuple[str, dict[str, Any]]]:
    """What pip's own requirements-file reader makes of ``text``: each line's requirement,
    and the options that differ from a plain requirement's."""
    parse = pip_req_file.get_line_parser(None)
    plain = vars(parse("x")[1])
    read = []
    for _, line in pip_req_file.preprocess(text):
        args, options = parse(line)
        read.append((args, {k: v for k, v in vars(options).items() if v != plain.get(k)}))
    return read


class TestLineBreaks:
    def test_are_exactly_what_str_splitlines_breaks_at(self) -> None:
        breaking = {
            chr(c) for c in range(sys.maxunicode + 1) if len(f"a{chr(c)}b".splitlines()) > 1
        }
        assert breaking == set(LINE_BREAKS)

    def test_unsafe_character_names_what_it_found(self) -> None:
        assert unsafe_character("fine text") is None
        assert unsafe_character("a\u2028b") == "a line break (U+2028)"
        assert unsafe_character("a\x00b") == "a NUL character"


@pytest.mark.parametrize("brk", list(LINE_BREAKS))
class TestAVariableWithALineBreakIsRefused:
    """pip expands ``${VAR}`` after splitting the file, but safe-pip writes the expanded line
    into a file pip reads again: a line break in the value would start a line of its own."""

    @pytest.mark.parametrize(
        "line",
        [
            'alpha==1.0 --hash="sha256:${V}"',
            "alpha==1.0 --hash=sha256:${V}",
            "alpha @ https://example.org/alpha-1.0-py3-none-any.whl${V}",
            'alpha --config-settings="key=${V}"',
            "-e ./proj${V}",
            "--index-url https://example.org/${V}/simple/",
            "--extra-index-url=https://example.org/${V}",
            "-f ${V}",
            "-r nested${V}.txt",
            "-c ${V}",
            "--trusted-host ${V}",
        ],
    )
    def test_in_any_field(self, tmp_path: Path, brk: str, line: str) -> None:
        text = f"# a comment\n{line}\n"
        with pytest.raises(UsageError) as caught:
            _parse(tmp_path, text, V=f"{SHA}{brk}{EVIL}{brk}--no-require-hashes")
        message = str(caught.value)
        assert f"line 2 of {tmp_path / 'req.txt'}" in message
        assert "${V}" in message and "line break" in message

    def test_in_a_nested_file(self, tmp_path: Path, brk: str) -> None:
        _file(tmp_path, "beta==1.0 --hash=sha256:${V}\n", "nested.txt")
        with pytest.raises(UsageError, match=r"line 1 of .*nested.txt"):
            _parse(tmp_path, "-r nested.txt\n", V=f"{SHA}{brk}{EVIL}")


class TestSyntaxAsPipReadsIt:
    TEXT = "# head\nalpha==1.0 \\\n  --pre # trailing\n\n  beta\\\n\\\n>=2 --hash=x\n#c \\\nlast\\"

    def test_logical_lines_are_pips(self) -> None:
        assert list(logical_lines(self.TEXT)) == list(pip_req_file.preprocess(self.TEXT))

    @pytest.mark.parametrize(
        "line", ["alpha==1.0", "alpha ; python_version<'3' --pre -e", "--hash=a b", "a -b c"]
    )
    def test_options_start_where_pips_do(self, line: str) -> None:
        assert split_args_options(line) == pip_req_file.break_args_options(line)


class TestReadingFiles:
    @pytest.mark.parametrize(
        ("location", "expected"),
        [("https://x/r.txt", True), ("FILE:///r.txt", True), ("r.txt", False), ("ftp://x", False)],
    )
    def test_url_schemes(self, location: str, expected: bool) -> None:
        assert has_url_scheme(location) is expected

    def test_a_url_is_read_by_the_fetcher_alone(self) -> None:
        assert read_text("https://x/r.txt", "requirements", lambda url: f"from {url}") == (
            "from https://x/r.txt"
        )
        with pytest.raises(UsageError, match="URLs are not supported here"):
            read_text("https://x/r.txt", "constraints", None)

    def test_a_file_url_is_read_locally(self, tmp_path: Path) -> None:
        path = Path(_file(tmp_path, "alpha\n", "with space.txt"))
        assert read_text(path.as_uri(), "requirements", None) == "alpha\n"

    @pytest.mark.parametrize("name", ["pylock.toml", "dir/pylock.dev.toml", "pylock.toml[x]"])
    def test_a_lock_file_is_refused_by_name(self, name: str) -> None:
        with pytest.raises(UsageError, match="PEP 751"):
            read_text(name, "requirements", None)


class TestNulCharacters:
    def test_in_a_file_are_refused(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match=r"line 1 of .* NUL"):
            _parse(tmp_path, "alpha\x00==1.0\n")

    def test_in_a_variable_are_refused(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match=r"\$\{V\} contains a NUL"):
            _parse(tmp_path, "alpha==${V}\n", V="1.0\x00")


class TestExpansionAsPipDoesIt:
    @pytest.mark.parametrize(
        ("text", "environ"),
        [
            ("alpha==${A}\n", {"A": "1.0"}),
            ("alpha==${A} --hash=sha256:${B}\n", {"A": "1.0", "B": SHA}),
            # Each variable found is replaced everywhere in turn, values included.
            ("alpha${A}${B}\n", {"A": "${B}", "B": "==1.0"}),
            ("${A}\n", {"A": "alpha==1.0 --pre"}),
            ("alpha==1.0 \\\n  --hash=sha256:${B} # comment ${A}\n", {"A": "x", "B": SHA}),
        ],
    )
    def test_the_same_lines_as_pip(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, environ: dict[str, str]
    ) -> None:
        for key, value in environ.items():
            monkeypatch.setenv(key, value)
        (line,) = _parse(tmp_path, text, **environ)
        pip_line = next(iter(pip_req_file.preprocess(text)))[1]
        assert pip_req_file.break_args_options(pip_line)[0].strip() == line.text

    def test_an_unset_variable_is_refused_in_a_requirement(self, tmp_path: Path) -> None:
        # pip would expand it again, from its own environment, in the file safe-pip writes.
        with pytest.raises(UsageError, match=r"\$\{TOKEN\}, which pip would replace"):
            _parse(tmp_path, "alpha @ https://${TOKEN}@example.org/alpha-1.0-py3-none-any.whl\n")

    def test_a_value_naming_another_variable_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match=r"\$\{SECRET\}"):
            _parse(tmp_path, "alpha==${A}\n", A="${SECRET}")


class TestHashes:
    @pytest.mark.parametrize(
        ("value", "normalized"),
        [
            (f"sha256:{SHA}", f"sha256:{SHA}"),
            (f"SHA256:{SHA.upper()}", f"sha256:{SHA}"),
            (f"sha384:{'c' * 96}", f"sha384:{'c' * 96}"),
            (f"sha512:{'d' * 128}", f"sha512:{'d' * 128}"),
        ],
    )
    def test_well_formed_digests(self, tmp_path: Path, value: str, normalized: str) -> None:
        (line,) = _parse(tmp_path, f"alpha==1.0 --hash={value}\n")
        assert line.hashes == (normalized,)

    @pytest.mark.parametrize(
        "value",
        [
            "sha256:abc",
            f"sha256:{SHA}0",
            f"sha256:{'g' * 64}",
            f"sha256:{SHA[:-1]} ",
            f"sha384:{SHA}",
            f"sha512:{'c' * 96}",
            f"sha256:{SHA[:-2]}\u00e9\u00e9",
        ],
    )
    def test_a_digest_of_the_wrong_length_or_not_hex_is_refused(
        self, tmp_path: Path, value: str
    ) -> None:
        with pytest.raises(UsageError, match=r"line 1 of .*hexadecimal digits"):
            _parse(tmp_path, f'alpha==1.0 --hash="{value}"\n')

    def test_weak_algorithms_are_refused(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="weak hash algorithm 'md5'"):
            _parse(tmp_path, f"alpha==1.0 --hash=md5:{'a' * 32}\n")


class TestConfigSettings:
    def test_must_be_key_value(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match=r"line 1 of .*KEY=VALUE"):
            _parse(tmp_path, "alpha --config-settings=novalue\n")


class TestWhatPipReadsBack:
    """A line is handed to pip only if pip's own reader reads it back as it is."""

    @pytest.mark.parametrize(
        "line",
        [
            RequirementLine("alpha==1.0", "command line"),
            RequirementLine('alpha>=1 ; python_version >= "3.8"', "command line"),
            RequirementLine("alpha", "x", hashes=(f"sha256:{SHA}", f"sha512:{'d' * 128}")),
            RequirementLine("alpha", "x", config_settings=("key=a value 'quoted'", "k=#x")),
            RequirementLine("./my project", "command line", editable=True),
            RequirementLine("./it's --pre", "x", editable=True, config_settings=("a=b",)),
            RequirementLine("alpha @ file:///tmp/alpha-1.0-py3-none-any.whl", "x"),
        ],
    )
    def test_accepted_lines_read_back_exactly(self, line: RequirementLine) -> None:
        ((args, options),) = _pip_reads(line.to_pip_line() + "\n")
        if line.editable:
            assert args == "" and options.pop("editables") == [line.text]
        else:
            assert args == line.text
        hashes: dict[str, list[str]] = {}
        for value in line.hashes:
            algorithm, _, digest = value.partition(":")
            hashes.setdefault(algorithm, []).append(digest)
        assert options.pop("hashes", {}) == hashes
        settings = dict(value.split("=", 1) for value in line.config_settings)
        assert options.pop("config_settings", None) == (settings or None)
        assert options == {}

    @pytest.mark.parametrize(
        ("text", "editable", "reason"),
        [
            (f"alpha {EVIL}", False, "the options"),
            ("alpha --no-require-hashes", False, "the options"),
            ("alpha\\", False, "the requirement 'alpha'"),
            ("alpha #comment", False, "the options|comment"),
            ("#alpha", False, "comment"),
            ("", False, "nothing"),
            ("alpha\u2028--pre", False, "line break"),
            ("alpha${HOME}", False, "HOME"),
            ("alpha\udcff", False, "not text"),
            ("\ufeffalpha", False, "requirement"),
            ("./proj #x", True, "could not parse"),
        ],
    )
    def test_anything_else_is_refused_naming_its_origin(
        self, text: str, editable: bool, reason: str
    ) -> None:
        line = RequirementLine(text, "-r hostile.txt (line 7)", editable=editable)
        with pytest.raises(UsageError, match=reason) as caught:
            line.to_pip_line()
        assert "(-r hostile.txt (line 7))" in str(caught.value)

    def test_command_line_requirements_are_checked_before_anything_runs(self) -> None:
        with pytest.raises(UsageError, match="command line"):
            parse_files([], [], args=[f"alpha {EVIL}"], environ={})
        with pytest.raises(UsageError, match="command line"):
            parse_files([], [], editables=["./proj\n--pre"], environ={})

    def test_surrounding_spaces_of_a_command_line_requirement_are_dropped(self) -> None:
        parsed = parse_files([], [], args=[" alpha==1.0 "], environ={})
        assert [line.text for line in parsed.lines] == ["alpha==1.0"]


class TestEncodings:
    def test_an_unknown_declared_encoding_is_a_usage_error(self, tmp_path: Path) -> None:
        path = tmp_path / "req.txt"
        path.write_bytes(b"# -*- coding: no-such-codec -*-\nalpha\n")
        with pytest.raises(UsageError, match="not no-such-codec text"):
            parse_files([str(path)], [], environ={})

    def test_a_declared_encoding_is_read_as_pip_reads_it(self, tmp_path: Path) -> None:
        # U+0085 (NEL) ends a line once the file is decoded as latin-1: for pip too.
        path = tmp_path / "req.txt"
        path.write_bytes(b"# -*- coding: latin-1 -*-\nalpha==1.0\x85beta==2.0\n")
        parsed = parse_files([str(path)], [], environ={})
        assert [line.text for line in parsed.lines] == ["alpha==1.0", "beta==2.0"]


class TestFilesThatDoNotEnd:
    """A requirements file is read whole: one that never ends (a device such as
    /dev/zero, an endless pipe) must be refused, not read until memory runs out."""

    def test_a_device_is_refused_naming_it(self, tmp_path: Path) -> None:
        path = _file(tmp_path, "-r /dev/zero\nalpha==1.0\n")
        with pytest.raises(UsageError, match="/dev/zero: it is a device"):
            parse_files([path], [], environ={})

    def test_the_null_device_reads_as_empty(self) -> None:
        assert parse_files([os.devnull], [], environ={}).lines == ()

    def test_a_file_over_the_size_cap_is_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(reqfile_reading, "_MAX_FILE_BYTES", 64)
        path = _file(tmp_path, "alpha==1.0\n" * 10)
        with pytest.raises(UsageError, match=r"req\.txt: it is larger than"):
            parse_files([path], [], environ={})

    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/fd reopens pipes")
    def test_a_pipe_is_read_up_to_the_cap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``-r <(command)`` names a pipe, /dev/fd/N: read like a file, with the cap."""
        monkeypatch.setattr(reqfile_reading, "_MAX_FILE_BYTES", 64)
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, b"alpha==1.0\n")
            os.close(write_end)
            lines = parse_files([f"/dev/fd/{read_end}"], [], environ={}).lines
            assert [line.text for line in lines] == ["alpha==1.0"]
        finally:
            os.close(read_end)
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, b"#" * 65)  # and no end: the writer stays open
            with pytest.raises(UsageError, match="larger than"):
                parse_files([f"/dev/fd/{read_end}"], [], environ={})
        finally:
            os.close(read_end)
            os.close(write_end)

    @pytest.mark.skipif(sys.platform == "win32", reason="no named pipes")
    def test_a_pipe_no_one_writes_to_does_not_block(self, tmp_path: Path) -> None:
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        assert parse_files([str(fifo)], [], environ={}).lines == ()


class TestUnreadableVersions:
    def test_a_version_number_too_long_for_pip_is_refused(self, tmp_path: Path) -> None:
        """pip's resolver crashes on a number longer than Python converts (4300 digits);
        safe-pip refuses it naming the line, and quotes it shortened."""
        path = _file(tmp_path, "alpha==" + "9" * 20000 + "\n")
        with pytest.raises(UsageError, match="has a number too long to read") as caught:
            parse_files([path], [], environ={})
        assert "(line 1)" in str(caught.value)
        assert len(str(caught.value)) < 1000

    @pytest.mark.parametrize("text", ["alpha==1.0.*", "alpha===anything", "alpha~=1.0,!=1.2.*"])
    def test_ordinary_specifiers_pass(self, text: str) -> None:
        assert RequirementLine(text, "-r r.txt (line 1)").to_pip_line() == text
