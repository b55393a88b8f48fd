"""`data_catalog:` — after a successful run, register each landed table in a data catalog (OpenMetadata):
the table entity with its columns, and with `push_metadata` its description, tags and owners from the contract.

A push never touches the landed data: it runs after the commit, and its failure is a warning event
(`data_catalog_push_failed`, with the reason), as upstream Dativo's `catalog:` block behaves.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import StrictModel
from .secrets import Secret


class OpenMetadataPush(StrictModel):
    type: Literal["openmetadata"]
    api_url: str = Field(pattern=r"^https?://", description="The OpenMetadata API root, e.g. http://localhost:8585/api.")
    auth_token: Secret = Field(description="A bot's JWT token (a secret reference); sent as a bearer token.")
    service: str = Field("dativo-ingest", min_length=1, description="The database service the tables are "
                         "registered under (created when missing, type CustomDatabase).")
    database: str | None = Field(None, min_length=1, description="Database name in the catalog; default the "
                                 "contract's `domain`, else the tenant id (as upstream Dativo).")
    database_schema: str | None = Field(None, min_length=1, description="Schema name in the catalog (OpenMetadata "
                                        "names tables service.database.schema.table); default the contract's "
                                        "`dataProduct`, else `default`.")
    table_name: str | None = Field(None, min_length=1, description="The table's name in the catalog; default the "
                                   "object (output table) name. Only for a job with one object.")
    push_metadata: bool = Field(True, description="Also set the description, tags and owners from the contract "
                                "(tags that OpenMetadata does not know and owners that are not its users are "
                                "left out and reported).")
    timeout_seconds: float = Field(10, gt=0, description="Per HTTP request.")


DataCatalog = OpenMetadataPush
