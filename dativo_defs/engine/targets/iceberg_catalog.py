"""The embedded catalog: pyiceberg's SQL catalog layout in a SQLite file, through the standard library's sqlite3.

Why not pyiceberg's `SqlCatalog`: it goes through SQLAlchemy, whose import and engine set-up were about a fifth
of every run's fixed cost (issue 15). This class keeps the same two tables (`iceberg_tables`,
`iceberg_namespace_properties`, the v1 schema with `iceberg_type`) and the same compare-and-swap commit
(`UPDATE ... WHERE metadata_location = <the one read>`), so `SqlCatalog` (and any JDBC catalog) reads and writes
the same file alongside it. Views are not supported, as in `SqlCatalog`. A configured catalog (`target.catalog`)
always uses pyiceberg's own implementation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from pyiceberg.catalog import Catalog, MetastoreCatalog, PropertiesUpdateSummary
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchPropertyException,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.io import load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder
from pyiceberg.table.update import TableRequirement, TableUpdate
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties

from .iceberg_probe import sqlite_path

TABLE_TYPE = "TABLE"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS iceberg_tables (catalog_name VARCHAR(255) NOT NULL, "
    "table_namespace VARCHAR(255) NOT NULL, table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000), "
    "previous_metadata_location VARCHAR(1000), iceberg_type VARCHAR(5), "
    "PRIMARY KEY (catalog_name, table_namespace, table_name))",
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (catalog_name VARCHAR(255) NOT NULL, "
    "namespace VARCHAR(255) NOT NULL, property_key VARCHAR(255) NOT NULL, property_value VARCHAR(1000) NOT NULL, "
    "PRIMARY KEY (catalog_name, namespace, property_key))",
)
_TABLE_ROW = "catalog_name = ? AND table_namespace = ? AND table_name = ?"
_IS_TABLE = " AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)"


class EmbeddedCatalog(MetastoreCatalog):
    """pyiceberg's SQL catalog on SQLite without SQLAlchemy. Properties: `uri` (`sqlite:///PATH[?timeout=S]`),
    `warehouse`, and any FileIO property."""

    def __init__(self, name: str, **properties: str):
        super().__init__(name, **properties)
        if not (uri := self.properties.get("uri")):
            raise NoSuchPropertyException("SQL connection URI is required")
        try:
            self._path, self._timeout = sqlite_path(uri)
        except ValueError as exc:
            raise NoSuchPropertyException(str(exc)) from None
        with self._connect() as conn:
            for statement in SCHEMA:  # IF NOT EXISTS: first runs racing to create them do not fail
                conn.execute(statement)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(iceberg_tables)")}
        self._typed = "iceberg_type" in columns  # False on a catalog file of SqlCatalog's v0 schema

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection per operation, committed on success (a catalog object is shared by threads)."""
        with closing(sqlite3.connect(self._path, timeout=self._timeout)) as conn, conn:
            yield conn

    def _split(self, identifier: str | Identifier) -> tuple[str, str]:
        return Catalog.namespace_to_string(Catalog.namespace_from(identifier)), Catalog.table_name_from(identifier)

    # -- tables --------------------------------------------------------------------------------------------
    def load_table(self, identifier: str | Identifier) -> Table:
        namespace, name = self._split(identifier)
        with self._connect() as conn:
            row = conn.execute(f"SELECT metadata_location FROM iceberg_tables WHERE {_TABLE_ROW}"
                               + (_IS_TABLE if self._typed else ""), (self.name, namespace, name)).fetchone()
        if not row or not row[0]:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}")
        location = row[0]
        metadata = FromInputFile.table_metadata(load_file_io(self.properties, location).new_input(location))
        return Table(identifier=Catalog.identifier_to_tuple(namespace) + (name,), metadata=metadata,
                     metadata_location=location, io=self._load_file_io(metadata.properties, location), catalog=self)

    def create_table(self, identifier: str | Identifier, schema: Schema | Any, location: str | None = None,
                     partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
                     sort_order: SortOrder = UNSORTED_SORT_ORDER, properties: Properties = EMPTY_DICT) -> Table:
        namespace, name = self._split(identifier)
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        staged = self._create_staged_table(identifier, schema, location, partition_spec, sort_order, properties)
        self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
        self._insert_table(namespace, name, staged.metadata_location)
        return self.load_table(identifier)

    def register_table(self, identifier: str | Identifier, metadata_location: str, overwrite: bool = False) -> Table:
        if overwrite:
            raise NotImplementedError("`overwrite` isn't supported")
        namespace, name = self._split(identifier)
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        self._insert_table(namespace, name, metadata_location)
        return self.load_table(identifier)

    def _insert_table(self, namespace: str, name: str, metadata_location: str) -> None:
        columns = "catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location"
        values: tuple[Any, ...] = (self.name, namespace, name, metadata_location, None)
        if self._typed:
            columns, values = columns + ", iceberg_type", (*values, TABLE_TYPE)
        try:
            with self._connect() as conn:
                conn.execute(f"INSERT INTO iceberg_tables ({columns}) VALUES ({', '.join('?' * len(values))})", values)
        except sqlite3.IntegrityError as exc:
            raise TableAlreadyExistsError(f"Table {namespace}.{name} already exists") from exc

    def commit_table(self, table: Table, requirements: tuple[TableRequirement, ...],
                     updates: tuple[TableUpdate, ...]) -> CommitTableResponse:
        """Write the new metadata file, then swap it in only if the catalog still points at the version this
        commit was built on (CommitFailedException otherwise: another writer committed first)."""
        namespace, name = self._split(table.name())
        current: Table | None
        try:
            current = self.load_table(table.name())
        except NoSuchTableError:
            current = None
        staged = self._update_and_stage_table(current, table.name(), requirements, updates)
        if current is not None and staged.metadata == current.metadata:
            return CommitTableResponse(metadata=current.metadata, metadata_location=current.metadata_location)
        self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
        if current is None:
            self._insert_table(namespace, name, staged.metadata_location)
        else:
            with self._connect() as conn:
                swapped = conn.execute(
                    f"UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? "
                    f"WHERE {_TABLE_ROW} AND metadata_location = ?",
                    (staged.metadata_location, current.metadata_location, self.name, namespace, name,
                     current.metadata_location)).rowcount
            if swapped < 1:
                raise CommitFailedException(f"Table has been updated by another process: {namespace}.{name}")
        return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)

    def drop_table(self, identifier: str | Identifier) -> None:
        namespace, name = self._split(identifier)
        with self._connect() as conn:
            dropped = conn.execute(f"DELETE FROM iceberg_tables WHERE {_TABLE_ROW}" + (_IS_TABLE if self._typed else ""),
                                   (self.name, namespace, name)).rowcount
        if dropped < 1:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{name}")

    def rename_table(self, from_identifier: str | Identifier, to_identifier: str | Identifier) -> Table:
        from_namespace, from_name = self._split(from_identifier)
        to_namespace, to_name = self._split(to_identifier)
        if not self.namespace_exists(to_namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {to_namespace}")
        try:
            with self._connect() as conn:
                moved = conn.execute(f"UPDATE iceberg_tables SET table_namespace = ?, table_name = ? WHERE {_TABLE_ROW}"
                                     + (_IS_TABLE if self._typed else ""),
                                     (to_namespace, to_name, self.name, from_namespace, from_name)).rowcount
        except sqlite3.IntegrityError as exc:
            raise TableAlreadyExistsError(f"Table {to_namespace}.{to_name} already exists") from exc
        if moved < 1:
            raise NoSuchTableError(f"Table does not exist: {from_name}")
        return self.load_table(to_identifier)

    def list_tables(self, namespace: str | Identifier) -> list[Identifier]:
        if namespace and not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        text = Catalog.namespace_to_string(namespace)
        with self._connect() as conn:
            rows = conn.execute("SELECT table_namespace, table_name FROM iceberg_tables WHERE catalog_name = ? AND "
                                "table_namespace = ?" + (_IS_TABLE if self._typed else ""), (self.name, text)).fetchall()
        return [Catalog.identifier_to_tuple(ns) + (name,) for ns, name in rows]

    # -- namespaces ----------------------------------------------------------------------------------------
    def namespace_exists(self, namespace: str | Identifier) -> bool:
        text = Catalog.namespace_to_string(Catalog.identifier_to_tuple(namespace), NoSuchNamespaceError)
        below = text.replace("!", "!!").replace("_", "!_").replace("%", "!%") + ".%"
        with self._connect() as conn:
            for table, column in (("iceberg_tables", "table_namespace"), ("iceberg_namespace_properties", "namespace")):
                if conn.execute(f"SELECT 1 FROM {table} WHERE catalog_name = ? AND ({column} = ? OR {column} LIKE ? "
                                f"ESCAPE '!') LIMIT 1", (self.name, text, below)).fetchone():
                    return True
        return False

    def create_namespace(self, namespace: str | Identifier, properties: Properties = EMPTY_DICT) -> None:
        if self.namespace_exists(namespace):
            raise NamespaceAlreadyExistsError(f"Namespace {namespace} already exists")
        text = Catalog.namespace_to_string(namespace, NoSuchNamespaceError)
        rows = [(self.name, text, key, value) for key, value in (properties or {"exists": "true"}).items()]
        try:
            with self._connect() as conn:
                conn.executemany("INSERT INTO iceberg_namespace_properties VALUES (?, ?, ?, ?)", rows)
        except sqlite3.IntegrityError as exc:  # another process created it first
            raise NamespaceAlreadyExistsError(f"Namespace {namespace} already exists") from exc

    def drop_namespace(self, namespace: str | Identifier) -> None:
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        text = Catalog.namespace_to_string(namespace)
        if tables := self.list_tables(namespace):
            raise NamespaceNotEmptyError(f"Namespace {text} is not empty. {len(tables)} tables exist.")
        with self._connect() as conn:
            conn.execute("DELETE FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ?",
                         (self.name, text))

    def list_namespaces(self, namespace: str | Identifier = ()) -> list[Identifier]:
        if namespace and not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        parent = Catalog.identifier_to_tuple(namespace)
        with self._connect() as conn:
            names = [row[0] for row in conn.execute(
                "SELECT table_namespace FROM iceberg_tables WHERE catalog_name = ? UNION "
                "SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = ?", (self.name, self.name))]
        level = len(parent) + 1
        found = {Catalog.identifier_to_tuple(name) for name in names}
        return list({ns[:level] for ns in found if len(ns) >= level and ns[:level - 1] == parent})

    def load_namespace_properties(self, namespace: str | Identifier) -> Properties:
        text = Catalog.namespace_to_string(namespace)
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace {text} does not exists")
        with self._connect() as conn:
            return dict(conn.execute("SELECT property_key, property_value FROM iceberg_namespace_properties WHERE "
                                     "catalog_name = ? AND namespace = ?", (self.name, text)).fetchall())

    def update_namespace_properties(self, namespace: str | Identifier, removals: set[str] | None = None,
                                    updates: Properties = EMPTY_DICT) -> PropertiesUpdateSummary:
        text = Catalog.namespace_to_string(namespace)
        current = self.load_namespace_properties(namespace)
        summary = self._get_updated_props_and_update_summary(current, removals, updates)[0]
        with self._connect() as conn:
            for key in set(removals or ()) | set(updates):
                conn.execute("DELETE FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ? AND "
                             "property_key = ?", (self.name, text, key))
            conn.executemany("INSERT INTO iceberg_namespace_properties VALUES (?, ?, ?, ?)",
                             [(self.name, text, key, value) for key, value in updates.items()])
        return summary

    # -- views: not supported (as in pyiceberg's SqlCatalog) ------------------------------------------------
    def list_views(self, namespace: str | Identifier) -> list[Identifier]:
        raise NotImplementedError

    def view_exists(self, identifier: str | Identifier) -> bool:
        raise NotImplementedError

    def register_view(self, identifier: str | Identifier, metadata_location: str) -> Any:
        raise NotImplementedError

    def drop_view(self, identifier: str | Identifier) -> None:
        raise NotImplementedError

    def load_view(self, identifier: str | Identifier) -> Any:
        raise NotImplementedError
