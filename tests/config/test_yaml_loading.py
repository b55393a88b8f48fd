"""Hostile and malformed files give one clear error, never a traceback or runaway memory."""

from __future__ import annotations

import pytest

from dativo_defs.config.errors import ConfigError
from dativo_defs.config.loader import load_job

BOMB = """
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def _error(path) -> str:
    with pytest.raises(ConfigError) as info:
        load_job(path)
    return str(info.value)


def test_syntax_error_has_line(write):
    path = write("j.yaml", "tenant_id: acme\nsource: [unclosed\ntarget: {}\n")
    text = _error(path)
    assert text.startswith(f"{path}:3: invalid YAML")


def test_alias_bomb_is_refused(write):
    assert "alias bomb" in _error(write("j.yaml", BOMB))


def test_binary_file(tmp_path):
    path = tmp_path / "j.yaml"
    path.write_bytes(b"tenant_id: a\x00\x01\x02")
    assert "binary" in _error(path)


def test_oversized_file(tmp_path):
    path = tmp_path / "j.yaml"
    path.write_text("# " + "x" * 1_100_000)
    assert "limited to" in _error(path)


def test_duplicate_keys(write):
    assert "duplicate key 'tenant_id'" in _error(write("j.yaml", "tenant_id: a\ntenant_id: b\n"))


def test_top_level_must_be_a_mapping(write):
    assert "expected a YAML mapping" in _error(write("j.yaml", "- a\n- b\n"))


def test_empty_file(write):
    assert "file is empty" in _error(write("j.yaml", "\n"))


def test_python_tags_are_not_executed(write):
    assert "unsupported YAML tag" in _error(write("j.yaml", "tenant_id: !!python/object/apply:os.system ['true']\n"))
