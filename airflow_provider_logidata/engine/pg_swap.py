"""Mode ``replace`` by swapping in a new table: the rows are written once and the target stays readable.

The new table is created ``LIKE <target> INCLUDING ALL`` (columns, defaults, constraints, indexes,
statistics, comments) in the load's transaction, with the target's storage options, tablespace and
persistence; the rows go straight into it; then, in the same transaction, the target is locked, renamed
away, the new table renamed to the target's name and the old one dropped; its index names, grants and
comment are carried over. Other sessions see the old rows until the commit and the new ones after it
(both renames commit together); the exclusive lock is held only for the swap.

``LIKE`` does not carry everything a table can have, so a swap is used only when the table has none of:
views or functions depending on it, foreign keys (either way), triggers, rules, row-level security,
inheritance or partitioning, sequences it owns (serial or identity columns: the new table would share or
restart them), column privileges, publications, a non-default replica identity, an owner other than the
loading user, or a schema the loading user may not create tables in. Otherwise :func:`why_not_swappable`
says why and the caller falls back to a temporary table applied with ``TRUNCATE`` + ``INSERT`` (rows
written twice, but everything attached to the table kept).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

if TYPE_CHECKING:
    import psycopg

# (reason, query returning a row when the reason applies); %(oid)s is the target's oid.
_BLOCKERS: tuple[tuple[str, str], ...] = (
    (
        "views, rules or functions depend on it",
        "SELECT 1 FROM pg_depend WHERE refclassid = 'pg_class'::regclass AND refobjid = %(oid)s "
        "AND classid IN ('pg_rewrite'::regclass, 'pg_proc'::regclass) LIMIT 1",
    ),
    (
        "it has or is referenced by foreign keys",
        "SELECT 1 FROM pg_constraint WHERE contype = 'f' AND (conrelid = %(oid)s OR confrelid = %(oid)s) "
        "LIMIT 1",
    ),
    ("it has triggers", "SELECT 1 FROM pg_trigger WHERE tgrelid = %(oid)s AND NOT tgisinternal LIMIT 1"),
    ("it has rules", "SELECT 1 FROM pg_rewrite WHERE ev_class = %(oid)s LIMIT 1"),
    ("it has row-level security policies", "SELECT 1 FROM pg_policy WHERE polrelid = %(oid)s LIMIT 1"),
    (
        "it is part of an inheritance or partition tree",
        "SELECT 1 FROM pg_inherits WHERE inhrelid = %(oid)s OR inhparent = %(oid)s LIMIT 1",
    ),
    (
        "it owns sequences (serial or identity columns)",
        "SELECT 1 FROM pg_depend d JOIN pg_class s ON s.oid = d.objid WHERE d.classid = 'pg_class'::regclass "
        "AND d.refobjid = %(oid)s AND d.deptype IN ('a', 'i') AND s.relkind = 'S' LIMIT 1",
    ),
    (
        "it has column privileges",
        "SELECT 1 FROM pg_attribute WHERE attrelid = %(oid)s AND attacl IS NOT NULL LIMIT 1",
    ),
    ("it is in a publication", "SELECT 1 FROM pg_publication_rel WHERE prrelid = %(oid)s LIMIT 1"),
    (
        "other types or tables use its row type",
        "SELECT 1 FROM pg_depend WHERE refclassid = 'pg_type'::regclass "
        "AND refobjid = (SELECT reltype FROM pg_class WHERE oid = %(oid)s) AND deptype = 'n' LIMIT 1",
    ),
    (
        "it has row-level security, a non-default replica identity, or is a partition",
        "SELECT 1 FROM pg_class WHERE oid = %(oid)s AND (relkind <> 'r' OR relrowsecurity "
        "OR relforcerowsecurity OR relreplident <> 'd' OR relispartition)",
    ),
    (
        "the loading user may not create tables in its schema",
        "SELECT 1 FROM pg_class WHERE oid = %(oid)s AND NOT has_schema_privilege(relnamespace, 'CREATE')",
    ),
    (
        "it is owned by another role than the loading user",
        "SELECT 1 FROM pg_class WHERE oid = %(oid)s AND relowner <> (SELECT oid FROM pg_roles "
        "WHERE rolname = current_user)",
    ),
)

# An index's shape by column names (attnums differ when the old table has dropped columns).
_INDEXES = """
SELECT c.relname, i.indisunique, i.indisprimary, i.indnkeyatts, i.indclass::text, i.indcollation::text,
       i.indoption::text, c.relam, pg_get_expr(i.indexprs, i.indrelid), pg_get_expr(i.indpred, i.indrelid),
       ARRAY(SELECT coalesce(a.attname, '') FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s ORDER BY c.relname
"""


def _shape(row: Any) -> tuple[Any, ...]:
    return tuple(tuple(value) if isinstance(value, list) else value for value in row[1:])


def why_not_swappable(con: psycopg.Connection[Any], oid: int) -> str | None:
    """None when the table can be replaced by a swap, else the first reason it cannot."""
    for reason, query in _BLOCKERS:
        if con.execute(query, {"oid": oid}).fetchone() is not None:  # type: ignore[arg-type]
            return reason
    return None


def create_like(
    con: psycopg.Connection[Any], oid: int, target_sql: sql.Composable, schema: str, name: str
) -> sql.Composable:
    """Create the empty replacement table ``schema.name`` shaped like the target; returns its name."""
    row = con.execute(
        "SELECT c.relpersistence, array_to_string(c.reloptions, ','), t.spcname FROM pg_class c "
        "LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE c.oid = %s",
        (oid,),
    ).fetchone()
    assert row is not None
    persistence, options, tablespace = row
    new_sql = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))
    statement = sql.SQL("CREATE {}TABLE {} (LIKE {} INCLUDING ALL)").format(
        sql.SQL("UNLOGGED " if persistence == "u" else ""), new_sql, target_sql
    )
    if options:
        statement += sql.SQL(" WITH ({})").format(sql.SQL(options))  # type: ignore[arg-type]
    if tablespace:
        statement += sql.SQL(" TABLESPACE {}").format(sql.Identifier(tablespace))
    con.execute(statement)
    return new_sql


def swap(
    con: psycopg.Connection[Any],
    oid: int,
    target_sql: sql.Composable,
    schema: str,
    table: str,
    new: str,
    old: str,
) -> None:
    """Put the loaded table ``schema.new`` in the place of the target (oid ``oid``), in this transaction.

    ``old`` is a free name the target is renamed to just before it is dropped.
    """
    con.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(target_sql))
    new_oid = con.execute(
        "SELECT (quote_ident(%s) || '.' || quote_ident(%s))::regclass::oid", (schema, new)
    ).fetchone()[0]  # type: ignore[index]
    old_indexes = {_shape(r): r[0] for r in con.execute(_INDEXES, (oid,))}
    new_indexes = [(r[0], _shape(r)) for r in con.execute(_INDEXES, (new_oid,))]
    grants = con.execute(
        "SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable "
        "FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE c.oid = %s AND a.grantee <> c.relowner",
        (oid,),
    ).fetchall()
    comment = con.execute("SELECT obj_description(%s, 'pg_class')", (oid,)).fetchone()[0]  # type: ignore[index]
    con.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(target_sql, sql.Identifier(old)))
    con.execute(
        sql.SQL("ALTER TABLE {}.{} RENAME TO {}").format(
            sql.Identifier(schema), sql.Identifier(new), sql.Identifier(table)
        )
    )
    con.execute(sql.SQL("DROP TABLE {}.{}").format(sql.Identifier(schema), sql.Identifier(old)))
    for name, shape in new_indexes:
        if shape in old_indexes and old_indexes[shape] != name:
            con.execute(
                sql.SQL("ALTER INDEX {}.{} RENAME TO {}").format(
                    sql.Identifier(schema), sql.Identifier(name), sql.Identifier(old_indexes.pop(shape))
                )
            )
    for grantee, privilege, grantable in grants:
        con.execute(
            sql.SQL("GRANT {} ON {} TO {}{}").format(
                sql.SQL(privilege),  # type: ignore[arg-type]  # from aclexplode: SELECT, INSERT, ...
                target_sql,
                sql.SQL("PUBLIC") if grantee == "PUBLIC" else sql.Identifier(grantee),
                sql.SQL(" WITH GRANT OPTION" if grantable else ""),
            )
        )
    if comment is not None:
        con.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target_sql, sql.Literal(comment)))
