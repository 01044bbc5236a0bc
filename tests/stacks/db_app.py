"""A small app with no OpenTelemetry code: the same few statements through one database driver.

Usage: python db_app.py DRIVER, with DRIVER one of psycopg, psycopg2, sqlite3, sqlalchemy,
sqlalchemy-orm; PostgreSQL is reached through PG_DSN (libpq) or PG_URL (SQLAlchemy).
Prints what it read, so a run under otel-run can be compared with a plain run.
"""

from __future__ import annotations

import os
import sys

ROWS = [("apple", 3), ("pear", 5), ("plum", 7)]


def with_psycopg() -> None:
    import psycopg

    with psycopg.connect(os.environ["PG_DSN"], autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS fruit_psycopg")
        conn.execute("CREATE TABLE fruit_psycopg (name text, qty int)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO fruit_psycopg VALUES (%s, %s)", ROWS)
            cur.execute("SELECT sum(qty) FROM fruit_psycopg")
            print("total", cur.fetchone()[0])
        try:
            conn.execute("SELECT * FROM no_such_table")
        except psycopg.errors.UndefinedTable:
            print("missing table")


def with_psycopg2() -> None:
    import psycopg2

    conn = psycopg2.connect(os.environ["PG_DSN"])
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS fruit_psycopg2")
    cur.execute("CREATE TABLE fruit_psycopg2 (name text, qty int)")
    cur.executemany("INSERT INTO fruit_psycopg2 VALUES (%s, %s)", ROWS)
    cur.execute("SELECT sum(qty) FROM fruit_psycopg2")
    print("total", cur.fetchone()[0])
    try:
        cur.execute("SELECT * FROM no_such_table")
    except psycopg2.errors.UndefinedTable:
        print("missing table")
    conn.close()


def with_sqlite3() -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.executescript("CREATE TABLE fruit (name text, qty int); CREATE INDEX fruit_name ON fruit (name);")
    conn.executemany("INSERT INTO fruit VALUES (?, ?)", ROWS)
    print("total", conn.execute("SELECT sum(qty) FROM fruit").fetchone()[0])
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM fruit")
    print("rows", cur.fetchone()[0])
    try:
        conn.execute("SELECT * FROM no_such_table")
    except sqlite3.OperationalError:
        print("missing table")
    conn.close()


def with_sqlalchemy() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(os.environ["PG_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS fruit_sa"))
        conn.execute(sa.text("CREATE TABLE fruit_sa (name text, qty int)"))
        conn.execute(
            sa.text("INSERT INTO fruit_sa VALUES (:name, :qty)"), [{"name": n, "qty": q} for n, q in ROWS]
        )
        print("total", conn.execute(sa.text("SELECT sum(qty) FROM fruit_sa")).scalar())
    engine.dispose()


def with_sqlalchemy_orm() -> None:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session, declarative_base

    base = declarative_base()

    class Fruit(base):  # type: ignore[misc, valid-type]
        __tablename__ = "fruit_orm"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String)
        qty = sa.Column(sa.Integer)

    engine = sa.create_engine(os.environ["PG_URL"])
    base.metadata.drop_all(engine)
    base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Fruit(name=n, qty=q) for n, q in ROWS])
        session.commit()
        print("total", session.scalar(sa.select(sa.func.sum(Fruit.qty))))
    engine.dispose()


DRIVERS = {
    "psycopg": with_psycopg,
    "psycopg2": with_psycopg2,
    "sqlite3": with_sqlite3,
    "sqlalchemy": with_sqlalchemy,
    "sqlalchemy-orm": with_sqlalchemy_orm,
}

if __name__ == "__main__":
    DRIVERS[sys.argv[1]]()
