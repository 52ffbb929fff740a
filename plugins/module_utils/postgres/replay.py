# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The replay: one script, run by the pg_replay role through kubernetes.core.k8s_exec and by the post-restore hook.

It waits for PostgreSQL, checks every database before touching any,
applies the globals, then recreates each database from its --create dump,
rolling back a database that fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

from ansible_collections.appsnap.velero.plugins.module_utils.postgres.commands import (
    DEFAULT_DUMP_PATH,
    EXIT_NO_DUMP,
    EXIT_NOT_EMPTY,
    EXIT_NOT_READY,
    EXIT_NOT_VERIFIED,
    EXIT_REPLAY_FAILED,
    KEEP_OWN_PASSWORD_SQL,
    MAINTENANCE_DATABASE,
    NAME_OF_SH,
    READERS,
    STRICT_SH,
    USER_TABLES_SQL,
    check_format_jobs,
    check_seconds,
    entries_script,
    exec_hook,
    file_of_script,
    layout,
    readable_script,
    replay_command,
)
from ansible_collections.appsnap.velero.plugins.module_utils.postgres.manifest import replay_functions_script
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError, validate_duration, validate_on_error


def pg_replay_command(database, path=DEFAULT_DUMP_PATH, format="plain", jobs=1, clean=False, ready_timeout=300, report=False, verify="auto"):
    """The replay script: wait for PostgreSQL, refuse non-empty targets, apply the globals, recreate and verify each database.

    The same script runs in the pg_replay role (through pg_shell and
    kubernetes.core.k8s_exec) and in the post-restore hook. Exit codes: 2 no
    dump, 3 PostgreSQL never answered, 4 a database already holds user
    tables (and ``clean`` is false), 5 a database failed to replay; it was
    dropped again, and recreated empty if it existed before; 6 a database
    differs from the dump's manifest (every database is still replayed
    first); 7 a zstd dump and no zstd program; 8 ``verify`` required and no
    manifest (nothing touched). ``verify`` is auto (check when a manifest is
    beside the dump), required, or none. With ``report`` it prints one JSON line per database
    with its tables and rows, and what was verified. ``database`` and ``format`` ``auto`` replay what
    the dump holds: the databases of its index, each file in the format it was written in.
    """
    where = layout(path, database)
    format, jobs = check_format_jobs(format, jobs, "restore")
    if not isinstance(clean, bool) or not isinstance(report, bool):
        raise InputError("clean and report must be true or false, got %r and %r." % (clean, report))
    ready_timeout = check_seconds(ready_timeout, "ready_timeout")
    psql = "psql -X -At -v ON_ERROR_STOP=1"
    lines = [
        STRICT_SH,
        NAME_OF_SH,
        file_of_script(where, format, reading=True),
        "globals=%s" % shlex.quote(where["globals"]),
        "clean=%d" % (1 if clean else 0),
        replay_functions_script(where["manifest"], verify, report),
        "unverified=0",
    ]
    if where["single"]:
        lines += [
            entries_script(where),
            'if [ ! -e "$(file_of)" ]; then echo "appsnap: no dump at $(file_of); was the backup volume restored with the pod?'
            ' (A dump of several databases is replayed with databases: all.)" >&2; exit %d; fi' % EXIT_NO_DUMP,
        ]
    elif where["auto"]:
        lines += [
            "index=%s" % shlex.quote(where["index"]),
            "dump_path=%s" % shlex.quote(where["path"]),
            'if [ ! -s "$index" ]; then',
            '  for s in %s; do if [ -e "$dump_path$s" ]; then echo "appsnap: the dump at $dump_path$s has no index $index saying which databases'
            ' it holds; replay it naming them (databases: a name, or all)." >&2; exit %d; fi; done'
            % (" ".join(shlex.quote(suffix) for suffix, _command in READERS), EXIT_NO_DUMP),
            '  echo "appsnap: no dump at $dump_path (nor its index $index); was the backup volume restored with the pod?" >&2; exit %d' % EXIT_NO_DUMP,
            "fi",
            'entries="$(cat -- "$index")"',
        ]
    else:
        lines += [
            "index=%s" % shlex.quote(where["index"]),
            'if [ ! -s "$index" ]; then echo "appsnap: no dump index at $index; was the backup volume restored with the pod?" >&2; exit %d; fi'
            % EXIT_NO_DUMP,
            'entries="$(cat -- "$index")"',
        ]
    lines += [
        "waited=0",
        "until pg_isready --quiet --dbname=%s; do" % MAINTENANCE_DATABASE,
        '  if [ "$waited" -ge %d ]; then echo "appsnap: PostgreSQL did not accept connections within %ds" >&2; exit %d; fi'
        % (ready_timeout, ready_timeout, EXIT_NOT_READY),
        "  sleep 1; waited=$((waited + 1))",
        "done",
        # SQL on standard input, with the database's name as the psql variable :name (quoted by psql, never by the shell).
        'on_name() { %s --dbname=%s -v name="$1"; }' % (psql, MAINTENANCE_DATABASE),
        'exists() { [ "$(on_name "$1" <<< "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = :\'name\'")" = 1 ]; }',
        'drop() { on_name "$1" <<< \'DROP DATABASE IF EXISTS :"name" WITH (FORCE)\' >/dev/null; }',
        # Every database is checked before anything is touched.
        "while read -r part hex; do",
        '  name="$(name_of "$hex")"; file="$(file_of "$part")"',
        '  if [ ! -e "$file" ]; then echo "appsnap: the dump of database \\"$name\\" is missing at $file" >&2; exit %d; fi' % EXIT_NO_DUMP,
    ] + readable_script(format) + [
        '  if exists "$name"; then',
        '    tables="$(PGDATABASE="$name" %s -c %s)"' % (psql, shlex.quote(USER_TABLES_SQL)),
        '    if [ "$tables" != 0 ] && [ "$clean" != 1 ]; then',
        '      echo "appsnap: database \\"$name\\" already holds $tables user table(s); replaying on top would mix data.'
        ' Empty it, or replay with the appsnap.velero.pg_replay role and pg_replay_clean=true." >&2; exit %d' % EXIT_NOT_EMPTY,
        "    fi",
        "  fi",
        'done <<< "$entries"',
        # Roles first: the databases' owners and grants name them. Statements are never logged by the server,
        # and errors are terse, so no password hash reaches a log or a message.
        'if [ -e "$globals" ]; then',
        "  { printf '%%s\\n' %s; cat -- \"$globals\"; printf '%%s\\n' %s; } \\"
        % (shlex.quote(KEEP_OWN_PASSWORD_SQL[0]), shlex.quote(KEEP_OWN_PASSWORD_SQL[1])),
        "    | PGOPTIONS='-c log_min_error_statement=panic' psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=terse --dbname=%s >/dev/null"
        % MAINTENANCE_DATABASE,
        "fi",
        "while read -r part hex; do",
        '  name="$(name_of "$hex")"; file="$(file_of "$part")"',
        '  existed=0; if exists "$name"; then existed=1; drop "$name"; fi',
        "  if ! %s; then" % replay_command(format, jobs),
        '    drop "$name"',
        '    if [ "$existed" = 1 ]; then on_name "$name" <<< \'CREATE DATABASE :"name"\' >/dev/null; fi',
        '    echo "appsnap: replaying $file into database \\"$name\\" failed; nothing of it was kept" >&2; exit %d' % EXIT_REPLAY_FAILED,
        "  fi",
        '  echo "appsnap: replayed $file into database \\"$name\\"" >&2',
        '  if ! verify_database "$name"; then unverified=1; fi',
        'done <<< "$entries"',
        'if [ "$unverified" = 1 ]; then echo "appsnap: the replay differs from the dump\'s manifest $manifest; see above" >&2; exit %d; fi'
        % EXIT_NOT_VERIFIED,
    ]
    return "\n".join(lines)


def pg_replay_hook(
    database, path=DEFAULT_DUMP_PATH, format="plain", jobs=1, ready_timeout=300, exec_timeout="30m", wait_timeout="10m", on_error="Fail", container=None,
    verify="auto", **connection
):
    """A post-restore exec hook, for restore_hooks(post=...), that runs pg_replay_command in the restored pod.

    It never replays over user tables (exit 4): a restore hook cannot be told to clean. ``connection`` as for pg_dump_hook.
    """
    timing = {
        "exec_timeout": validate_duration(exec_timeout, "exec_timeout"),
        "wait_timeout": validate_duration(wait_timeout, "wait_timeout"),
        "on_error": validate_on_error(on_error, "on_error"),
        "wait_for_ready": True,
    }
    return exec_hook(pg_replay_command(database, path, format, jobs, ready_timeout=ready_timeout, verify=verify), timing, container, connection)
