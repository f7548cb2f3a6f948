"""One statement per commit: the batch as JSON text, written on the store's writer thread.

Why: CPython's sqlite3 releases the GIL around each ``sqlite3_step``, so ``executemany``
on another thread takes the GIL back once per row and waits for the busy event loop
each time (a plain writer thread gained 1-4%). Here the loop's thread only encodes each
table's rows with ``json.dumps`` (C, a few microseconds per event) and the writer thread
runs ONE statement: an insert into a temporary view whose INSTEAD OF trigger writes every
table from ``json_each`` of its parameters. A single statement outside BEGIN is its own
transaction, so the whole batch, commit included, is one GIL-free ``sqlite3_step``.

Type fidelity: ``value ->> n`` gives INTEGER for a JSON integer, TEXT for a string and
NULL for null, exactly what binding the Python value gives (bools are 1/0 either way).
What JSON cannot carry exactly is refused and written the old way (``executemany``):
a float or an integer beyond 64 bits (the trigger aborts when any value parses to a
REAL, which is what SQLite makes of both), text with a NUL character (``->>`` stops at it), and anything
``json.dumps`` or the UTF-8 encoder rejects (bytes, lone surrogates, NaN).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from typing import Any, Final

#: ``->>`` arrived in SQLite 3.38.0.
MIN_SQLITE: Final = (3, 38, 0)

_VIEW = "brandbot_batch"
_encode = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False
).encode

_VALUES = re.compile(r"^(?P<head>.*?)VALUES \((?P<marks>[?, ]+)\)(?P<tail>.*)$", re.DOTALL)
_DELETE = re.compile(r"^DELETE FROM (?P<table>\w+) WHERE (?P<where>.*)$", re.DOTALL)
_EQUALS = re.compile(r"(\w+) = \?")


class Unencodable(ValueError):
    """A batch holds a value JSON cannot carry exactly: it is written row by row instead."""


def unsupported_reason(version: tuple[int, ...] = sqlite3.sqlite_version_info) -> str | None:
    """Why the one-statement form cannot be used with this SQLite, or None if it can."""
    if tuple(version) < MIN_SQLITE:
        found = ".".join(map(str, version))
        return f"SQLite {found} is older than 3.38.0 (no ->> operator)"
    return None


def bulk_form(sql: str, source: str) -> str:
    """The statement ``sql`` (an INSERT ... VALUES or a DELETE ... WHERE a = ? AND ...)
    rewritten to take all of its rows from ``json_each(source)``."""
    if match := _VALUES.match(sql):
        count = match["marks"].count("?")
        columns = ", ".join(f"value ->> {i}" for i in range(count))
        # "WHERE true" tells the parser that ON CONFLICT is an upsert, not a join clause.
        return f"{match['head']}SELECT {columns} FROM json_each({source}) WHERE true{match['tail']}"
    if match := _DELETE.match(sql):
        keys = _EQUALS.findall(match["where"])
        if " AND ".join(f"{key} = ?" for key in keys) != match["where"]:
            raise ValueError(f"cannot rewrite for json_each: {sql}")
        columns = ", ".join(f"value ->> {i}" for i in range(len(keys)))
        return (
            f"DELETE FROM {match['table']} WHERE ({', '.join(keys)}) IN "
            f"(SELECT {columns} FROM json_each({source}))"
        )
    raise ValueError(f"cannot rewrite for json_each: {sql}")


class BulkStatement:
    """The temporary view and trigger of one connection, and how to fill its parameters."""

    def __init__(self, statements: Sequence[str]) -> None:
        self.slots = {sql: i for i, sql in enumerate(statements)}
        if len(self.slots) != len(statements):
            raise ValueError("each batch statement may appear once")
        self.statements = tuple(statements)
        self.insert = f"INSERT INTO {_VIEW} VALUES ({', '.join('?' * len(statements))})"

    def install(self, db: sqlite3.Connection) -> None:
        """Create the view and its trigger (TEMP: they exist for this connection only)."""
        slots = range(len(self.statements))
        db.execute(
            f"CREATE TEMP VIEW {_VIEW} AS SELECT {', '.join(f'NULL AS p{i}' for i in slots)}"
        )
        reals = " OR ".join(
            f"EXISTS (SELECT 1 FROM json_each(NEW.p{i}) AS r, json_each(r.value) AS c "
            "WHERE typeof(c.atom) = 'real')"
            for i in slots
        )
        body = [
            f"SELECT RAISE(ABORT, 'a number that is not a 64-bit integer') WHERE {reals}",
            *(bulk_form(sql, f"NEW.p{i}") for i, sql in enumerate(self.statements)),
        ]
        db.execute(
            f"CREATE TEMP TRIGGER {_VIEW}_write INSTEAD OF INSERT ON {_VIEW} BEGIN\n"
            + ";\n".join(body)
            + ";\nEND"
        )

    def parameters(
        self, statements: Sequence[tuple[str, str, list[tuple[Any, ...]]]]
    ) -> list[str | None]:
        """Each statement's rows as one JSON array (None where a statement has no rows).

        Runs on the loop's thread (``json.dumps`` holds the GIL wherever it runs).
        Raises ``Unencodable`` for what JSON cannot carry exactly.
        """
        params: list[str | None] = [None] * len(self.statements)
        slots = self.slots
        try:
            for _, sql, rows in statements:
                text = _encode(rows)
                if "\\u0000" in text:
                    raise Unencodable("text with a NUL character")
                params[slots[sql]] = text
        except (TypeError, ValueError) as exc:
            raise Unencodable(str(exc)) from exc
        return params
