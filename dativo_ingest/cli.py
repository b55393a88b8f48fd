"""`python -m dativo_ingest.cli` = `dativo` (alias of dativo_defs.cli; no logic here)."""

from dativo_defs.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
