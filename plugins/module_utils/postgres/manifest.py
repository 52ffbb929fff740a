# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verification manifest: what a dump records of its own data, and how a replay checks itself against it.

For each database, the dump opens a REPEATABLE READ transaction, exports
its snapshot (``pg_export_snapshot()``), counts the rows of every user table
in that snapshot (and, with ``checksums``, an md5 over them), and runs
pg_dump with ``--snapshot`` on the same snapshot. The counts therefore
describe exactly the data in the dump, however much the application writes
meanwhile. The manifest is JSON, written beside the dump as
``<stem>.manifest.json`` and published with it::

    {"appsnap_manifest": 1, "verify": "counts", "taken_at": "2026-11-30T12:00:00Z", "databases": [
    {"database": "shop", "tables": {"public.orders": {"rows": 1200}}}
    ,{"database": "postgres", "tables": {}}
    ]}

One database per line, so that a replay loads it with COPY (never as SQL
text) and compares it in SQL with the database it has just recreated. A
difference fails the replay (exit code 6) and names each table with both
counts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

from ansible_collections.appsnap.velero.plugins.module_utils.postgres.commands import EXIT_NO_MANIFEST, tables_json_sql
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError

# What the dump records: row counts (the default), counts and an md5 over each table's rows, or nothing.
DUMP_VERIFY = ("counts", "checksums", "none")
# What the replay does: check when a manifest is beside the dump, insist on one, or skip the check.
REPLAY_VERIFY = ("auto", "required", "none")
MANIFEST_VERSION = 1


def check_verify(verify, choices, what):
    if verify not in choices:
        raise InputError("%s must be one of %s, got %r." % (what, ", ".join(choices), verify))
    return verify


def _holding_sql(verify, lock_ms):
    """The holding session: a read-only snapshot, exported, and the database's line of the manifest taken in it.

    The session waits for table locks no longer than pg_dump does, and no
    timeout of the database's own settings ends it while pg_dump runs.
    """
    entry = "SELECT json_build_object('database', current_database(), 'tables', (%s))" % tables_json_sql("true" if verify == "checksums" else "false")
    return "\n".join([
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
        "SET LOCAL lock_timeout = %d;" % lock_ms,
        "SET LOCAL statement_timeout = 0;",
        "SET LOCAL idle_in_transaction_session_timeout = 0;",
        # PostgreSQL 17 adds transaction_timeout; older servers do not know the setting.
        "DO $appsnap$ BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_settings WHERE name = 'transaction_timeout') THEN"
        " PERFORM pg_catalog.set_config('transaction_timeout', '0', true); END IF; END $appsnap$;",
        "SELECT pg_catalog.pg_export_snapshot();",
        entry + ";",
    ])


def dump_functions_script(verify, lock_ms):
    """Shell functions for the dump script: ``dump_in_snapshot CMD...`` and ``write_manifest FILE``.

    ``dump_in_snapshot`` runs the pg_dump command line ``CMD...`` under the
    dump's deadline, in the snapshot of a holding psql session (a
    coprocess) on the database in PGDATABASE, and appends that database's
    line to ``$stage/manifest.lines``. With ``verify`` none it only runs
    ``CMD...``, and ``write_manifest`` writes nothing. Both rely on the dump
    script's ``run`` and ``stage``.
    """
    check_verify(verify, DUMP_VERIFY, "verify")
    if verify == "none":
        return 'dump_in_snapshot() { run "$@"; }\nwrite_manifest() { :; }'
    return "\n".join([
        "dump_in_snapshot() {",
        "  local snapshot entry holder",
        "  coproc HOLD { run psql -X -At -q -v ON_ERROR_STOP=1 --no-password; }",
        '  holder="$HOLD_PID"',
        '  printf "%%s\\n" %s >&"${HOLD[1]}"' % shlex.quote(_holding_sql(verify, lock_ms)),
        '  if ! read -r snapshot <&"${HOLD[0]}" || ! read -r entry <&"${HOLD[0]}"; then',
        '    echo "appsnap: could not take a snapshot of database \\"$PGDATABASE\\" to record its manifest" >&2; exit 1',
        "  fi",
        '  printf "%s\\n" "$entry" >> "$stage/manifest.lines"',
        '  run "$@" --snapshot="$snapshot"',
        # The snapshot is released only after pg_dump has read everything in it.
        '  printf "COMMIT;\\n" >&"${HOLD[1]}"',
        '  exec {HOLD[1]}>&-',
        '  wait "$holder"',
        "}",
        "write_manifest() {",
        '  { printf \'{"appsnap_manifest": %d, "verify": "%s", "taken_at": "%%s", "databases": [\\n\' "$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)"'
        % (MANIFEST_VERSION, verify),
        "    sed '2,$s/^/,/' \"$stage/manifest.lines\"; printf ']}\\n'; } > \"$1\"",
        "}",
    ])


# The replay's check of one database: the manifest comes in by COPY (csv with delimiter and quote characters no JSON
# holds, so each line is one value), then the restored tables are compared with its line for this database.
VERIFY_PREAMBLE_SQL = (
    "CREATE TEMP TABLE appsnap_manifest (n serial, line text);\n"
    "COPY appsnap_manifest (line) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02');"
)


def _verify_sql():
    """The check of the database psql is connected to, after the preamble has loaded the manifest (or nothing)."""
    databases = "FROM appsnap_mode, json_array_elements(d->'databases') AS db"
    this_database = "db->>'database' = current_database()"
    present = tables_json_sql("(SELECT mode FROM appsnap_mode) = 'checksums'")
    return "\n".join([
        "CREATE TEMP TABLE appsnap_mode AS SELECT d->>'verify' AS mode, d FROM "
        "(SELECT string_agg(line, E'\\n' ORDER BY n)::json AS d FROM appsnap_manifest WHERE line IS NOT NULL) AS doc;",
        "CREATE TEMP TABLE appsnap_verify AS "
        "WITH wanted AS (SELECT t.key AS tbl, (t.value->>'rows')::bigint AS rows, t.value->>'md5' AS md5 " + databases
        + ", json_each(db->'tables') AS t WHERE " + this_database + "), "
        "present AS (SELECT t.key AS tbl, (t.value->>'rows')::bigint AS rows, t.value->>'md5' AS md5 FROM json_each((" + present + ")) AS t) "
        "SELECT coalesce(w.tbl, p.tbl) AS tbl, w.rows AS wanted, p.rows AS present, w.md5 AS wanted_md5, p.md5 AS present_md5 "
        "FROM wanted AS w FULL JOIN present AS p ON w.tbl = p.tbl;",
        # The report: one JSON line per database, what was restored and what was checked against the manifest.
        "SELECT json_build_object('database', current_database(), 'tables', count(present), 'rows', coalesce(sum(present), 0), "
        "'verified', (SELECT mode FROM appsnap_mode), 'verified_tables', count(wanted), 'verified_rows', coalesce(sum(wanted), 0)) FROM appsnap_verify;",
        "DO $appsnap$ DECLARE mode text; bad text; BEGIN",
        "  SELECT m.mode INTO mode FROM appsnap_mode AS m;",
        "  IF mode IS NULL THEN RETURN; END IF;",
        "  IF NOT EXISTS (SELECT " + databases + " WHERE " + this_database + ") THEN",
        "    RAISE EXCEPTION 'appsnap: database % is not in the dump''s manifest', quote_ident(current_database()); END IF;",
        "  SELECT string_agg(format('%s: %s in the manifest, %s restored', v.tbl, coalesce(v.wanted || ' rows', 'not'), "
        "coalesce(v.present || ' rows', 'not')) || CASE WHEN v.wanted IS NOT DISTINCT FROM v.present THEN ' (checksums differ)' ELSE '' END, "
        "'; ' ORDER BY v.tbl) INTO bad FROM appsnap_verify AS v "
        "WHERE v.wanted IS DISTINCT FROM v.present OR (mode = 'checksums' AND v.wanted_md5 IS DISTINCT FROM v.present_md5);",
        "  IF bad IS NOT NULL THEN",
        "    RAISE EXCEPTION 'appsnap: database % does not match the dump''s manifest: %', quote_ident(current_database()), bad; END IF;",
        "END $appsnap$;",
    ])


def replay_functions_script(manifest, verify, report):
    """Shell lines for the replay script: ``verify_database NAME`` checks a recreated database against the manifest.

    It prints the database's report line when ``report``, and fails (psql
    tells why on stderr) when the database differs from the manifest at
    ``manifest``. With ``required``, the replay fails before anything is
    touched when there is no manifest; with ``none`` it only reports.
    """
    check_verify(verify, REPLAY_VERIFY, "verify")
    use = '[ -e "$manifest" ]' if verify != "none" else "false"
    lines = [
        "manifest=%s" % shlex.quote(manifest),
        "verify_database() {",
        "  { printf '%%s\\n' %s; if %s; then cat -- \"$manifest\"; fi; printf '%%s\\n' '\\.' %s; } \\"
        % (shlex.quote(VERIFY_PREAMBLE_SQL), use, shlex.quote(_verify_sql())),
        '    | PGDATABASE="$1" psql -X -At -q -v ON_ERROR_STOP=1 -v VERBOSITY=terse%s' % ("" if report else " >/dev/null"),
        "}",
    ]
    if verify == "required":
        lines.append(
            'if [ ! -s "$manifest" ]; then echo "appsnap: no manifest at $manifest to verify the replay against; dump with verify: counts'
            ' or checksums (the default), or replay with verify: auto." >&2; exit %d; fi' % EXIT_NO_MANIFEST
        )
    return "\n".join(lines)
