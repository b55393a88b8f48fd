"""The bad-input corpus: each case breaks one file of a copy of the example project (configs/ + jobs/).

A case replaces a file (`content`, text or bytes) or edits it (`edit=(old, new)`: one replacement in the
example's own text, which must occur exactly once). `dativo validate` must then exit 2 with an ERROR line that
names the file (`where`, default the file itself), the field path (`field`, when one applies) and matches
`phrase` (a regex) — and no traceback. The schedules in `broken` (default: those running the edited job file;
ALL when the runner file as a whole is unusable) drop out; every other schedule must still load in Dagster
(build_definitions) and in the Airflow manifest.

Decisions recorded here:
- Job paths may be absolute or climb out of the project (`config: ../../../../etc/passwd`): that is allowed by
  design (README: "relative to this file, or absolute"). Such a file is simply not a job: it is reported as
  "expected a YAML mapping" (or a YAML/field error) naming that file, without echoing its content.
- Identifier injection: names that become orchestrator names or table names (tenant_id, name, schedule name,
  object) are refused by the safe-name rule. `tables[].name` is a source table, allowed by config and quoted
  safely at run time, so it is not a bad input (see the control case in test_bad_inputs.py).
- A problem outside the schedule entries of the runner file (syntax, unknown top-level field, bad mode, an
  unset variable in the body) makes the whole runner unusable: no schedule loads, nothing crashes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

RUNNER = "configs/runner.yaml"
TICKETS = "jobs/initech/tickets.yaml"
INVOICES = "jobs/initech/invoices.yaml"
ORDERS = "jobs/acme/orders.yaml"
CUSTOMERS = "jobs/acme/customers.yaml"
CONTRACT = "jobs/acme/contracts/orders.yaml"
EVENTS = "jobs/globex/events.yaml"
CATALOG = "jobs/globex/catalog.yaml"

ALL = frozenset({"acme_orders_hourly", "acme_customers", "globex_events", "globex_catalog_daily",
                 "initech_tickets", "initech_invoices_nightly"})
BROKEN_BY_FILE = {
    TICKETS: {"initech_tickets"}, INVOICES: {"initech_invoices_nightly"}, ORDERS: {"acme_orders_hourly"},
    CONTRACT: {"acme_orders_hourly"}, CUSTOMERS: {"acme_customers"}, EVENTS: {"globex_events"},
    CATALOG: {"globex_catalog_daily"},
}
SCHEDULE = "runner.orchestrator.schedules"  # field path prefix of a schedule entry
S4 = f"{SCHEDULE}[4]"  # initech_tickets, the 5th entry of configs/runner.yaml

BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""
TICKETS_TEXT = """\
tenant_id: initech
source:
  type: csv
  files:
    - path: data/tickets.csv
target:
  type: parquet
"""


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    content: str | bytes | None = None
    edit: tuple[str, str] | None = None
    field: str = ""
    phrase: str = ""
    where: str | None = None
    broken: frozenset[str] | None = None
    absent: tuple[str, ...] = ()
    links: dict[str, str] = dataclasses.field(default_factory=dict)  # symlink path -> target, created beside the case
    subprocess: bool = False  # validate with the real `dativo` executable instead of click's CliRunner
    requires: str = ""  # an absolute path the case needs (skipped where it does not exist)
    fifo: bool = False  # replace `file` by a named pipe (reading it would block)
    extra: dict[str, str] = dataclasses.field(default_factory=dict)  # more files the case writes: path -> text

    @property
    def reported_file(self) -> str:
        return self.where if self.where is not None else self.file

    @property
    def broken_schedules(self) -> frozenset[str]:
        return self.broken if self.broken is not None else frozenset(BROKEN_BY_FILE.get(self.file, ()))


def _ticket(id: str, old: str, new: str, field: str, phrase: str, **kw) -> Case:
    return Case(id, TICKETS, edit=(old, new), field=field, phrase=phrase, **kw)


def _runner(id: str, old: str, new: str, field: str, phrase: str, broken=frozenset({"initech_tickets"}), **kw) -> Case:
    return Case(id, RUNNER, edit=(old, new), field=field, phrase=phrase, broken=frozenset(broken), **kw)


CASES: list[Case] = [
    # --- YAML syntax and hostile YAML -------------------------------------------------------------------
    Case("yaml_unclosed_bracket", TICKETS, "tenant_id: initech\nsource: {type: csv, files: [{path: data/tickets.csv}\n"
         "target: {type: parquet}\n", phrase=r"invalid YAML: .*flow sequence"),
    Case("yaml_bad_indentation", TICKETS, "tenant_id: initech\nsource:\n  type: csv\n   files: []\n",
         phrase="invalid YAML: mapping values are not allowed"),
    Case("yaml_tab_indentation", TICKETS, "tenant_id: initech\nsource:\n\ttype: csv\n",
         phrase="invalid YAML: .*a tab character: YAML indentation must use spaces"),
    Case("yaml_unterminated_quote", TICKETS, 'tenant_id: "initech\nsource: {}\n', phrase="invalid YAML: .*quoted scalar"),
    Case("yaml_multiple_documents", TICKETS, TICKETS_TEXT + "---\ntenant_id: other\n",
         phrase="invalid YAML: .*single document"),
    Case("yaml_runner_syntax_error", RUNNER, edit=("    schedules:", "    schedules: ["), broken=ALL,
         phrase="invalid YAML", subprocess=True),
    Case("yaml_alias_bomb", TICKETS, BOMB, phrase=r"more than 100000 values \(YAML alias bomb\?\)"),
    Case("yaml_deep_nesting", TICKETS, "tenant_id: initech\nx: " + "[" * 100 + "]" * 100 + "\n",
         phrase="nesting deeper than 64 levels"),
    Case("yaml_merge_key", TICKETS, TICKETS_TEXT + "base: &b {type: parquet}\nother:\n  <<: *b\n",
         phrase=r"YAML merge keys \(<<\) are not supported"),
    Case("yaml_python_tag", TICKETS, "tenant_id: !!python/object/apply:os.system ['echo pwned']\n",
         field="tenant_id", phrase="unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
         absent=("pwned",), subprocess=True),
    Case("yaml_duplicate_key", TICKETS, TICKETS_TEXT + "tenant_id: acme\n", field="tenant_id",
         phrase=r"duplicate key 'tenant_id' \(first on line 1\)"),
    # a duplicate key inside one schedule entry sets aside only that entry (like any field error in it)
    _runner("yaml_duplicate_key_in_schedule_entry", '        cron: "*/15 * * * *"',
            '        cron: "*/15 * * * *"\n        cron: "0 * * * *"', f"{S4}.cron", "duplicate key 'cron'"),
    # so does any other YAML-level problem confined to one value of one entry
    _runner("yaml_python_tag_in_schedule_entry", '        cron: "*/15 * * * *"',
            '        cron: !!python/object/apply:os.system ["echo pwned"]', f"{S4}.cron",
            "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'", absent=("pwned",)),
    _runner("yaml_impossible_date_in_schedule_entry", "        config: ../jobs/initech/tickets.yaml",
            "        config: ../jobs/initech/tickets.yaml\n        tags: {since: 2024-02-30}", f"{S4}.tags.since",
            r"invalid value '2024-02-30' \(day is out of range for month\)"),
    Case("yaml_non_string_key", TICKETS, TICKETS_TEXT + "~: x\n", phrase="mapping keys must be strings, got None"),
    Case("yaml_empty_file", TICKETS, "", phrase="file is empty, expected a YAML mapping"),
    Case("yaml_comments_only", TICKETS, "# nothing here yet\n", phrase="file is empty"),
    Case("yaml_top_level_list", TICKETS, "- tenant_id: initech\n", phrase="expected a YAML mapping at the top level, got list"),
    Case("yaml_top_level_scalar", TICKETS, "initech\n", phrase="expected a YAML mapping at the top level, got str"),
    Case("yaml_binary_nul_bytes", TICKETS, b"tenant_id: initech\x00\x01\x02\n", phrase=r"binary \(contains NUL bytes\)",
         subprocess=True),
    Case("yaml_not_utf8", TICKETS, "tenant_id: initech\ndescription: café\n".encode("latin-1"),
         phrase=r"not UTF-8 text \(byte \d+\)"),
    Case("yaml_oversized_file", TICKETS, TICKETS_TEXT + "description: |\n" + ("  " + "x" * 100 + "\n") * 10_500,
         phrase="config files are limited to 1000000"),
    Case("yaml_nul_escape_in_value", TICKETS, TICKETS_TEXT + 'description: "a\\0b"\n', field="description",
         phrase="NUL character in a value"),
    Case("yaml_impossible_date", TICKETS, TICKETS_TEXT + "description: 2024-02-30\n", field="description",
         phrase=r"invalid value '2024-02-30' \(day is out of range for month\); quote it"),
    Case("yaml_bad_int_tag", TICKETS, TICKETS_TEXT + "retry_config: {max_retries: !!int lots}\n",
         field="retry_config.max_retries", phrase="invalid value 'lots'"),
    Case("yaml_empty_runner", RUNNER, "", broken=ALL, phrase="file is empty"),
    Case("yaml_runner_top_level_list", RUNNER, "- runner: {}\n", broken=ALL, phrase="expected a YAML mapping"),

    # --- wrong types ---------------------------------------------------------------------------------------
    _ticket("type_string_for_int", "  max_retries: 0", "  max_retries: lots", "retry_config.max_retries",
            r"valid integer.*\(got 'lots'\)"),
    _ticket("type_list_for_mapping", "target:\n  type: parquet\n  mode: overwrite", "target:\n  - parquet", "target",
            "valid dictionary"),
    _ticket("type_bool_for_string", "tenant_id: initech", "tenant_id: true", "tenant_id", r"valid string \(got True\)"),
    _ticket("type_mapping_for_list", "  files:\n    - path: data/tickets.csv", "  files: {path: data/tickets.csv}",
            "source.files", "valid list"),
    _runner("type_runner_tags_list", "tags: {team: sales}", "tags: [sales]", f"{SCHEDULE}[0].tags", "valid dictionary",
            broken={"acme_orders_hourly"}),
    _runner("type_interval_not_a_number", "interval_seconds: 300", "interval_seconds: soon",
            f"{SCHEDULE}[1].interval_seconds", "valid integer", broken={"acme_customers"}),
    _runner("type_schedule_entry_not_a_mapping", "      - name: initech_tickets",
            "      - just a string\n      - name: initech_tickets", S4, "valid dictionary or instance of Schedule",
            broken=()),

    # --- unknown fields, with did-you-mean hints ---------------------------------------------------------
    _ticket("unknown_top_level_field", "tenant_id: initech", "tenant_id: initech\ndescriptoin: tickets",
            "descriptoin", r"unknown field 'descriptoin' \(did you mean 'description'\?\)"),
    _ticket("unknown_field_in_source", "  type: csv", "  type: csv\n  fils: []",
            "source.fils", r"unknown field 'fils' \(did you mean 'files'\?\)"),
    Case("unknown_field_in_retry_config", ORDERS, edit=("  max_retries: 2", "  max_retrys: 2"),
         field="retry_config.max_retrys", phrase=r"did you mean 'max_retries'\?"),
    _runner("unknown_field_in_schedule", '        cron: "*/15 * * * *"', '        crn: "*/15 * * * *"',
            f"{S4}.crn", r"unknown field 'crn' \(did you mean 'cron'\?\)"),
    _runner("unknown_field_in_orchestrator", "concurrency_per_tenant: 1", "concurency_per_tenant: 1",
            "runner.orchestrator.concurency_per_tenant", r"did you mean 'concurrency_per_tenant'\?", broken=ALL),
    Case("unknown_field_in_contract", CONTRACT, edit=("owners: [team:acme-data]", "ownrs: [team:acme-data]"),
         field="ownrs", phrase=r"did you mean 'owners'\?"),

    # --- missing required fields ---------------------------------------------------------------------------
    _ticket("missing_tenant_id", "tenant_id: initech\n", "", "tenant_id", "required field is missing"),
    _ticket("missing_source", "source:\n  type: csv\n  files:\n    - path: data/tickets.csv\n", "", "source",
            "required field is missing"),
    _ticket("missing_target", "target:\n  type: parquet\n", "", "target", "required field is missing"),
    _ticket("missing_files", "  files:\n    - path: data/tickets.csv\n", "", "source.files", "required field is missing"),
    _ticket("empty_files_list", "  files:\n    - path: data/tickets.csv\n", "  files: []\n", "source.files",
            "at least 1 item"),
    Case("missing_tables", INVOICES, edit=("  tables:\n    - name: invoices\n", ""), field="source.tables",
         phrase="required field is missing"),
    _ticket("missing_source_type", "  type: csv\n", "", "source",
            "`type` is missing; expected one of: 'csv', .*'sqlite'"),
    _runner("missing_schedule_config", "        config: ../jobs/initech/tickets.yaml\n", "", f"{S4}.config",
            "required field is missing"),

    # --- cadence -----------------------------------------------------------------------------------------
    _runner("cron_minute_61", '"*/15 * * * *"', '"61 * * * *"', f"{S4}.cron", "invalid cron expression '61 \\* \\* \\* \\*'"),
    _runner("cron_six_fields", '"*/15 * * * *"', '"0 */15 * * * *"', f"{S4}.cron", "expected 5 fields"),
    _runner("cron_unknown_alias", '"*/15 * * * *"', '"@fortnightly"', f"{S4}.cron", "invalid cron expression '@fortnightly'"),
    _runner("cron_february_30", '"*/15 * * * *"', '"0 0 30 2 *"', f"{S4}.cron", r"never fires \(no such date\)"),
    _runner("timezone_unknown", "timezone: Europe/Berlin", "timezone: Mars/Olympus", f"{SCHEDULE}[0].timezone",
            "unknown timezone 'Mars/Olympus'", broken={"acme_orders_hourly"}),
    _runner("cron_and_interval", '        cron: "*/15 * * * *"', '        cron: "*/15 * * * *"\n        interval_seconds: 60',
            S4, "set exactly one of `cron` or `interval_seconds`"),
    _runner("neither_cron_nor_interval", '        cron: "*/15 * * * *"\n', "", S4, "set exactly one of"),
    _runner("interval_zero", "interval_seconds: 300", "interval_seconds: 0", f"{SCHEDULE}[1].interval_seconds",
            "greater than or equal to 1", broken={"acme_customers"}),
    _runner("interval_negative", "interval_seconds: 300", "interval_seconds: -5", f"{SCHEDULE}[1].interval_seconds",
            r"greater than or equal to 1 \(got -5\)", broken={"acme_customers"}),
    _runner("cron_day_of_month_and_day_of_week", '"*/15 * * * *"', '"0 0 1 * 1"', f"{S4}.cron",
            "restricts both day-of-month and day-of-week"),
    _runner("cron_nearest_weekday_w", '"*/15 * * * *"', '"0 0 1W * *"', f"{S4}.cron",
            "day-of-month field '1W' uses syntax outside standard cron"),
    _runner("cron_nth_weekday_hash", '"*/15 * * * *"', '"0 0 * * 1#2"', f"{S4}.cron", "outside standard cron"),
    _runner("interval_beyond_a_date", "interval_seconds: 300", "interval_seconds: 1000000000000",
            f"{SCHEDULE}[1].interval_seconds", "at most 3155760000", broken={"acme_customers"}),
    _runner("interval_beyond_a_timedelta", "interval_seconds: 300", "interval_seconds: 99999999999999999999",
            f"{SCHEDULE}[1].interval_seconds", "must be a finite number of seconds", broken={"acme_customers"}),
    _runner("max_concurrent_runs_zero", "max_concurrent_runs: 2", "max_concurrent_runs: 0",
            f"{SCHEDULE}[2].max_concurrent_runs", "greater than or equal to 1", broken={"globex_events"}),
    _runner("duplicate_schedule_names", "name: initech_tickets", "name: acme_orders_hourly", f"{S4}.name",
            r"duplicate schedule name 'acme_orders_hourly' \(schedules\[0\] has it too\)"),

    # --- unsafe names and identifier injection -------------------------------------------------------------
    _runner("schedule_name_with_space", "name: initech_tickets", "name: initech tickets", f"{S4}.name", "not a safe name"),
    _runner("schedule_name_with_dot", "name: initech_tickets", "name: initech.tickets", f"{S4}.name", "not a safe name"),
    _runner("schedule_name_path_traversal", "name: initech_tickets", "name: ../x", f"{S4}.name", "'../x' is not a safe name"),
    _runner("schedule_name_sql", "name: initech_tickets", "name: a;drop", f"{S4}.name", "'a;drop' is not a safe name"),
    _runner("schedule_name_reserved", "name: initech_tickets", "name: config", f"{S4}.name", "'config' is reserved by Dagster"),
    _runner("schedule_name_201_chars", "name: initech_tickets", "name: " + "a" * 201, f"{S4}.name", "at most 200 characters"),
    _runner("schedule_name_unicode", "name: initech_tickets", "name: tickéts", f"{S4}.name", "'tickéts' is not a safe name",
            subprocess=True),
    _ticket("tenant_id_injection", "tenant_id: initech", "tenant_id: \"initech'; DROP TABLE t; --\"", "tenant_id",
            "is not a safe name"),
    _ticket("tenant_id_64_chars_over_dagster_tag_limit", "tenant_id: initech", "tenant_id: " + "t" * 64, "tenant_id",
            "is 64 characters; at most 63"),
    _ticket("job_name_64_chars_over_dagster_tag_limit", "tenant_id: initech", "tenant_id: initech\nname: " + "j" * 64,
            "name", "is 64 characters; at most 63"),
    _runner("schedule_tag_over_airflow_tag_limit", "tags: {team: sales}", "tags: {team: " + "s" * 96 + "}",
            f"{SCHEDULE}[0].tags", "'key:value' is 101 characters; Airflow DAG tags hold at most 100",
            broken={"acme_orders_hourly"}),
    _ticket("default_object_name_from_file_name", "    - path: data/tickets.csv", '    - path: "data/tickets copy (1).csv"',
            "source", r"default object name: 'tickets copy \(1\)' is not a safe name.*set `object:`"),
    Case("default_object_name_from_table_name", INVOICES, edit=("    - name: invoices", "    - name: invoice lines"),
         field="source", phrase=r"default object name: 'invoice lines' is not a safe name.*set `object:`"),
    _runner("schedule_named_like_a_manual_jobs_dag", "name: initech_tickets", "name: acme__orders_rebuild_job",
            f"{S4}.name", r"schedule name 'acme__orders_rebuild_job' is the dag_id and Dagster job name of job "
            r"acme/orders_rebuild"),
    _runner("schedule_named_like_a_scheduled_jobs_dag", "name: initech_tickets", "name: acme__orders_job",
            f"{S4}.name", r"is the dag_id and Dagster job name of job acme/orders"),
    _ticket("tenant_id_reserved", "tenant_id: initech", "tenant_id: context", "tenant_id", "reserved by Dagster"),
    _ticket("job_name_unsafe", "tenant_id: initech", "tenant_id: initech\nname: my-job", "name", "'my-job' is not a safe name"),
    Case("object_name_injection", ORDERS, edit=("      object: orders", "      object: 'orders\"; DROP TABLE x; --'"),
         field="source.files[0].object", phrase="'orders\"; DROP TABLE x; --' is not a safe name"),
    Case("table_object_injection", INVOICES, edit=("    - name: invoices", "    - name: invoices\n      object: \"x; drop\""),
         field="source.tables[0].object", phrase="not a safe name"),
    _ticket("duplicate_job_name_across_files", "tenant_id: initech", "tenant_id: acme\nname: orders", "name",
            r"tenant 'acme' already has a job named 'orders' \(.*orders\.yaml\); set a different `name:`"),
    _ticket("duplicate_object_names_in_job", "    - path: data/tickets.csv",
            "    - path: data/tickets.csv\n    - path: data/tickets.csv", "source",
            "object name\\(s\\) 'tickets' used more than once"),

    # --- referenced files ----------------------------------------------------------------------------------
    _runner("missing_job_file", "../jobs/initech/tickets.yaml", "../jobs/initech/nope.yaml", f"{S4}.config",
            r"job file .*/jobs/initech/nope\.yaml not found"),
    _runner("job_path_traversal_etc_passwd", "../jobs/initech/tickets.yaml", "../../../../../../../../../../etc/passwd",
            "", "expected a YAML mapping|invalid YAML", where="/etc/passwd", absent=("root:x:0",),
            requires="/etc/passwd", subprocess=True),
    _runner("job_path_is_a_directory", "../jobs/initech/tickets.yaml", "../jobs/initech", f"{S4}.config",
            r"job file .*/jobs/initech is not a regular file"),
    _runner("job_path_is_a_device", "../jobs/initech/tickets.yaml", "/dev/zero", f"{S4}.config",
            "job file /dev/zero is not a regular file", requires="/dev/zero"),
    _runner("job_path_symlink_loop", "../jobs/initech/tickets.yaml", "../jobs/initech/loop.yaml", f"{S4}.config",
            r"job file .*loop\.yaml not found", links={"jobs/initech/loop.yaml": "loop.yaml"}),
    Case("runner_file_is_a_fifo", RUNNER, "", fifo=True, broken=ALL, phrase="not a regular file", subprocess=True),
    _runner("jobs_glob_deeper_than_the_walk_bound", 'jobs: ["../jobs/*/*.yaml"]',
            'jobs: ["../jobs/*/*.yaml", "../jobs/deep/**/*.yaml"]', "runner.jobs[1]",
            "directories nest deeper than 16 levels", broken=(),
            extra={"jobs/deep/" + "d/" * 17 + "job.yaml": TICKETS_TEXT}),
    _runner("job_path_name_too_long", "../jobs/initech/tickets.yaml", "../jobs/" + "n" * 300 + ".yaml", "",
            "cannot read file: File name too long", where="n" * 300 + ".yaml"),
    Case("missing_contract_file", ORDERS, edit=("contract: contracts/orders.yaml", "contract: contracts/nope.yaml"),
         field="contract", phrase=r"contract file .*contracts/nope\.yaml not found"),
    Case("contract_path_is_a_directory", ORDERS, edit=("contract: contracts/orders.yaml", "contract: contracts"),
         field="contract", phrase=r"contract file .*/contracts is not a regular file"),
    Case("contract_bad_column_type", CONTRACT, edit=("{name: order_id, type: long", "{name: order_id, type: bigint"),
         field="schema[0].type", phrase=r"Input should be 'string', .* \(got 'bigint'\)"),
    Case("contract_empty_schema", CONTRACT, "schema: []\n", field="schema", phrase="at least 1 item"),
    Case("contract_inline_bad_column_type", CUSTOMERS, edit=("{name: id, type: long,", "{name: id, type: int64,"),
         field="contract.schema[0].type", phrase=r"\(got 'int64'\)", absent=("constrained-str", "Contract.schema")),

    # --- variables and secrets ---------------------------------------------------------------------------
    Case("variable_unset", CUSTOMERS, edit=("${DATIVO_HOME}/sample", "${DATIVO_BAD_INPUT_UNSET}/sample"),
         field="source.connection.database", phrase=r"environment variable DATIVO_BAD_INPUT_UNSET is not set"),
    Case("variable_malformed", CUSTOMERS, edit=("${DATIVO_HOME}/sample", "${1BAD}/sample"),
         field="source.connection.database", phrase=r"malformed variable reference '\$\{1BAD\}'"),
    Case("variable_unterminated", CUSTOMERS, edit=("${DATIVO_HOME}/sample", "${DATIVO_HOME/sample"),
         field="source.connection.database", phrase="malformed variable reference"),
    _runner("variable_unset_in_schedule", "../jobs/initech/tickets.yaml", "${DATIVO_BAD_INPUT_UNSET}/tickets.yaml",
            f"{S4}.config", "environment variable DATIVO_BAD_INPUT_UNSET is not set"),
    _runner("variable_unset_in_runner_body", "    type: dagster", "    type: ${DATIVO_BAD_INPUT_UNSET}",
            "runner.orchestrator.type", "is not set", broken=ALL),
    Case("secret_env_and_file", CUSTOMERS, edit=("    database: ${DATIVO_HOME}/sample/shop.db",
                                                 "    database: ${DATIVO_HOME}/sample/shop.db\n"
                                                 "    password: {env: PG_PASSWORD, file: /run/secrets/pg}"),
         field="source.connection.password", phrase="a secret takes exactly one of"),
    Case("secret_inline_with_dollar_brace_not_echoed", CUSTOMERS, edit=(
        "    database: ${DATIVO_HOME}/sample/shop.db", "    database: ${DATIVO_HOME}/sample/shop.db\n"
        "    password: Xk9${Qz!7pLw4"), field="source.connection.password",
        phrase=r"malformed variable reference \(in a secret value: not shown\)", absent=("Qz!7pLw4", "7pLw4", "Xk9"),
        subprocess=True),
    Case("secret_file_is_a_device", CUSTOMERS, edit=("    database: ${DATIVO_HOME}/sample/shop.db",
                                                     "    database: ${DATIVO_HOME}/sample/shop.db\n"
                                                     "    password: {file: /dev/zero}"),
         field="source.connection.password.file", phrase="secret file /dev/zero is not a regular file",
         requires="/dev/zero"),
    Case("secret_file_too_large", CUSTOMERS, edit=("    database: ${DATIVO_HOME}/sample/shop.db",
                                                   "    database: ${DATIVO_HOME}/sample/shop.db\n"
                                                   "    password: {file: big.secret}"),
         field="source.connection.password.file", phrase=r"big\.secret is 70000 bytes; secrets are limited to 65536",
         extra={"jobs/acme/big.secret": "x" * 70_000}),
    Case("secret_bad_date_value_not_echoed", CUSTOMERS, edit=(
        "    database: ${DATIVO_HOME}/sample/shop.db", "    database: ${DATIVO_HOME}/sample/shop.db\n"
        "    password: 2024-02-30"), field="source.connection.password",
        phrase=r"invalid value \(a secret field: value not shown\)", absent=("2024-02-30",)),
    Case("secret_wrong_type", CUSTOMERS, edit=("    database: ${DATIVO_HOME}/sample/shop.db",
                                               "    database: ${DATIVO_HOME}/sample/shop.db\n    password: [hunter2]"),
         field="source.connection.password", phrase="valid dictionary", absent=("hunter2",)),

    # --- retry policy --------------------------------------------------------------------------------------
    Case("retry_bad_regex", ORDERS, edit=("  max_retries: 2", "  max_retries: 2\n  retryable_error_patterns: ['timeout(']"),
         field="retry_config.retryable_error_patterns", phrase=r"invalid regular expression 'timeout\('"),
    Case("retry_max_delay_below_initial", ORDERS, edit=("  max_delay_seconds: 10", "  max_delay_seconds: 0.5"),
         field="retry_config", phrase="max_delay_seconds must be >= initial_delay_seconds"),
    Case("retry_infinite_delay", ORDERS, edit=("  max_delay_seconds: 10", "  max_delay_seconds: .inf"),
         field="retry_config.max_delay_seconds", phrase="must be a finite number of seconds"),
    Case("retry_backoff_below_one", ORDERS, edit=("  backoff_multiplier: 3.0", "  backoff_multiplier: 0.5"),
         field="retry_config.backoff_multiplier", phrase="greater than or equal to 1"),
    Case("retry_backoff_overflow", ORDERS, edit=("  backoff_multiplier: 3.0", "  backoff_multiplier: 1e300"),
         field="retry_config.backoff_multiplier", phrase="less than or equal to 100"),
    Case("retry_backoff_infinite", ORDERS, edit=("  backoff_multiplier: 3.0", "  backoff_multiplier: .inf"),
         field="retry_config.backoff_multiplier", phrase="finite number"),
    _ticket("retry_negative_max_retries", "  max_retries: 0", "  max_retries: -1", "retry_config.max_retries",
            "greater than or equal to 0"),

    # --- types, enums and ranges of the blocks -----------------------------------------------------------
    _ticket("source_type_unknown", "  type: csv", "  type: excel", "source", "unknown type 'excel'; expected one of"),
    _ticket("target_type_unknown", "  type: parquet", "  type: delta", "target",
            "unknown type 'delta'; expected one of: 'iceberg', 'parquet'"),
    Case("enum_write_mode", ORDERS, edit=("mode: append", "mode: upsert"), field="target.mode",
         phrase=r"'append', 'overwrite' or 'merge' \(got 'upsert'\)"),
    Case("enum_schema_validation_mode", ORDERS, edit=("schema_validation_mode: strict", "schema_validation_mode: lenient"),
         field="schema_validation_mode", phrase=r"'strict' or 'warn' \(got 'lenient'\)"),
    Case("enum_logging_level", INVOICES, edit=("  level: DEBUG", "  level: VERBOSE"), field="logging.level",
         phrase=r"\(got 'VERBOSE'\)"),
    _ticket("enum_parquet_compression", "  type: parquet", "  type: parquet\n  compression: lz77", "target.compression",
            r"\(got 'lz77'\)"),
    _runner("enum_runner_mode", "mode: orchestrated", "mode: sometimes", "runner.mode",
            r"'orchestrated' or 'oneshot' \(got 'sometimes'\)", broken=ALL),
    _runner("enum_schedule_owner", "        orchestrator: airflow", "        orchestrator: prefect",
            f"{SCHEDULE}[3].orchestrator", r"'dagster' or 'airflow' \(got 'prefect'\)", broken={"globex_catalog_daily"}),
    _runner("max_concurrent_runs_beyond_a_database_integer", "max_concurrent_runs: 2", "max_concurrent_runs: 3000000000",
            f"{SCHEDULE}[2].max_concurrent_runs", "less than or equal to 2147483647", broken={"globex_events"}),
    _runner("concurrency_per_tenant_beyond_a_database_integer", "concurrency_per_tenant: 1",
            "concurrency_per_tenant: 3000000000", "runner.orchestrator.concurrency_per_tenant",
            "less than or equal to 2147483647", broken=ALL),
    _runner("concurrency_per_tenant_zero", "concurrency_per_tenant: 1", "concurrency_per_tenant: 0",
            "runner.orchestrator.concurrency_per_tenant", "greater than or equal to 1", broken=ALL),
    _ticket("batch_rows_negative", "  type: csv", "  type: csv\n  batch_rows: -1", "source.batch_rows",
            r"greater than or equal to 1 \(got -1\)"),
    Case("port_out_of_range", CUSTOMERS, edit=("    database: ${DATIVO_HOME}/sample/shop.db",
                                               "    database: ${DATIVO_HOME}/sample/shop.db\n    port: 70000"),
         field="source.connection.port", phrase=r"less than or equal to 65535 \(got 70000\)"),
    _ticket("custom_reader_bad_path", "  type: csv", "  type: csv\n  custom_reader: my-pkg/reader.Reader",
            "source.custom_reader", "should match pattern"),
    _ticket("custom_reader_missing_class", "  type: csv", "  type: csv\n  custom_reader: 'pkg.module:'",
            "source.custom_reader", "should match pattern"),
    _ticket("incremental_cursor_without_field", "  type: csv", "  type: csv\n  incremental: {strategy: cursor}",
            "source.incremental", "strategy 'cursor' needs `cursor_field`"),
    _ticket("lookback_days_not_a_number", "  type: csv", "  type: csv\n  incremental: {strategy: file_modified_time, "
            "lookback_days: soon}", "source.incremental", r"`lookback_days` must be a whole number of days \(got 'soon'\)"),
    _ticket("lookback_days_empty", "  type: csv", "  type: csv\n  incremental: {strategy: file_modified_time, "
            "lookback_days: }", "source.incremental", r"`lookback_days` must be a whole number of days \(got None\)"),
]
