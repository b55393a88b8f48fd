"""${VAR} / ${VAR:-default} substitution."""

from __future__ import annotations

import pytest

from dativo_defs.config.errors import ConfigError
from dativo_defs.config.interpolation import interpolate_string
from dativo_defs.config.loader import load_job


@pytest.mark.parametrize("text, env, expected", [
    ("${A}", {"A": "1"}, "1"),
    ("x-${A}-${B}", {"A": "1", "B": "2"}, "x-1-2"),
    ("${A:-fallback}", {}, "fallback"),
    ("${A:-fallback}", {"A": "set"}, "set"),
    ("${A:-}", {}, ""),
    ("$${A} stays", {"A": "1"}, "${A} stays"),
    ("no vars $A", {"A": "1"}, "no vars $A"),
])
def test_substitution(text, env, expected):
    assert interpolate_string(text, env) == (expected, [])


def test_missing_variable_names_the_field_and_line(write):
    path = write("j.yaml", """
        tenant_id: acme
        source:
          type: postgres
          tables: [{name: t}]
          connection:
            host: ${DB_HOST_FOR_TEST}
        target: {type: iceberg}
    """)
    with pytest.raises(ConfigError) as info:
        load_job(path, env={})
    [issue] = info.value.issues
    assert issue.field_path == "source.connection.host" and issue.line == 6
    assert "DB_HOST_FOR_TEST is not set" in issue.message


def test_values_are_substituted_before_validation(write):
    job = load_job(write("j.yaml", """
        tenant_id: ${TENANT:-acme}
        source:
          type: postgres
          tables: [{name: t}]
          connection: {host: "${H}", port: "${P}"}
        target: {type: iceberg}
    """), env={"H": "db.local", "P": "6543"})
    assert job.tenant_id == "acme"
    assert (job.config.source.connection.host, job.config.source.connection.port) == ("db.local", 6543)


def test_malformed_reference(write):
    path = write("j.yaml", "tenant_id: ${1BAD}\nsource: {type: csv, files: [{path: a}]}\ntarget: {type: iceberg}\n")
    with pytest.raises(ConfigError, match="malformed variable reference"):
        load_job(path, env={})


def test_builtin_project_variables(write, example_project):
    job = load_job(example_project / "jobs/acme/customers.yaml", env={})
    assert job.config.source.connection.database == str(example_project / ".dativo/sample/shop.db")
