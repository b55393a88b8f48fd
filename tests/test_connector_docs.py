"""docs/connectors/<type>.md: a page per source and target type, field tables current, examples valid."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from dativo_defs.cli import main
from dativo_defs.config.loader import load_job
from dativo_defs.config.sources import DIALECT_ONLY_TYPES, SOURCE_TYPES
from dativo_defs.config.targets import TARGET_TYPES
from dativo_defs.connector_docs import DOCS_DIR, connector_models, examples, stale_pages


def test_every_connector_has_a_current_page():
    documented = sorted(set(SOURCE_TYPES) - DIALECT_ONLY_TYPES) + TARGET_TYPES
    assert sorted(c.type for c in connector_models().values()) == sorted(documented)
    assert stale_pages(DOCS_DIR) == [], "run `dativo docs` and commit docs/connectors/"


def test_a_stale_page_is_detected_and_rewritten_keeping_the_notes(tmp_path):
    shutil.copytree(DOCS_DIR, tmp_path / "c")
    page = tmp_path / "c" / "postgres.md"
    text = page.read_text()
    page.write_text(text.replace("| `batch_rows` |", "| `batch_size` |"))
    (tmp_path / "c" / "csv.md").unlink()
    assert stale_pages(tmp_path / "c") == ["csv.md", "postgres.md"]
    result = CliRunner().invoke(main, ["docs", "--check", "--dir", str(tmp_path / "c")])
    assert result.exit_code == 2 and "postgres.md" in result.output
    assert CliRunner().invoke(main, ["docs", "--dir", str(tmp_path / "c")]).exit_code == 0
    assert stale_pages(tmp_path / "c") == [] and page.read_text() == text  # hand-written notes kept


def test_every_field_of_the_model_is_in_its_table():
    for stem, connector in connector_models().items():
        text = (DOCS_DIR / f"{stem}.md").read_text()
        for name, info in connector.model.model_fields.items():
            assert f"| `{info.alias or name}` |" in text, (stem, name)


def test_page_examples_are_valid_jobs(tmp_path):
    checked = 0
    for stem, connector in connector_models().items():
        for number, example in enumerate(examples(DOCS_DIR / f"{stem}.md")):
            job_file = tmp_path / "jobs" / "acme" / f"{stem.replace('-', '_')}_{number}.yaml"
            job_file.parent.mkdir(parents=True, exist_ok=True)
            job_file.write_text(example)
            job = load_job(job_file)  # raises ConfigError naming the field when an example is wrong
            assert getattr(job.config, connector.kind).type == connector.type
            checked += 1
    assert checked >= len(connector_models()) - 1  # postgresql is an alias page without its own example
