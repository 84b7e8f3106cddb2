from __future__ import annotations

from safe_pip.models import NameSet, SourceSpec


class TestNameSet:
    def test_names_are_normalized(self) -> None:
        names = NameSet.from_csv(["Foo_Bar, baz", "qux"])
        assert "foo-bar" in names and "FOO.BAR" in names and "qux" in names
        assert "other" not in names and bool(names)

    def test_all(self) -> None:
        assert "anything" in NameSet([":all:"])
        assert not NameSet()

    def test_union(self) -> None:
        assert NameSet(["a"]) | NameSet(["b"]) == NameSet(["a", "b"])


def test_source_credentials_stay_out_of_text() -> None:
    source = SourceSpec("corp", "https://corp.example/simple", username="u", password="topsecret")
    assert "topsecret" not in repr(source) + str(source)
