"""Generates the example project's SQLite database (deterministic, so tests can check exact counts)."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .config.paths import dativo_home

SAMPLE_ROWS = {"customers": 500, "products": 120, "invoices": 2_000}
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def sample_db_path() -> Path:
    return dativo_home() / "sample" / "shop.db"


def create_sample_db(path: Path | None = None, seed: int = 7) -> Path:
    """(Re)create the example SQLite database and return its path."""
    path = path or sample_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    rng = random.Random(seed)
    with sqlite3.connect(tmp) as db:
        db.executescript(
            """
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, country TEXT,
                                    updated_at TEXT NOT NULL);
            CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, title TEXT, price REAL,
                                   updated_at TEXT NOT NULL);
            CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, amount REAL NOT NULL,
                                   currency TEXT NOT NULL, issued_at TEXT NOT NULL);
            """
        )
        countries = ["DE", "FR", "US", "BR", "JP", "IN"]
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
            [(i, f"Customer {i}", f"c{i}@example.com", rng.choice(countries),
              (_EPOCH + timedelta(minutes=i)).isoformat()) for i in range(1, SAMPLE_ROWS["customers"] + 1)],
        )
        db.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?)",
            [(i, f"SKU-{i:05d}", f"Product {i}", round(rng.uniform(1, 500), 2),
              (_EPOCH + timedelta(hours=i)).isoformat()) for i in range(1, SAMPLE_ROWS["products"] + 1)],
        )
        db.executemany(
            "INSERT INTO invoices VALUES (?, ?, ?, ?, ?)",
            [(i, rng.randint(1, SAMPLE_ROWS["customers"]), round(rng.uniform(5, 2000), 2), rng.choice(["EUR", "USD"]),
              (_EPOCH + timedelta(minutes=7 * i)).isoformat()) for i in range(1, SAMPLE_ROWS["invoices"] + 1)],
        )
    tmp.replace(path)
    return path
