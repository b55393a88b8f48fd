"""`data_catalog:` (OpenMetadata): after the commit each landed table is registered with its columns and the
contract's metadata; a failed push is a warning event and never costs the data. Against a loopback stand-in of
OpenMetadata's REST API that records the requests (openmetadata_standin.py)."""

from __future__ import annotations

import pytest

from dativo_defs.config.errors import ConfigError
from dativo_defs.config.loader import load_job
from dativo_defs.engine.context import RunStatus
from dativo_defs.engine.events import listening
from dativo_defs.engine.runner import run_job
from tests.engine.conftest import free_port
from tests.engine.helpers import read_iceberg

from .openmetadata_standin import OpenMetadataStandIn

TOKEN = "eyJhbGciOi.OM-CANARY-5d1c.sig"


@pytest.fixture
def om(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OM_TOKEN", TOKEN)
    api = OpenMetadataStandIn(TOKEN, users={"data-team": "u-1"}, tags={"PII.Sensitive", "domain:hr"}).start()
    yield api
    api.stop()


def job_file(write, api_url: str, extra: str = "") -> object:
    write("jobs/acme/data/people.csv", "id,name,score\n" + "".join(f"{i},n{i},{i / 2}\n" for i in range(25)))
    return write("jobs/acme/people.yaml", f"""
        tenant_id: acme
        source: {{type: csv, files: [{{path: data/people.csv, object: people}}]}}
        target: {{type: iceberg}}
        contract:
          name: people
          domain: hr
          description: {{purpose: People of the HR system, usage: reporting}}
          tags: [PII.Sensitive, hr]
          team: {{owner: data-team@acme.test}}
          schema:
            - {{name: id, type: long, required: true, primaryKey: true, description: the person's id}}
            - {{name: name, type: string}}
            - {{name: score, type: double}}
        data_catalog:
          type: openmetadata
          api_url: {api_url}
          auth_token: {{env: OM_TOKEN}}
          {extra}
    """)


def run(file) -> tuple[object, list[dict]]:
    events: list[dict] = []
    with listening(lambda e: events.append({"event_type": e.event_type, **e.record, "_line": e.line})):
        result = run_job(load_job(file))
    return result, events


def test_the_table_is_registered_with_columns_types_and_contract_metadata(om, write, dativo_home, capfd):
    result, events = run(job_file(write, om.url, "table_name: hr_people"))
    assert result.status is RunStatus.SUCCESS, result.error
    assert read_iceberg(dativo_home, "acme.people").num_rows == 25
    assert om.bodies("/api/v1/services/databaseServices")[0]["name"] == "dativo-ingest"
    assert om.bodies("/api/v1/databaseSchemas") == [{"name": "default", "database": "dativo-ingest.hr"}]
    [table] = om.bodies("/api/v1/tables")
    assert (table["name"], table["databaseSchema"], table["tableType"]) == ("hr_people", "dativo-ingest.hr.default",
                                                                           "Regular")
    assert [(c["name"], c["dataType"], c["constraint"]) for c in table["columns"]] == [
        ("id", "BIGINT", "PRIMARY_KEY"), ("name", "STRING", "NULL"), ("score", "DOUBLE", "NULL")]
    assert table["columns"][0]["description"] == "the person's id"
    assert table["description"] == "Purpose: People of the HR system\n\nUsage: reporting"  # upstream's format
    # upstream's tags (the contract's, domain:<domain>, ...) that OpenMetadata knows; the others are reported
    assert [t["tagFQN"] for t in table["tags"]] == ["PII.Sensitive", "domain:hr"]
    assert [e["tags"] for e in events if e["event_type"] == "data_catalog_tags_unknown"] == [["hr"]]
    assert table["owners"] == [{"id": "u-1", "type": "user"}]  # found by the email's local part
    assert all(auth == f"Bearer {TOKEN}" for *_, auth in om.requests)
    pushed = [e for e in events if e["event_type"] == "data_catalog_pushed"]
    assert pushed and pushed[0]["fqn"] == "dativo-ingest.hr.default.hr_people"
    # a second run updates the same entity (PUT is create-or-update)
    assert run_job(load_job(job_file(write, om.url, "table_name: hr_people"))).status is RunStatus.SUCCESS
    assert len(om.bodies("/api/v1/tables")) == 2 and len(om.entities) == 4  # service, database, schema, table
    out = capfd.readouterr()
    assert TOKEN not in out.out + out.err + "".join(e["_line"] for e in events)


@pytest.mark.parametrize("broken", ["server_error", "unreachable", "bad_token"])
def test_a_failed_push_is_a_warning_and_the_data_stays_committed(om, write, dativo_home, capfd, monkeypatch, broken):
    url = om.url
    if broken == "server_error":
        om.fail_tables = 1
    elif broken == "unreachable":
        url = f"http://127.0.0.1:{free_port()}/api"
    else:
        monkeypatch.setenv("OM_TOKEN", "wrong-" + TOKEN)
    result, events = run(job_file(write, url))
    assert result.status is RunStatus.SUCCESS and result.error is None
    assert read_iceberg(dativo_home, "acme.people").num_rows == 25  # committed before the push, and kept
    [failed] = [e for e in events if e["event_type"] == "data_catalog_push_failed"]
    assert failed["level"] == "WARNING"
    expected = {"server_error": "PUT /v1/tables answered 500: ", "unreachable": "ConnectionError: cannot reach",
                "bad_token": "answered 401"}[broken]
    assert expected in failed["reason"], failed["reason"]
    assert events[-1]["event_type"] == "job_finished" and events[-1]["status"] == "success"
    out = capfd.readouterr()
    assert TOKEN not in out.out + out.err + "".join(e["_line"] for e in events)


def test_table_name_is_refused_for_a_job_with_several_objects(write, om):
    file = write("jobs/acme/two.yaml", f"""
        tenant_id: acme
        source: {{type: csv, files: [{{path: a.csv, object: a}}, {{path: b.csv, object: b}}]}}
        target: {{type: iceberg}}
        data_catalog: {{type: openmetadata, api_url: {om.url}, auth_token: {{env: OM_TOKEN}}, table_name: t}}
    """)
    with pytest.raises(ConfigError, match="data_catalog.table_name names one table"):
        load_job(file)
