"""Alias package: `python -m dativo_ingest.cli ...` is `dativo ...` (upstream's module name). No logic here."""
