"""Writing a record's samples, the bulk of every record (thousands of rows), at the database's native speed.

Going through SQLAlchemy's executemany costs more per row than the database does: it
turns each row into bound parameters one by one. PostgreSQL takes the rows by COPY, its
bulk-load protocol, as one block of COPY text; even the driver's write_row, called per
row, cost as much as the database's own work. SQLite takes plain tuples through the
driver's executemany. Both run on the connection of the ingest transaction, so the
samples commit or roll back with the rest of the record.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from server.schema import samples

COLUMNS = ("result_id", "key", "arm", "series", "position", "value")

_NAMES = ", ".join(COLUMNS)

# COPY's text format: these characters inside a field are written as backslash escapes.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def insert_samples(connection: Connection, rows: Sequence[tuple]) -> None:
    """`rows` are tuples in COLUMNS order, values already floats."""
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {samples.name} ({_NAMES}) FROM STDIN") as copy:
            copy.write(copy_text(rows))
        return
    marks = ", ".join("?" for _ in COLUMNS)
    connection.exec_driver_sql(f"INSERT INTO {samples.name} ({_NAMES}) VALUES ({marks})", list(rows))


def copy_text(rows: Sequence[tuple]) -> str:
    """The rows as COPY text; repr of a float reads back as the same double."""
    escaped: dict[str, str] = {}
    lines = []
    for result_id, key, arm, series, position, value in rows:
        field = escaped.get(key)
        if field is None:
            field = escaped[key] = key.translate(_COPY_ESCAPES)
        lines.append(f"{result_id}\t{field}\t{arm}\t{series}\t{position}\t{value!r}\n")
    return "".join(lines)
