# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dump: a pre-backup hook that writes the server's globals and each database beside the dump path.

Everything goes to a staging directory and is renamed into place only when
every part succeeded; pg_dump gives up on locks after a timeout, the whole
dump ends itself before Velero's hook timeout, and a dump that cannot fit
fails before it writes. The layout is described in pg_commands.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import shlex

from ansible_collections.appsnap.velero.plugins.module_utils.postgres.commands import (
    DEFAULT_DUMP_PATH,
    ALL_DATABASES_WHERE,
    IDEMPOTENT_ROLES_SED,
    MAINTENANCE_DATABASE,
    NAME_OF_SH,
    STRICT_SH,
    check_format_jobs,
    check_seconds,
    compress_option,
    compressor_script,
    entries_script,
    exec_hook,
    file_of_script,
    file_part,
    layout,
    pg_dump_format,
    stale_siblings_script,
)
from ansible_collections.appsnap.velero.plugins.module_utils.postgres.manifest import dump_functions_script
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError, duration_seconds, validate_duration, validate_on_error


def _selected_databases_sql(where):
    """A WHERE clause over pg_database for the databases a dump covers; names travel as hex."""
    if where["names"] is None:
        return ALL_DATABASES_WHERE
    hexes = ", ".join("convert_from(decode('%s', 'hex'), 'UTF8')" % binascii.hexlify(n.encode("utf-8")).decode("ascii") for n in where["names"])
    return "datname IN (%s)" % hexes


def _space_check_script(where, format):
    """Fail before writing when the dump directory cannot hold the dump beside the last one.

    A plain dump is at most about the databases' size on disk (no indexes are written; 1 GiB of pgbench dumped to
    684 MB); the archive formats are compressed (19 MB), so half the size is a generous bound for them.
    """
    halves = 2 if format == "plain" else 1
    size_sql = "SELECT coalesce(sum(pg_database_size(datname)), 0) FROM pg_catalog.pg_database WHERE %s" % _selected_databases_sql(where)
    return [
        'size="$(run psql -X -At -v ON_ERROR_STOP=1 --dbname=%s -c %s)"; need=$((size * %d / 2))' % (MAINTENANCE_DATABASE, shlex.quote(size_sql), halves),
        'free=$(( $(df -Pk -- "$dir" | tail -n 1 | tr -s " " | cut -d " " -f 4) * 1024 ))',
        'if [ "$free" -lt "$need" ]; then echo "appsnap: the dump needs about $((need >> 20)) MiB (the databases hold $((size >> 20)) MiB) but'
        ' $dir has $((free >> 20)) MiB free; grow the backup volume, or dump fewer databases. Nothing was written." >&2; exit 1; fi',
    ]


def pg_dump_script(database, path=DEFAULT_DUMP_PATH, format="plain", jobs=1, lock_wait_timeout="30s", deadline=None, space_check=True, verify="counts"):
    """The dump: globals and every database into a staging directory beside ``path``, published only when all succeeded.

    pg_dump gives up on a table lock after ``lock_wait_timeout`` rather than queue behind DDL and block the
    application. Every command runs under ``timeout`` so that the whole dump ends, killed with its children, within
    ``deadline`` seconds: Velero lets a timed-out hook run on, and an orphaned pg_dump would keep its locks.
    Connection and credentials come from libpq's PG* variables (see pg_shell).
    With ``verify`` counts or checksums, each database is dumped in the
    snapshot its manifest line was taken in (see pg_manifest.py).
    """
    where = layout(path, database)
    if where["auto"]:
        raise InputError("databases %r is for the replay (what the dump holds); dump a database name, a list of names, or 'all'." % (database,))
    format, jobs = check_format_jobs(format, jobs, "dump")
    lock_ms = int(duration_seconds(lock_wait_timeout) * 1000)
    if lock_ms < 1:
        raise InputError("lock_wait_timeout must be at least 1ms, got %r." % (lock_wait_timeout,))
    if deadline is not None:
        deadline = check_seconds(deadline, "deadline")
    dump_args = ["pg_dump", "--create", "--no-tablespaces", "--format=" + pg_dump_format(format), "--no-password", "--lock-wait-timeout=%d" % lock_ms]
    if jobs > 1:
        dump_args.append("--jobs=%d" % jobs)
    quoted = " ".join(shlex.quote(arg) for arg in dump_args)
    lines = [
        STRICT_SH,
        "dir=%s" % shlex.quote(where["directory"]),
        # Every command gets what is left of the deadline; timeout kills its whole process group (pg_dump --jobs workers too).
        "deadline=$((SECONDS + %d))" % (deadline or 10 ** 9),
        'run() { local left=$((deadline - SECONDS)) rc=0; if [ "$left" -le 0 ]; then left=1; fi; timeout --kill-after=1 "$left" "$@" || rc=$?;'
        ' if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "appsnap: $1 was stopped: the dump did not finish within %ss, the hook\'s timeout less'
        ' a margin; raise the hook timeout. The last good dump is kept." >&2; fi; return "$rc"; }' % (deadline or "the"),
        # pg_dumpall hides libpq's reason (a wrong password, say) behind "could not connect"; psql says it.
        "run psql -X -At --no-password --dbname=%s -c 'SELECT 1' >/dev/null" % MAINTENANCE_DATABASE,
    ]
    if space_check:
        lines += _space_check_script(where, format)
    lines += [
        # Beside the target, so that publishing is a rename on the same file system.
        'stage="$(mktemp -d "$dir/.appsnap-dump.XXXXXX")"',
        'trap \'rm -rf -- "$stage"\' EXIT',
        NAME_OF_SH,
        file_of_script(where, format),
        stale_siblings_script(where),
        dump_functions_script(verify, lock_ms),
    ] + compressor_script(format) + [
        "run pg_dumpall --globals-only --no-tablespaces --no-password --database=%s | sed -E %s > \"$stage/globals\""
        % (MAINTENANCE_DATABASE, shlex.quote(IDEMPOTENT_ROLES_SED)),
        entries_script(where),
        'if [ -z "$entries" ]; then echo "appsnap: no database to dump" >&2; exit 1; fi',
        'while read -r part hex; do',
        '  PGDATABASE="$(name_of "$hex")"; export PGDATABASE',
        '  dump_in_snapshot %s%s --file="$stage/db.$part"' % (quoted, compress_option(format)),
        'done <<< "$entries"',
        "unset PGDATABASE",
        'write_manifest "$stage/manifest"',
        # A directory cannot be renamed over another, so an existing one is moved into the stage first.
        'publish() { if [ -d "$2" ]; then mv -- "$2" "$stage/old.$RANDOM$RANDOM"; fi; mv -f -- "$1" "$2"; }',
    ]
    # A manifest describes only the dump beside it: the old one goes before anything is published, the new one last.
    manifest = shlex.quote(where["manifest"])
    index = shlex.quote(where["index"])
    lines += [
        "rm -f -- %s" % manifest,
        # The index says which databases the dump holds, for one database too: a replay of "auto" reads it.
        'printf "%s\\n" "$entries" > "$stage/index"',
        'old="$(cat -- %s 2>/dev/null || true)"' % index,
    ]
    if where["single"]:
        lines += [
            'publish "$stage/globals" %s' % shlex.quote(where["globals"]),
            'publish "$stage/db.%s" "$(file_of)"' % file_part(where["names"][0]),
            'drop_stale "" "$(file_of)"',
            'kept="$(file_of)"',
            'publish "$stage/index" %s' % index,
            # An earlier dump of several databases: their files go once this dump is in place.
            'while read -r part hex; do if [ -n "$part" ]; then drop_other "$part"; fi; done <<< "$old"',
        ]
    else:
        lines += [
            'publish "$stage/globals" %s' % shlex.quote(where["globals"]),
            'while read -r part hex; do publish "$stage/db.$part" "$(file_of "$part")"; drop_stale "$part" "$(file_of "$part")"; done <<< "$entries"',
            'kept="$(while read -r part hex; do file_of "$part"; echo; done <<< "$entries")"',
            # Databases dumped last time and gone since: their files go once the new index is in place, and so does
            # the file of an earlier dump of one database.
            'publish "$stage/index" %s' % index,
            'while read -r part hex; do if [ -n "$part" ] && ! grep -qxF -- "$part $hex" %s; then drop_stale "$part"; fi; done <<< "$old"'
            % index,
            "drop_other",
        ]
    lines.append('if [ -e "$stage/manifest" ]; then publish "$stage/manifest" %s; fi' % manifest)
    return "\n".join(lines)


def in_pod_deadline(hook_timeout):
    """Seconds the dump may run in the pod: Velero's hook timeout less a margin, so the dump ends first, and clearly."""
    seconds = int(duration_seconds(hook_timeout))
    if seconds < 2:
        raise InputError("timeout %r leaves the dump no time; give the hook at least '2s' (a real dump needs minutes)." % (hook_timeout,))
    return seconds - max(1, min(15, seconds // 10))


def pg_dump_hook(
    database, path=DEFAULT_DUMP_PATH, format="plain", jobs=1, timeout="3m", on_error="Fail", container=None, lock_wait_timeout="30s",
    space_check=True, verify="counts", **connection
):
    """A pre-backup hook that dumps the globals and ``database`` (a name, a list of names, or ``all``) beside ``path``.

    Everything is written to a staging directory first and renamed into
    place only when every part succeeded, so a failed or timed-out dump
    never replaces the last good one. The dump stops itself before Velero's
    ``timeout`` (see pg_dump_script). ``connection`` takes user_env,
    password_env, host and port (see pg_shell); credentials are read from
    the container's environment at run time, so only variable names reach
    the manifest. ``verify`` (counts, checksums or none) is what the dump's
    manifest records of each table, in the dump's own snapshot.
    """
    timeout = validate_duration(timeout, "timeout")
    if not isinstance(space_check, bool):
        raise InputError("space_check must be true or false, got %r." % (space_check,))
    timing = {"timeout": timeout, "on_error": validate_on_error(on_error, "on_error")}
    lock_wait_timeout = validate_duration(lock_wait_timeout, "lock_wait_timeout")
    script = pg_dump_script(database, path, format, jobs, lock_wait_timeout, in_pod_deadline(timeout), space_check, verify)
    return exec_hook(script, timing, container, connection)
