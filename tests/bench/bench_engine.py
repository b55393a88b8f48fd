"""Engine throughput benchmark (`make bench`): SQLite and PostgreSQL, N rows x 10 columns -> Iceberg.

Each path runs in a fresh child process (so peak RSS is its own) and reports rows/s (timed from the start of
the data movement, imports excluded; `process_seconds` includes them) and peak RSS:
  floor   ADBC (sqlite) -> Arrow -> ParquetWriter, nothing else
  dativo  `run_job` on a sqlite -> iceberg job (embedded SQL catalog), contracts off
  dlt     dlt sql_table (backend=pyarrow) -> filesystem/iceberg, when dlt's iceberg extras are installed
  pg_floor   ADBC (postgresql) -> Arrow -> ParquetWriter (the same table, loaded once into --postgres)
  pg_dativo  `run_job` on a postgres -> iceberg job
Medians of --repeat runs at --rows; then dativo once at --big-rows to compare peak RSS.
Usage: python -m tests.bench.bench_engine [--rows 1000000] [--big-rows 10000000] [--repeat 3]
       [--postgres postgresql://postgres@127.0.0.1:5432/postgres | --postgres '']
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BATCH = 100_000


def make_db(path: Path, rows: int) -> None:
    if path.exists():
        return
    rng = random.Random(1)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT, d TEXT, e INTEGER, "
                   "f REAL, g TEXT, h INTEGER, ts TEXT)")
        chunk = 200_000
        for start in range(0, rows, chunk):
            db.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?,?)", [
                (i, rng.randint(0, 10**6), rng.random(), f"text-{i}", "x" * (i % 17), i % 1000, i * 0.5,
                 f"g{i % 97}", rng.randint(0, 10**9), f"2026-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}")
                for i in range(start, min(start + chunk, rows))])
            db.commit()
    tmp.replace(path)


FLOOR = """
import sys, time, adbc_driver_sqlite.dbapi as d, pyarrow.parquet as pq
start = time.perf_counter()
conn = d.connect(sys.argv[1]); cur = conn.cursor()
cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(%(batch)d)})
cur.execute("SELECT * FROM t"); reader = cur.fetch_record_batch()
writer = None; rows = 0
for batch in reader:
    writer = writer or pq.ParquetWriter(sys.argv[2] + "/floor.parquet", batch.schema)
    writer.write_batch(batch); rows += batch.num_rows
writer.close(); print(rows, time.perf_counter() - start)
"""

DATIVO = """
import os, sys, time
from pathlib import Path
from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
import dativo_defs.engine.sources.sql, dativo_defs.engine.targets.iceberg  # imports: start-up, not run time
import dativo_defs.engine.targets.iceberg_catalog, dativo_defs.engine.targets.iceberg_journal  # (imported where used)
job = Path(sys.argv[2]) / "job.yaml"
job.write_text(f'''tenant_id: bench
source: {{type: sqlite, batch_rows: %(batch)d, connection: {{database: "{sys.argv[1]}"}}, tables: [{{name: t}}]}}
target: {{type: iceberg}}
logging: {{level: WARNING}}
''')
os.environ["DATIVO_HOME"] = sys.argv[2] + "/home"
start = time.perf_counter()
result = run_job(load_job(job))
assert result.status.value == "success", result.error
print(result.rows_written, time.perf_counter() - start)
"""

PG_FLOOR = """
import sys, time, adbc_driver_postgresql.dbapi as d, pyarrow.parquet as pq
start = time.perf_counter()
conn = d.connect(sys.argv[1], autocommit=True); cur = conn.cursor()
cur.execute("SELECT * FROM t"); reader = cur.fetch_record_batch()
writer = None; rows = 0
for batch in reader:
    writer = writer or pq.ParquetWriter(sys.argv[2] + "/floor.parquet", batch.schema)
    writer.write_batch(batch); rows += batch.num_rows
writer.close(); print(rows, time.perf_counter() - start)
"""

PG_DATIVO = """
import os, sys, time
from pathlib import Path
from dativo_defs.config.loader import load_job
from dativo_defs.engine.runner import run_job
import dativo_defs.engine.sources.sql, dativo_defs.engine.targets.iceberg  # imports: start-up, not run time
import dativo_defs.engine.targets.iceberg_catalog, dativo_defs.engine.targets.iceberg_journal  # (imported where used)
import adbc_driver_postgresql.dbapi
job = Path(sys.argv[2]) / "job.yaml"
job.write_text(f'''tenant_id: bench
source: {{type: postgres, batch_rows: %(batch)d, dsn: "{sys.argv[1]}", tables: [{{name: t}}]}}
target: {{type: iceberg}}
logging: {{level: WARNING}}
''')
os.environ["DATIVO_HOME"] = sys.argv[2] + "/home"
start = time.perf_counter()
result = run_job(load_job(job))
assert result.status.value == "success", result.error
print(result.rows_written, time.perf_counter() - start)
"""

DLT = """
import os, sys, time
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
import dlt
from dlt.sources.sql_database import sql_table
source = sql_table(credentials="sqlite:///" + sys.argv[1], table="t", backend="pyarrow", chunk_size=%(batch)d)
pipeline = dlt.pipeline("bench", destination=dlt.destinations.filesystem("file://" + sys.argv[2] + "/dlt"),
                        pipelines_dir=sys.argv[2] + "/pipelines", dataset_name="bench")
start = time.perf_counter()
info = pipeline.run(source, table_format="iceberg")
print(pipeline.last_trace.last_normalize_info.row_counts.get("t", 0), time.perf_counter() - start)
"""

WRAPPER = """
import resource, runpy, sys, time
code = open(sys.argv[1]).read(); sys.argv = sys.argv[1:]
start = time.perf_counter(); exec(compile(code, "bench", "exec"), {"__name__": "__main__"})
print("BENCH", time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_postgres(server: str, sqlite_db: Path, rows: int) -> str:
    """The benchmark table in its own PostgreSQL database (created once from the SQLite one); returns its URL."""
    import adbc_driver_postgresql.dbapi as adbc_pg
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    name = f"dativo_bench_{rows}"
    url = server.rsplit("/", 1)[0] + "/" + name
    with adbc_pg.connect(server, autocommit=True) as admin, admin.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'")
        if cur.fetchone()[0]:
            return url
        cur.execute(f'CREATE DATABASE "{name}_tmp"')
    with adbc_sqlite.connect(str(sqlite_db)) as src, src.cursor() as read:
        read.execute("SELECT * FROM t")
        data = read.fetch_arrow_table()
    with adbc_pg.connect(server.rsplit("/", 1)[0] + f"/{name}_tmp", autocommit=True) as dst, dst.cursor() as cur:
        cur.adbc_ingest("t", data, mode="create")
        cur.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    with adbc_pg.connect(server, autocommit=True) as admin, admin.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}_tmp" RENAME TO "{name}"')  # complete or absent, never half-loaded
    return url


def run_path(name: str, code: str, db: Path | str) -> dict:
    with tempfile.TemporaryDirectory() as work:
        script = Path(work) / f"{name}.py"
        script.write_text(textwrap.dedent(code % {"batch": BATCH}))
        out = subprocess.run([sys.executable, "-c", WRAPPER, str(script), str(db), work], capture_output=True,
                             text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    lines = out.stdout.strip().splitlines()
    rows, seconds = lines[-2].split()
    _, process_seconds, rss_kb = lines[-1].split()
    return {"rows": int(rows), "seconds": float(seconds), "rows_per_s": int(rows) / float(seconds),
            "process_seconds": float(process_seconds), "peak_rss_mb": int(rss_kb) / 1024}


def median_of(name: str, code: str, db: Path | str, repeat: int) -> dict:
    runs = [run_path(name, code, db) for _ in range(repeat)]
    ok = [r for r in runs if "error" in r] or runs
    if "error" in ok[0]:
        return ok[0]
    return {"rows": runs[0]["rows"], "rows_per_s": statistics.median(r["rows_per_s"] for r in runs),
            "process_seconds": statistics.median(r["process_seconds"] for r in runs),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs), "runs": len(runs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".dativo" / "bench")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="server for the PostgreSQL paths (a database `dativo_bench_<rows>` is created once); "
                             "'' skips them")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    db = args.data_dir / f"bench_{args.rows}.db"
    make_db(db, args.rows)
    results = {"floor": median_of("floor", FLOOR, db, args.repeat),
               "dativo": median_of("dativo", DATIVO, db, args.repeat),
               "dlt": median_of("dlt", DLT, db, 1)}
    report = {"rows": args.rows, "results": results}
    floor = results["floor"]["rows_per_s"]
    report["dativo_vs_floor"] = round(results["dativo"].get("rows_per_s", 0) / floor, 3)
    if args.postgres:
        pg = make_postgres(args.postgres, db, args.rows)
        results["pg_floor"] = median_of("pg_floor", PG_FLOOR, pg, args.repeat)
        results["pg_dativo"] = median_of("pg_dativo", PG_DATIVO, pg, args.repeat)
        report["pg_dativo_vs_pg_floor"] = round(results["pg_dativo"].get("rows_per_s", 0)
                                                / results["pg_floor"]["rows_per_s"], 3)
    if args.big_rows:
        big = args.data_dir / f"bench_{args.big_rows}.db"
        make_db(big, args.big_rows)
        report["big"] = {"rows": args.big_rows, "floor": run_path("floor", FLOOR, big),
                         "dativo": run_path("dativo", DATIVO, big)}
        report["big"]["dativo_vs_floor"] = round(report["big"]["dativo"]["rows_per_s"]
                                                 / report["big"]["floor"]["rows_per_s"], 3)
        report["rss_growth"] = round(report["big"]["dativo"]["peak_rss_mb"] / results["dativo"]["peak_rss_mb"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
