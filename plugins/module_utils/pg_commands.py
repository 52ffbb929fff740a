# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every PostgreSQL command and SQL text the collection runs in a pod.

The dump (a pre-backup hook), the replay (the pg_replay role through
kubernetes.core.k8s_exec, or a post-restore hook: the same script) and the
queries the roles run are built here and nowhere else. Every value is
shell-quoted; credentials never leave the container: the scripts expand them
from its environment at run time.

What a dump holds (the layout in the backup volume, beside ``path``):

- ``globals.sql``: the server's roles, memberships, password hashes and role
  settings (``pg_dumpall --globals-only``), rewritten so that a role that
  already exists is altered to the dumped attributes instead of failing;
- one database: its dump at ``path`` (``/backup/backup.sql`` by default);
- several databases, or ``all``: ``<stem>.<name><ext>`` per database
  (``backup.shop.sql``; a name outside ``[A-Za-z0-9_]`` is written as ``x-``
  and its UTF-8 bytes in hex) and the index ``<stem>.databases``.

Each database is dumped with ``--create``, so its owner, encoding, locale,
``ALTER DATABASE ... SET`` settings and grants come back with it. The
replay drops the (empty) database and lets the dump create it again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import posixpath
import re
import shlex

from ansible_collections.appsnap.velero.plugins.module_utils.validation import (
    InputError,
    validate_dns1123_label,
    validate_duration,
    validate_env_name,
    validate_on_error,
)

PG_DUMP_FORMATS = ("plain", "custom", "directory")
# What runs in parallel: pg_dump --jobs needs a directory, pg_restore --jobs any archive.
PARALLEL_FORMATS = {"dump": ("directory",), "restore": ("custom", "directory")}
ALL_DATABASES = "all"
GLOBALS_FILE = "globals.sql"
MAINTENANCE_DATABASE = "template1"

# The replay's exit codes; the pg_replay role names the fix for each.
EXIT_NO_DUMP = 2
EXIT_NOT_READY = 3
EXIT_NOT_EMPTY = 4
EXIT_REPLAY_FAILED = 5

USER_TABLES_SQL = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
# One JSON line per replayed database: its name, user tables and rows.
REPLAY_REPORT_SQL = (
    "SELECT json_build_object('database', current_database(), 'tables', count(*), 'rows', coalesce(sum((xpath('/row/c/text()', "
    "query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text::bigint), 0)) "
    "FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)
# Rows and an md5 over the rows in a stable order, per user table, as one JSON object.
CHECKSUMS_SQL = (
    "SELECT coalesce(json_object_agg(name, json_build_object('rows', rows::bigint, 'md5', md5)), '{}') "
    "FROM (SELECT format('%I.%I', schemaname, tablename) AS name, "
    "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text AS rows, "
    "(xpath('/row/m/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, E''\\n'' ORDER BY t::text), '''')) AS m FROM %I.%I t', "
    "schemaname, tablename), false, true, '')))[1]::text AS md5 "
    "FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) AS sums"
)
# Every database a dump of "all" covers: (file name part, hex of the name) per line, so any name survives the shell.
_ALL_DATABASES_SQL = (
    "SELECT CASE WHEN datname ~ '^[A-Za-z0-9_]+$' THEN datname ELSE 'x-' || encode(convert_to(datname, 'UTF8'), 'hex') END, "
    "encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname"
)
_SAFE_PART = re.compile(r"^[A-Za-z0-9_]+$")
# pg_dumpall writes CREATE ROLE then ALTER ROLE ... WITH <every attribute>, so that the ALTER sets the dumped
# attributes even where the CREATE fails. The rewrite turns that expected failure into nothing, so the globals
# replay with ON_ERROR_STOP and stop on any real error. A name holding '$' is left as it is.
_IDEMPOTENT_ROLES_SED = r"s/^CREATE ROLE ([^$]+);$/DO $appsnap$ BEGIN CREATE ROLE \1; EXCEPTION WHEN duplicate_object THEN NULL; END $appsnap$;/"
# The replaying role keeps its own password: the target's credentials belong to the target's Secret.
_KEEP_OWN_PASSWORD = (
    "CREATE TEMP TABLE appsnap_own AS SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = current_user;",
    "DO $appsnap$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', current_user, (SELECT rolpassword FROM appsnap_own)); END $appsnap$;",
)
_STRICT = "set -o errexit -o nounset -o pipefail"
_CONNECTION_DEFAULTS = {"user_env": "POSTGRES_USER", "password_env": "POSTGRES_PASSWORD", "host": "127.0.0.1", "port": 5432}


# ---------------------------------------------------------------------------
# Checks, each in one place
# ---------------------------------------------------------------------------


def check_format_jobs(format, jobs, tool):
    """``tool`` is "dump" or "restore": pg_dump runs in parallel only into a directory, pg_restore from any archive."""
    if format not in PG_DUMP_FORMATS:
        raise InputError("format must be one of %s, got %r." % (", ".join(PG_DUMP_FORMATS), format))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError("jobs must be a positive integer, got %r." % (jobs,))
    allowed = PARALLEL_FORMATS[tool]
    if jobs > 1 and format not in allowed:
        raise InputError(
            "jobs > 1 needs format %s; pg_%s runs in parallel only with %s. Set format: directory or jobs: 1."
            % (" or ".join(repr(f) for f in allowed), tool, " or ".join(allowed))
        )
    return format, jobs


def _check_name(database, what="database"):
    if not isinstance(database, str) or not database or "\x00" in database:
        raise InputError("%s must be a non-empty string, got %r." % (what, database))
    if "=" in database or database.startswith(("postgres://", "postgresql://")):
        raise InputError(
            "%s %r looks like a connection string; pass only the database name and use host, port, "
            "user_env and password_env for the rest." % (what, database)
        )
    return database


def check_databases(databases):
    """The databases to dump or replay: ``"all"``, or a list of names (a single name is a list of one).

    Returns ``None`` for all, else the list of names.
    """
    if databases == ALL_DATABASES:
        return None
    if isinstance(databases, str):
        databases = [databases]
    if not isinstance(databases, (list, tuple)) or not databases:
        raise InputError("databases must be a database name, a non-empty list of names, or 'all', got %r." % (databases,))
    names = [_check_name(name, "database name") for name in databases]
    templates = [n for n in names if n in ("template0", "template1")]
    if templates:
        raise InputError("%s is a template database; dump the databases made from it instead." % templates[0])
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise InputError("databases lists %s more than once; name each database once." % ", ".join(repr(n) for n in twice))
    return names


def _check_path(path):
    if not isinstance(path, str) or not path.startswith("/") or path.endswith("/") or "\x00" in path:
        raise InputError("path must be an absolute file path such as '/backup/backup.sql', got %r." % (path,))
    if posixpath.basename(path).startswith("."):
        raise InputError("path %r names a hidden file; use a name such as backup.sql." % (path,))
    return path


def _check_host(host):
    if not isinstance(host, str) or not host or any(c.isspace() for c in host):
        raise InputError("host must be a host name, IP address or socket directory, got %r." % (host,))
    return host


def _check_port(port):
    if isinstance(port, bool) or not str(port).isdigit() or not 1 <= int(port) <= 65535:
        raise InputError("port must be an integer between 1 and 65535, got %r." % (port,))
    return int(port)


def _check_seconds(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError("%s must be a positive number of seconds, got %r." % (what, value))
    return value


# ---------------------------------------------------------------------------
# The layout in the backup volume
# ---------------------------------------------------------------------------


def file_part(name):
    """The part of a file name that stands for database ``name``: the name itself, or ``x-`` and its hex."""
    if _SAFE_PART.match(name):
        return name
    return "x-" + binascii.hexlify(name.encode("utf-8")).decode("ascii")


def layout(path, databases):
    """Where a dump of ``databases`` at ``path`` puts its files; see the module docstring."""
    _check_path(path)
    names = check_databases(databases)
    directory, base = posixpath.split(path)
    stem, dot, ext = base.partition(".")
    return {
        "directory": directory,
        "globals": posixpath.join(directory, GLOBALS_FILE),
        "single": names is not None and len(names) == 1,
        "names": names,
        "index": posixpath.join(directory, stem + ".databases"),
        "pattern": (posixpath.join(directory, stem + "."), dot + ext),
        "path": path,
    }


def _entries_script(where):
    """Shell lines that set ``entries`` to the 'part hex' lines of the databases to dump."""
    if where["names"] is None:
        return 'entries="$(psql -X -At -F " " -v ON_ERROR_STOP=1 --dbname=%s -c %s)"' % (MAINTENANCE_DATABASE, shlex.quote(_ALL_DATABASES_SQL))
    lines = ["%s %s" % (file_part(n), binascii.hexlify(n.encode("utf-8")).decode("ascii")) for n in where["names"]]
    return "entries=%s" % shlex.quote("\n".join(lines))


def _file_of_script(where):
    """A shell function ``file_of PART`` that prints the dump file of a database."""
    if where["single"]:
        return "file_of() { printf '%%s' %s; }" % shlex.quote(where["path"])
    prefix, suffix = where["pattern"]
    return 'file_of() { printf \'%%s\' %s"$1"%s; }' % (shlex.quote(prefix), shlex.quote(suffix))


_NAME_OF = "name_of() { printf '%b' \"$(printf '%s' \"$1\" | sed 's/../\\\\x&/g')\"; }"


# ---------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------


def _required_env(name):
    """A shell expansion of a container variable that fails, naming it, when it is unset."""
    return '"${%s:?%s is not set in the container}"' % (name, name)


def _pg_exports(user_env, password_env, host, port):
    """``export PG*=...`` for libpq, the user and password expanded from the container's environment in the pod."""
    validate_env_name(user_env, "user_env")
    validate_env_name(password_env, "password_env")
    return "export PGPASSWORD=%s PGUSER=%s PGHOST=%s PGPORT=%d" % (
        _required_env(password_env), _required_env(user_env), shlex.quote(_check_host(host)), _check_port(port))


def pg_shell(script, user_env="POSTGRES_USER", password_env="POSTGRES_PASSWORD", host="127.0.0.1", port=5432):
    """A ``bash -c`` command line that runs ``script`` with libpq's PG* variables taken from the container.

    Meant for kubernetes.core.k8s_exec, whose command is split with shlex:
    only variable names leave the controller, never the credentials.
    """
    if not isinstance(script, str) or not script.strip():
        raise InputError("script must be a non-empty shell command, got %r." % (script,))
    return "bash -c " + shlex.quote(_pg_exports(user_env, password_env, host, port) + "; " + script)


# The queries the roles run by name, so their SQL lives here only.
NAMED_QUERIES = {"checksums": CHECKSUMS_SQL, "user_tables": USER_TABLES_SQL}


def pg_query(database, sql):
    """A psql command line that prints the unaligned result of ``sql`` (or of a query in NAMED_QUERIES) in ``database``."""
    if not isinstance(sql, str) or not sql.strip():
        raise InputError("sql must be a SQL statement or one of %s, got %r." % (", ".join(sorted(NAMED_QUERIES)), sql))
    return "psql -X -At -v ON_ERROR_STOP=1 --dbname=%s -c %s" % (shlex.quote(_check_name(database)), shlex.quote(NAMED_QUERIES.get(sql, sql)))


# ---------------------------------------------------------------------------
# The dump
# ---------------------------------------------------------------------------


def pg_dump_script(database, path="/backup/backup.sql", format="plain", jobs=1):
    """The dump: globals and every database into a staging directory beside ``path``, published only when all succeeded.

    Connection and credentials come from libpq's PG* variables (see pg_shell).
    """
    where = layout(path, database)
    format, jobs = check_format_jobs(format, jobs, "dump")
    dump_args = ["pg_dump", "--create", "--no-tablespaces", "--format=" + format, "--no-password"]
    if jobs > 1:
        dump_args.append("--jobs=%d" % jobs)
    quoted = " ".join(shlex.quote(arg) for arg in dump_args)
    lines = [
        _STRICT,
        "dir=%s" % shlex.quote(where["directory"]),
        # Beside the target, so that publishing is a rename on the same file system.
        'stage="$(mktemp -d "$dir/.appsnap-dump.XXXXXX")"',
        'trap \'rm -rf -- "$stage"\' EXIT',
        _NAME_OF,
        _file_of_script(where),
        # pg_dumpall hides libpq's reason (a wrong password, say) behind "could not connect"; psql says it.
        "psql -X -At --no-password --dbname=%s -c 'SELECT 1' >/dev/null" % MAINTENANCE_DATABASE,
        "pg_dumpall --globals-only --no-tablespaces --no-password --database=%s | sed -E %s > \"$stage/globals\""
        % (MAINTENANCE_DATABASE, shlex.quote(_IDEMPOTENT_ROLES_SED)),
        _entries_script(where),
        'if [ -z "$entries" ]; then echo "appsnap: no database to dump" >&2; exit 1; fi',
        'while read -r part hex; do',
        '  PGDATABASE="$(name_of "$hex")" %s --file="$stage/db.$part"' % quoted,
        'done <<< "$entries"',
        # A directory cannot be renamed over another, so an existing one is moved into the stage first.
        'publish() { if [ -d "$2" ]; then mv -- "$2" "$stage/old.$RANDOM$RANDOM"; fi; mv -f -- "$1" "$2"; }',
    ]
    if where["single"]:
        lines += ['publish "$stage/globals" %s' % shlex.quote(where["globals"]), 'publish "$stage/db.%s" "$(file_of)"' % file_part(where["names"][0])]
    else:
        index = shlex.quote(where["index"])
        lines += [
            'printf "%s\\n" "$entries" > "$stage/index"',
            'publish "$stage/globals" %s' % shlex.quote(where["globals"]),
            'while read -r part hex; do publish "$stage/db.$part" "$(file_of "$part")"; done <<< "$entries"',
            # Databases dumped last time and gone since: their files go once the new index is in place.
            'old="$(cat -- %s 2>/dev/null || true)"' % index,
            'publish "$stage/index" %s' % index,
            'while read -r part hex; do if [ -n "$part" ] && ! grep -qxF -- "$part $hex" %s; then rm -rf -- "$(file_of "$part")"; fi; done <<< "$old"'
            % index,
        ]
    return "\n".join(lines)


def pg_dump_hook(database, path="/backup/backup.sql", format="plain", jobs=1, timeout="3m", on_error="Fail", container=None, **connection):
    """A pre-backup hook that dumps the globals and ``database`` (a name, a list of names, or ``all``) beside ``path``.

    Everything is written to a staging directory first and renamed into
    place only when every part succeeded, so a failed or timed-out dump
    (Velero lets a timed-out hook keep running) never replaces the last good
    one. ``connection`` takes user_env, password_env, host and port (see
    pg_shell); credentials are read from the container's environment at run
    time, so only variable names reach the manifest.
    """
    timing = {"timeout": validate_duration(timeout, "timeout"), "on_error": validate_on_error(on_error, "on_error")}
    return _hook(pg_dump_script(database, path, format, jobs), timing, container, connection)


def _hook(script, timing, container, connection):
    """A Velero exec hook dict: ``script`` after the PG* exports, the hook's timing keys, and its container when given."""
    unknown = sorted(set(connection) - set(_CONNECTION_DEFAULTS))
    if unknown:
        raise InputError("unknown option(s) %s; the connection options are %s." % (", ".join(unknown), ", ".join(_CONNECTION_DEFAULTS)))
    settings = dict(_CONNECTION_DEFAULTS, **connection)
    exports = _pg_exports(settings["user_env"], settings["password_env"], settings["host"], settings["port"])
    hook = dict(timing, command=["/bin/bash", "-c", exports + "\n" + script])
    if container is not None:
        hook["container"] = validate_dns1123_label(container, "container")
    return hook


# ---------------------------------------------------------------------------
# The replay
# ---------------------------------------------------------------------------


def _restore_command(format, jobs):
    """Recreate one database from its ``--create`` dump in ``$file``, connected to the maintenance database."""
    if format == "plain":
        return 'psql -X -q -v ON_ERROR_STOP=1 --dbname=%s --file="$file" >/dev/null' % MAINTENANCE_DATABASE
    mode = " --jobs=%d" % jobs if jobs > 1 else ""
    return 'pg_restore --create --exit-on-error%s --dbname=%s "$file"' % (mode, MAINTENANCE_DATABASE)


def pg_replay_command(database, path="/backup/backup.sql", format="plain", jobs=1, clean=False, ready_timeout=300, report=False):
    """The replay script: wait for PostgreSQL, refuse non-empty targets, apply the globals, recreate each database.

    The same script runs in the pg_replay role (through pg_shell and
    kubernetes.core.k8s_exec) and in the post-restore hook. Exit codes: 2 no
    dump, 3 PostgreSQL never answered, 4 a database already holds user
    tables (and ``clean`` is false), 5 a database failed to replay; it was
    dropped again, and recreated empty if it existed before. With ``report``
    it prints one JSON line per database with its tables and rows.
    """
    where = layout(path, database)
    format, jobs = check_format_jobs(format, jobs, "restore")
    if not isinstance(clean, bool) or not isinstance(report, bool):
        raise InputError("clean and report must be true or false, got %r and %r." % (clean, report))
    ready_timeout = _check_seconds(ready_timeout, "ready_timeout")
    psql = "psql -X -At -v ON_ERROR_STOP=1"
    lines = [
        _STRICT,
        _NAME_OF,
        _file_of_script(where),
        "globals=%s" % shlex.quote(where["globals"]),
        "clean=%d" % (1 if clean else 0),
    ]
    if where["single"]:
        lines += [
            _entries_script(where),
            'if [ ! -e "$(file_of)" ]; then echo "appsnap: no dump at $(file_of); was the backup volume restored with the pod?'
            ' (A dump of several databases is replayed with databases: all.)" >&2; exit %d; fi' % EXIT_NO_DUMP,
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
        'exists() { [ "$(%s --dbname=%s -v name="$1" <<< "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = :\'name\'")" = 1 ]; }'
        % (psql, MAINTENANCE_DATABASE),
        'drop() { %s --dbname=%s -v name="$1" <<< \'DROP DATABASE IF EXISTS :"name" WITH (FORCE)\' >/dev/null; }' % (psql, MAINTENANCE_DATABASE),
        # Every database is checked before anything is touched.
        "while read -r part hex; do",
        '  name="$(name_of "$hex")"; file="$(file_of "$part")"',
        '  if [ ! -e "$file" ]; then echo "appsnap: the dump of database \\"$name\\" is missing at $file" >&2; exit %d; fi' % EXIT_NO_DUMP,
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
        % (shlex.quote(_KEEP_OWN_PASSWORD[0]), shlex.quote(_KEEP_OWN_PASSWORD[1])),
        "    | PGOPTIONS='-c log_min_error_statement=panic' psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=terse --dbname=%s >/dev/null"
        % MAINTENANCE_DATABASE,
        "fi",
        "while read -r part hex; do",
        '  name="$(name_of "$hex")"; file="$(file_of "$part")"',
        '  existed=0; if exists "$name"; then existed=1; drop "$name"; fi',
        "  if ! %s; then" % _restore_command(format, jobs),
        '    drop "$name"',
        '    if [ "$existed" = 1 ]; then %s --dbname=%s -v name="$name" <<< \'CREATE DATABASE :"name"\' >/dev/null; fi' % (psql, MAINTENANCE_DATABASE),
        '    echo "appsnap: replaying $file into database \\"$name\\" failed; nothing of it was kept" >&2; exit %d' % EXIT_REPLAY_FAILED,
        "  fi",
        '  echo "appsnap: replayed $file into database \\"$name\\"" >&2',
    ]
    if report:
        lines.append('  PGDATABASE="$name" %s -c %s' % (psql, shlex.quote(REPLAY_REPORT_SQL)))
    lines.append('done <<< "$entries"')
    return "\n".join(lines)


def pg_replay_hook(
    database, path="/backup/backup.sql", format="plain", jobs=1, ready_timeout=300, exec_timeout="30m", wait_timeout="10m", on_error="Fail", container=None,
    **connection
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
    return _hook(pg_replay_command(database, path, format, jobs, ready_timeout=ready_timeout), timing, container, connection)
