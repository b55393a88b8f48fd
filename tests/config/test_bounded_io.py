"""Bounded reading of config and secret files, and the bounded, loop-safe glob walk of `runner.jobs`."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dativo_defs.config.errors import ConfigError
from dativo_defs.config.job import MAX_BACKOFF_MULTIPLIER, RetryConfig
from dativo_defs.config.secrets import MAX_SECRET_BYTES, SecretNotAvailable, SecretRef
from dativo_defs.config.walk import bounded_glob
from dativo_defs.config.yaml_loader import load_yaml
from tests.bad_inputs.cases import BOMB


# --- secret files ------------------------------------------------------------------------------------------
def test_a_secret_file_is_read_stripped(tmp_path):
    (tmp_path / "pw").write_text("  s3cret\n")
    assert SecretRef(file="pw").resolve(tmp_path) == "s3cret"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="/dev/zero does not exist here")
def test_dev_zero_as_a_secret_file_is_refused_without_reading():
    with pytest.raises(SecretNotAvailable, match="secret file /dev/zero is not a regular file"):
        SecretRef(file="/dev/zero").resolve()


def test_a_fifo_as_a_secret_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pw")  # opening it for reading would block until a writer comes
    with pytest.raises(SecretNotAvailable, match="is not a regular file"):
        SecretRef(file="pw").resolve(tmp_path)


def test_an_oversized_secret_file_is_refused(tmp_path):
    (tmp_path / "pw").write_bytes(b"x" * (MAX_SECRET_BYTES + 1))
    with pytest.raises(SecretNotAvailable, match=f"secrets are limited to {MAX_SECRET_BYTES}") as raised:
        SecretRef(file="pw").resolve(tmp_path)
    assert "xxx" not in str(raised.value)


def test_a_missing_secret_file_names_the_path_only(tmp_path):
    with pytest.raises(SecretNotAvailable, match=r"secret file .*/nope cannot be read: No such file"):
        SecretRef(file="nope").resolve(tmp_path)


# --- config files ------------------------------------------------------------------------------------------
def test_a_10mb_config_file_is_refused_by_its_size_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024)  # sparse: the size alone refuses it
    with pytest.raises(ConfigError, match="file is 10485760 bytes; config files are limited to 1000000"):
        load_yaml(big)


def test_an_alias_bomb_is_refused(tmp_path):
    (tmp_path / "bomb.yaml").write_text(BOMB)
    with pytest.raises(ConfigError, match="more than 100000 values"):
        load_yaml(tmp_path / "bomb.yaml")


def test_a_fifo_config_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "runner.yaml")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_yaml(tmp_path / "runner.yaml")


# --- glob walks --------------------------------------------------------------------------------------------
@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in ("a.yaml", "x/b.yaml", "x/y/c.yml", "x/y/z/d.yaml", ".hidden/e.yaml", "x/.f.yaml", "x/notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("a: 1\n")
    return tmp_path


@pytest.mark.parametrize("pattern", ["**/*.yaml", "*/*.yaml", "x/**/*.y*ml", "**", "x/*/[cd].yml", "*.yaml",
                                     "x/y/**", "nope/**/*.yaml", "x/?/c.yml"])
def test_bounded_glob_matches_like_glob_without_loops(tree, pattern):
    expected = sorted(Path(p) for p in glob.glob(str(tree / pattern), recursive=True) if Path(p).is_file())
    found = bounded_glob(tree / pattern)
    assert found.problem is None
    assert found.files == expected


def test_symlink_loops_are_walked_once(tree):
    os.symlink("..", tree / "x/y/back")
    os.symlink(str(tree), tree / "x/root")
    os.symlink("self", tree / "self")  # a link to itself: ELOOP
    found = bounded_glob(tree / "**/*.yaml")
    assert found.problem is None
    assert {p.resolve() for p in found.files} == {tree / "a.yaml", tree / "x/b.yaml", tree / "x/y/z/d.yaml"}


def test_the_walk_is_bounded_in_depth_and_entries(tmp_path):
    deep = tmp_path.joinpath(*["d"] * 20)
    deep.mkdir(parents=True)
    (deep / "job.yaml").write_text("a: 1\n")
    found = bounded_glob(tmp_path / "**/*.yaml", max_depth=16)
    assert found.files == [] and "deeper than 16 levels" in found.problem
    for i in range(30):
        (tmp_path / f"f{i}.yaml").write_text("a: 1\n")
    found = bounded_glob(tmp_path / "*.yaml", max_entries=10)
    assert "more than 10 entries" in found.problem and len(found.files) <= 10


# --- retry math --------------------------------------------------------------------------------------------
@settings(max_examples=200, derandomize=True, database=None)
@given(initial=st.floats(0, 1e6), multiplier=st.floats(1, MAX_BACKOFF_MULTIPLIER), retry=st.integers(1, 101))
def test_the_retry_curve_never_raises_and_stays_capped(initial, multiplier, retry):
    config = RetryConfig(initial_delay_seconds=initial, max_delay_seconds=max(initial, 300),
                         backoff_multiplier=multiplier, max_retries=100)
    delay = config.delay_before_retry(retry)
    assert 0 <= delay <= config.max_delay_seconds


# --- the shared bounded reader ---------------------------------------------------------------------------
def test_read_bounded_refuses_special_files_on_the_open_descriptor(tmp_path):
    from dativo_defs.config.bounded import FileTooLarge, NotRegularFile, read_bounded

    os.mkfifo(tmp_path / "fifo")
    for special in (tmp_path / "fifo", tmp_path):  # a FIFO opens at once (non-blocking), a directory too
        with pytest.raises(NotRegularFile):
            read_bounded(special, 10)
    (tmp_path / "f").write_bytes(b"x" * 11)
    with pytest.raises(FileTooLarge) as raised:
        read_bounded(tmp_path / "f", 10)
    assert raised.value.size == 11
    assert read_bounded(tmp_path / "f", 11) == b"x" * 11
    with pytest.raises(FileNotFoundError):
        read_bounded(tmp_path / "missing", 10)
