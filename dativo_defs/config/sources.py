"""Source blocks of a job file, one model per kind, selected by `type`.

Each source lists the objects it produces (`objects()`); every object becomes one output table/asset.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from .base import SafeName, StrictModel, check_name
from .secrets import Secret

DEFAULT_BATCH_ROWS = 100_000
# Bounds of the incremental state kept beside the cursor (README "Incremental reads"):
MAX_REMEMBERED_ROWS = 10_000  # keys of the rows landed inside a lookback window (engine/sources/window.py)
MAX_LANDED_FILES = 20_000  # identities of landed files of a `file_modified_time` glob (engine/sources/landed.py)


class SourceBase(StrictModel):
    """Fields every source kind has."""

    description: str | None = None
    custom_reader: str | None = Field(
        None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="'package.module:Class' — a Source subclass to use instead of the built-in reader for this type.",
    )

    def objects(self) -> list[str]:
        """Output table names, one per file / table / resource (each source kind defines it)."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _unique_objects(self) -> SourceBase:
        # Streams are looked up by object name: a second entry with the same name would never be read.
        names = self.objects()
        for name in names:  # a default (a file's stem, a table's name) becomes an asset key and a table name too
            try:
                check_name(name)
            except ValueError as exc:
                raise ValueError(f"default object name: {exc}; set `object:` for it") from None
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"object name(s) {', '.join(map(repr, duplicates))} used more than once; give each "
                             "file, table or resource its own `object`")
        return self


class IncrementalStrategy(str, Enum):
    FULL_REFRESH = "full_refresh"
    CURSOR = "cursor"
    FILE_MODIFIED_TIME = "file_modified_time"


class Incremental(StrictModel):
    """How a source picks up only new data. The committed cursor lives in the target's snapshot."""

    strategy: IncrementalStrategy = IncrementalStrategy.CURSOR
    cursor_field: str | None = Field(None, description="Column whose maximum is remembered between runs.")
    lookback: float | None = Field(
        None, ge=0, description="Re-read this far behind the last cursor, in cursor units (seconds for "
        "timestamps and dates, units for numbers), to pick up rows committed late; rows already landed are "
        "recognised and not appended again. Default: `lookback_seconds`.")
    lookback_seconds: int = Field(0, ge=0, description="Older name of `lookback` (same units).")
    enabled: bool = True

    @property
    def window(self) -> float:
        """The lookback in cursor units (`lookback`, else `lookback_seconds`)."""
        return self.lookback if self.lookback is not None else self.lookback_seconds

    @model_validator(mode="before")
    @classmethod
    def _dativo_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "lookback_days" in data:  # Dativo's spelling
                days = data.pop("lookback_days")
                try:
                    data["lookback_seconds"] = int(days) * 86400
                except (TypeError, ValueError, OverflowError):
                    raise ValueError(f"`lookback_days` must be a whole number of days (got {days!r})") from None
            if data.get("strategy") in ("incremental", "updated_at"):
                data["strategy"] = "cursor"
            data.pop("state_path", None)  # Dativo kept state in files; dativo keeps it in the target commit
        return data

    @model_validator(mode="after")
    def _cursor_needs_field(self) -> Incremental:
        if self.enabled and self.strategy is IncrementalStrategy.CURSOR and not self.cursor_field:
            raise ValueError("strategy 'cursor' needs `cursor_field`")
        return self


class ObjectStorage(StrictModel):
    """S3-compatible storage settings for s3:// paths (any endpoint: AWS, MinIO, a local stand-in)."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    path_style_access: bool = False


class FileObject(StrictModel):
    path: str = Field(description="Local path or s3:// URL; glob patterns allowed. Relative to the job file.")
    object: SafeName | None = Field(None, description="Output table name; defaults to the file name's stem.")
    cursor_field: str | None = None
    allow_empty: bool = Field(False, description="Allow a glob that matches no file (a run with 0 rows). Without "
                              "it, no match is a permanent error.")


class CsvOptions(StrictModel):
    delimiter: str = ","
    quote_char: str = '"'
    header: bool = True
    encoding: str = "utf8"


class FileSource(SourceBase):
    type: Literal["csv", "jsonl", "parquet"]
    files: list[FileObject] = Field(min_length=1)
    incremental: Incremental | None = None
    csv: CsvOptions = Field(default_factory=CsvOptions)
    storage: ObjectStorage | None = None
    batch_rows: int = Field(DEFAULT_BATCH_ROWS, ge=1)

    def objects(self) -> list[str]:
        return [f.object or _stem(f.path) for f in self.files]


class SqlConnection(StrictModel):
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=1, le=65535)
    database: str | None = Field(None, description="Database name, or for sqlite the file path (relative to the job file).")
    user: str | None = None
    password: Secret | None = None
    options: dict[str, str] = Field(default_factory=dict, description="Extra driver options (e.g. sslmode).")


class SqlTable(StrictModel):
    name: str | None = Field(None, description="Table, optionally schema-qualified (schema.table). Quoted safely.")
    query: str | None = Field(None, description="A SELECT instead of a table (then `object` is required).")
    object: SafeName | None = Field(None, description="Output table name; defaults to the table name.")
    cursor_field: str | None = None
    primary_key: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _table_xor_query(self) -> SqlTable:
        if (self.name is None) == (self.query is None):
            raise ValueError("set exactly one of `name` (a table) or `query`")
        if self.query is not None and self.object is None:
            raise ValueError("a `query` needs `object` (the output table name)")
        return self

    @property
    def object_name(self) -> str:
        return self.object or str(self.name).split(".")[-1]


class SqlSource(SourceBase):
    type: Literal["sqlite", "postgres", "postgresql", "mysql", "mariadb"]
    connection: SqlConnection = Field(default_factory=SqlConnection)
    dsn: Secret | None = Field(None, description="Full connection URL, as a secret reference (overrides `connection`).")
    tables: list[SqlTable] = Field(min_length=1)
    incremental: Incremental | None = None
    batch_rows: int = Field(DEFAULT_BATCH_ROWS, ge=1)
    read_connections: int = Field(
        1, ge=1, le=16, description="PostgreSQL: connections a large read is spread over (block ranges, all in one "
        "snapshot); 1 (default): one connection. MySQL/MariaDB and SQLite always read on one.")

    @model_validator(mode="after")
    def _sqlite_needs_path(self) -> SqlSource:
        if self.type == "sqlite" and self.dsn is None and not self.connection.database:
            raise ValueError("sqlite needs `connection.database` (the database file path)")
        return self

    def objects(self) -> list[str]:
        return [t.object_name for t in self.tables]


class RestAuth(StrictModel):
    type: Literal["bearer", "api_key", "basic"]
    token: Secret | None = Field(None, description="bearer / api_key value.")
    name: str = Field("Authorization", description="api_key: header or query parameter name.")
    location: Literal["header", "query"] = "header"
    username: str | None = None
    password: Secret | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> RestAuth:
        if self.type in ("bearer", "api_key") and self.token is None:
            raise ValueError(f"auth type {self.type!r} needs `token`")
        if self.type == "basic" and (self.username is None or self.password is None):
            raise ValueError("auth type 'basic' needs `username` and `password`")
        return self


class Paginator(StrictModel):
    type: Literal["cursor", "offset", "page_number", "header_link", "single_page"]
    cursor_path: str | None = Field(None, description="cursor: JSON path of the next cursor in the response.")
    cursor_param: str | None = Field(None, description="cursor: query parameter that carries it.")
    limit: int | None = Field(None, ge=1, description="offset/page_number: page size.")
    limit_param: str = "limit"
    offset_param: str = "offset"
    page_param: str = "page"
    total_path: str | None = None
    has_more_path: str | None = None


class RestResource(StrictModel):
    object: SafeName
    path: str = Field(description="Endpoint path appended to base_url.")
    params: dict[str, str | int | bool] = Field(default_factory=dict)
    data_selector: str | None = Field(None, description="JSON path of the record list in each page.")
    paginator: Paginator | None = None
    incremental_param: str | None = Field(None, description="Query parameter receiving the last cursor value.")
    cursor_field: str | None = None
    primary_key: list[str] = Field(default_factory=list)


class RestRetry(StrictModel):
    """Retries of one HTTP request (429, 5xx, dropped connections), inside one run; the run's own retries are
    `retry_config`'s."""

    attempts: int = Field(3, ge=1, description="Requests per page, the first one included.")
    backoff_seconds: float = Field(
        0.5, ge=0, description="Exponential: this, twice this, ... unless Retry-After says otherwise."
    )
    max_delay_seconds: float = Field(10.0, ge=0, description="Cap of any wait between attempts, Retry-After included.")


class RestSource(SourceBase):
    """A paginated JSON API; `stripe` and `hubspot` are presets that fill paging and incremental fields."""

    type: Literal["rest", "stripe", "hubspot"]
    base_url: str | None = None
    auth: RestAuth | None = None
    resources: list[RestResource] = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(30, gt=0)
    batch_rows: int = Field(10_000, ge=1)
    retry: RestRetry = Field(default_factory=RestRetry)

    def objects(self) -> list[str]:
        return [r.object for r in self.resources]


# An upstream plugin: a Python class in a .py file, or a Rust library and its constructor function.
RUST_LIBRARY_SUFFIXES = (".so", ".dylib", ".dll")
PLUGIN_SPEC = rf"^.+\.(py|{'|'.join(x[1:] for x in RUST_LIBRARY_SUFFIXES)}):[A-Za-z_]\w*$"


class PluginSource(SourceBase):
    """An upstream (Dativo) reader plugin: a `BaseReader` subclass in a .py file, or a Rust library over
    upstream's C ABI, run with upstream's meaning — the plugin's `extract()` batches (lists of dicts) become one
    output table (docs/MIGRATING.md). Written by the upstream dialect from `source.custom_reader:
    path/to/module.py:Class` (or `path/to/libx.so:create_reader`)."""

    type: Literal["upstream_plugin"]
    plugin: str = Field(pattern=PLUGIN_SPEC,
                        description="'/path/to/module.py:ClassName' or '/path/to/libx.so:create_reader'.")
    object: SafeName = Field(description="Output table name (upstream: the asset's name).")
    connector: str = Field("custom", description="The plugin's `source_config.type` (upstream's source_connector).")
    # What the plugin reads as its `source_config` attributes, as the job file gave them:
    connection: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Secret] = Field(default_factory=dict, description="Resolved only when the plugin is built.")
    engine: dict[str, Any] = Field(default_factory=dict)
    plugin_objects: list[str] = Field(default_factory=list, description="`source_config.objects` of the plugin.")
    files: list[dict[str, Any]] = Field(default_factory=list)
    tables: list[dict[str, Any]] = Field(default_factory=list)
    incremental: dict[str, Any] | None = None

    def objects(self) -> list[str]:
        return [self.object]


class GoogleSource(SourceBase):
    """Fields of the Google Drive / Sheets sources: a service-account key and the API endpoints."""

    credentials: Secret | None = Field(
        None, description="The service-account key (its JSON): `{file: path}` or `{env: VAR}` holding the JSON. "
        "Default: the file named by $GOOGLE_APPLICATION_CREDENTIALS. Share the files/sheets with the account's email.")
    drive_endpoint: str | None = Field(
        None, description="Drive API v3 base URL (default Google's: https://www.googleapis.com/drive/v3/); "
        "a private endpoint or a local stand-in.")
    incremental: Incremental | None = Field(
        None, description="`strategy: file_modified_time`: a file or sheet is read again only when its Drive "
        "`modifiedTime` changed since it last landed (then wholly).")
    batch_rows: int = Field(DEFAULT_BATCH_ROWS, ge=1)
    timeout_seconds: float = Field(60, gt=0, description="Per HTTP request.")

    @model_validator(mode="after")
    def _modified_time_only(self) -> GoogleSource:
        inc = self.incremental
        if inc is not None and inc.enabled and inc.strategy is IncrementalStrategy.CURSOR:
            raise ValueError("Google sources are incremental by file (`strategy: file_modified_time`) or not at "
                             "all (`full_refresh`)")
        return self


class DriveFile(StrictModel):
    file_id: str | None = Field(None, min_length=1, description="A Drive file id (a CSV file, or a Google Sheets "
                                "file, exported as CSV).")
    folder_id: str | None = Field(None, min_length=1, description="A Drive folder id: every CSV file in it "
                                  "(`mimeType text/csv`, not trashed) lands in the one object.")
    object: SafeName = Field(description="Output table name.")

    @model_validator(mode="after")
    def _file_xor_folder(self) -> DriveFile:
        if (self.file_id is None) == (self.folder_id is None):
            raise ValueError("set exactly one of `file_id` or `folder_id`")
        return self


class GoogleDriveSource(GoogleSource):
    """CSV files in Google Drive, read through the Drive API v3 (google-api-python-client)."""

    type: Literal["gdrive_csv"]
    files: list[DriveFile] = Field(min_length=1)
    csv: CsvOptions = Field(default_factory=CsvOptions)

    def objects(self) -> list[str]:
        return [f.object for f in self.files]


class Sheet(StrictModel):
    spreadsheet_id: str = Field(min_length=1, description="The spreadsheet's id (from its URL).")
    sheet: str | None = Field(None, description="The sheet's (tab's) title.")
    sheet_id: int | None = Field(None, ge=0, description="The sheet's numeric id (`gid` in its URL), instead of "
                                 "`sheet`. Neither: the first sheet.")
    range: str | None = Field(None, description="A1 range inside the sheet (e.g. A1:F); default the whole sheet.")
    header: bool = Field(True, description="The first row holds the column names (else column_1, column_2, ...).")
    object: SafeName = Field(description="Output table name.")

    @model_validator(mode="after")
    def _one_sheet(self) -> Sheet:
        if self.sheet is not None and self.sheet_id is not None:
            raise ValueError("set at most one of `sheet` (title) or `sheet_id` (gid)")
        return self


class GoogleSheetsSource(GoogleSource):
    """Google Sheets ranges, read through the Sheets API v4 (`spreadsheets.values.get`, unformatted values,
    dates as formatted text); the Drive API gives the `modifiedTime` for incremental reads."""

    type: Literal["google_sheets"]
    sheets: list[Sheet] = Field(min_length=1)
    sheets_endpoint: str | None = Field(
        None, description="Sheets API v4 base URL (default Google's: https://sheets.googleapis.com/).")

    def objects(self) -> list[str]:
        return [s.object for s in self.sheets]


SOURCE_MODELS = (FileSource, SqlSource, RestSource, PluginSource, GoogleDriveSource, GoogleSheetsSource)
SourceConfig = Annotated[FileSource | SqlSource | RestSource | PluginSource | GoogleDriveSource | GoogleSheetsSource,
                         Field(discriminator="type")]
SOURCE_TYPES = sorted({t for model in SOURCE_MODELS for t in get_args(model.model_fields["type"].annotation)})
# Source types only the upstream dialect writes (from an upstream job's `source.custom_reader`, docs/MIGRATING.md):
# not scaffolded by `dativo init` nor given a connector page.
DIALECT_ONLY_TYPES = frozenset({"upstream_plugin"})


def _stem(path: str) -> str:
    name = path.rstrip("/").split("/")[-1]
    stem = name.split(".")[0].replace("*", "").replace("?", "").replace("-", "_").strip("_")
    return stem or "data"
