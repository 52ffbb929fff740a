# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the PostgreSQL scripts share: the checks, the layout of a dump in the volume, the connection, the SQL texts.

The dump script is built in pg_dump.py, the replay script in pg_replay.py;
the SQL they and the roles run, the checks of their options, how a pod's
credentials are read and how a hook is put together live here, once. Every
value is shell-quoted; credentials never leave the container: the scripts
read them from its environment at run time.

What a dump holds (the layout in the backup volume, beside ``path``):

- ``globals.sql``: the server's roles, memberships, password hashes and role
  settings (``pg_dumpall --globals-only``), rewritten so that a role that
  already exists is altered to the dumped attributes instead of failing;
- one database: its dump at ``path`` (``/backup/backup.sql`` by default);
- several databases, or ``all``: ``<stem>.<name><ext>`` per database
  (``backup.shop.sql``; a name outside ``[A-Za-z0-9_]`` is written as ``x-``
  and its UTF-8 bytes in hex);
- the index ``<stem>.databases``: the databases the dump holds, one line each
  (written for one database too), from which a replay of ``auto`` learns what
  to replay;
- the ``plain-compressed`` format adds the compressor's suffix to each dump
  file (``backup.sql.zst`` or ``backup.sql.gz``): see "The formats" below.

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
    validate_env_name,
)

PG_DUMP_FORMATS = ("plain", "plain-compressed", "custom", "directory")
# Where a dump goes unless told: the tutorial's /backup/backup.sql, the file in the backup volume's mount path.
DEFAULT_MOUNT_PATH = "/backup"
DEFAULT_DUMP_FILE = "backup.sql"
DEFAULT_DUMP_PATH = posixpath.join(DEFAULT_MOUNT_PATH, DEFAULT_DUMP_FILE)
# A default named after its format, for a playbook that wants one (site.yml): a directory is not called backup.sql.
FORMAT_DUMP_FILES = {"custom": "backup.dump", "directory": "backup.dir"}
# The replay's default for the databases and the format: what the dump holds, read from its index and from each file.
AUTO = "auto"
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
EXIT_NOT_VERIFIED = 6
EXIT_NO_DECOMPRESSOR = 7
EXIT_NO_MANIFEST = 8

# The application's tables: neither the catalogs nor a session's temporary tables (which no other session can read).
USER_TABLES_WHERE = "schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname !~ '^pg_temp_'"
USER_TABLES_SQL = "SELECT count(*) FROM pg_catalog.pg_tables WHERE " + USER_TABLES_WHERE


def tables_json_sql(md5_when="true"):
    """SQL for one JSON object of the user tables and their rows: ``{"public.t": {"rows": 3, "md5": "..."}}``.

    ``md5`` is an md5 over the table's rows in a stable order, computed only
    where the SQL condition ``md5_when`` holds (else null): the checksums the
    pg_data role compares, and what a manifest with ``checksums`` records.
    """
    table = "format('%I.%I', schemaname, tablename)"
    rows = "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text::bigint"
    md5 = (
        "(xpath('/row/m/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, E''\\n'' ORDER BY t::text), '''')) AS m "
        "FROM %I.%I t', schemaname, tablename), false, true, '')))[1]::text"
    )
    return (
        "SELECT coalesce(json_object_agg(" + table + ", json_build_object('rows', " + rows + ", 'md5', CASE WHEN " + md5_when + " THEN " + md5
        + " END)), '{}') FROM pg_catalog.pg_tables WHERE " + USER_TABLES_WHERE
    )


# The databases "all" means: every one that takes connections and is no template.
ALL_DATABASES_WHERE = "datallowconn AND NOT datistemplate"
# Every database a dump of "all" covers: (file name part, hex of the name) per line, so any name survives the shell.
ALL_DATABASES_SQL = (
    "SELECT CASE WHEN datname ~ '^[A-Za-z0-9_]+$' THEN datname ELSE 'x-' || encode(convert_to(datname, 'UTF8'), 'hex') END, "
    "encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_catalog.pg_database WHERE %s ORDER BY datname" % ALL_DATABASES_WHERE
)
_SAFE_PART = re.compile(r"^[A-Za-z0-9_]+$")
# pg_dumpall writes CREATE ROLE then ALTER ROLE ... WITH <every attribute>, so that the ALTER sets the dumped
# attributes even where the CREATE fails. The rewrite turns that expected failure into nothing, so the globals
# replay with ON_ERROR_STOP and stop on any real error. A name holding '$' is left as it is.
IDEMPOTENT_ROLES_SED = r"s/^CREATE ROLE ([^$]+);$/DO $appsnap$ BEGIN CREATE ROLE \1; EXCEPTION WHEN duplicate_object THEN NULL; END $appsnap$;/"
# The replaying role keeps its own password: the target's credentials belong to the target's Secret.
KEEP_OWN_PASSWORD_SQL = (
    "CREATE TEMP TABLE appsnap_own AS SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = current_user;",
    "DO $appsnap$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', current_user, (SELECT rolpassword FROM appsnap_own)); END $appsnap$;",
)
STRICT_SH = "set -o errexit -o nounset -o pipefail"
_CONNECTION_DEFAULTS = {"user_env": "POSTGRES_USER", "password_env": "POSTGRES_PASSWORD", "host": "127.0.0.1", "port": 5432}


# ---------------------------------------------------------------------------
# Checks, each in one place
# ---------------------------------------------------------------------------


def check_format_jobs(format, jobs, tool):
    """``tool`` is "dump" or "restore": pg_dump runs in parallel only into a directory, pg_restore from any archive.

    The replay also takes ``auto``: each file's format is read from the file, and ``jobs`` applies to the archives.
    """
    choices = PG_DUMP_FORMATS + ((AUTO,) if tool == "restore" else ())
    if format not in choices:
        raise InputError("format must be one of %s, got %r." % (", ".join(choices), format))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError("jobs must be a positive integer, got %r." % (jobs,))
    allowed = PARALLEL_FORMATS[tool]
    if jobs > 1 and format not in allowed + (AUTO,):
        raise InputError(
            "jobs > 1 needs format %s; pg_%s runs in parallel only with %s. Set format: directory or jobs: 1."
            % (" or ".join(repr(f) for f in allowed), tool, " or ".join(allowed))
        )
    return format, jobs


# ---------------------------------------------------------------------------
# The formats: what pg_dump writes, and what replays it
# ---------------------------------------------------------------------------

# plain-compressed: pg_dump's plain SQL, compressed by pg_dump itself and replayed by psql through a decompressing
# pipe. The compressor is chosen in the pod when the dump runs: zstd where pg_dump can write it (PostgreSQL 16+) and
# the container has the zstd program to read it back (the official images have it), gzip (level 1: as fast as no
# compression, nearly as small as level 6 on table data) everywhere else. The file's suffix says which.
COMPRESSED_FORMAT = "plain-compressed"
COMPRESSORS = ((".zst", "zstd -dc"), (".gz", "gzip -dc"))
# What the replay reads, and through what: a plain dump at the bare path too (what the format plain writes).
READERS = COMPRESSORS + (("", "cat"),)
_CHOOSE_COMPRESSOR_SH = (
    'major="$(pg_dump --version | sed -E \'s/^[^0-9]*([0-9]+).*$/\\1/\')"',
    'if [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 16 ] && command -v zstd >/dev/null; then compress=--compress=zstd; ext=.zst;'
    " else compress=--compress=1; ext=.gz; fi",
)


def pg_dump_format(format):
    """The value of pg_dump's --format for one of PG_DUMP_FORMATS."""
    return "plain" if format == COMPRESSED_FORMAT else format


def compressor_script(format):
    """Dump side: shell lines that set ``compress`` (pg_dump's option) and ``ext`` (the suffix); none for other formats."""
    return list(_CHOOSE_COMPRESSOR_SH) if format == COMPRESSED_FORMAT else []


def compress_option(format):
    """What the dump's pg_dump command line gets for the compressor chosen in the pod."""
    return ' "$compress"' if format == COMPRESSED_FORMAT else ""


def readable_script(format):
    """Replay side: shell lines that fail, before anything is touched, when ``$file`` needs a decompressor the container lacks."""
    if format not in (COMPRESSED_FORMAT, AUTO):
        return []
    return [
        '  if [[ "$file" == *.zst ]] && ! command -v zstd >/dev/null; then echo "appsnap: $file is compressed with zstd and this container'
        " has no zstd program to read it; add the zstd package to the image (the official postgres images have it), or dump with format"
        ' plain-compressed from a container without zstd (gzip), or plain. Nothing was replayed." >&2; exit %d; fi' % EXIT_NO_DECOMPRESSOR,
    ]


def replay_command(format, jobs):
    """Recreate one database from its ``--create`` dump in ``$file``, connected to the maintenance database."""
    psql = "psql -X -q -v ON_ERROR_STOP=1 --dbname=%s" % MAINTENANCE_DATABASE
    if format == "plain":
        return '%s --file="$file" >/dev/null' % psql
    if format == COMPRESSED_FORMAT:
        # Streamed: the SQL is never written out; pipefail makes a failing decompressor fail the replay too.
        cases = " ".join('*%s) %s -- "$file" ;;' % (suffix, command) for suffix, command in READERS)
        return '{ case "$file" in %s esac; } | %s >/dev/null' % (cases, psql)
    mode = " --jobs=%d" % jobs if jobs > 1 else ""
    restore = 'pg_restore --create --exit-on-error%s --dbname=%s "$file"' % (mode, MAINTENANCE_DATABASE)
    if format == AUTO:
        # What pg_dump wrote says its format: a directory, an archive (custom, starting with PGDMP), else SQL.
        return '{ if [ -d "$file" ] || [ "$(head -c 5 -- "$file" | tr -d \'\\000\')" = PGDMP ]; then %s; else %s; fi; }' % (
            restore, replay_command(COMPRESSED_FORMAT, jobs))
    return restore


def check_name(database, what="database"):
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
    names = [check_name(name, "database name") for name in databases]
    templates = [n for n in names if n in ("template0", "template1")]
    if templates:
        raise InputError("%s is a template database; dump the databases made from it instead." % templates[0])
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise InputError("databases lists %s more than once; name each database once." % ", ".join(repr(n) for n in twice))
    return names


def _check_path(path):
    if not isinstance(path, str) or not path.startswith("/") or path.endswith("/") or "\x00" in path:
        raise InputError("path must be an absolute file path such as %r, got %r." % (DEFAULT_DUMP_PATH, path))
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


def check_seconds(value, what):
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
    """Where a dump of ``databases`` at ``path`` (empty: DEFAULT_DUMP_PATH) puts its files; see the module docstring."""
    path = _check_path(path or DEFAULT_DUMP_PATH)
    auto = databases == AUTO
    names = None if auto else check_databases(databases)
    directory, base = posixpath.split(path)
    stem, dot, ext = base.partition(".")
    return {
        "auto": auto,
        "directory": directory,
        "globals": posixpath.join(directory, GLOBALS_FILE),
        "single": names is not None and len(names) == 1,
        "names": names,
        "index": posixpath.join(directory, stem + ".databases"),
        "manifest": posixpath.join(directory, stem + ".manifest.json"),
        "pattern": (posixpath.join(directory, stem + "."), dot + ext),
        "path": path,
    }


def dump_files(path="", format=None):
    """The files a dump at ``path`` writes besides its databases', for the roles' checks in Jinja.

    An empty ``path`` is DEFAULT_DUMP_PATH or, given ``format``, the default file named after that format.
    """
    if not path and format is not None:
        check_format_jobs(format, 1, "dump")
        path = posixpath.join(DEFAULT_MOUNT_PATH, FORMAT_DUMP_FILES.get(format, DEFAULT_DUMP_FILE))
    where = layout(path, ALL_DATABASES)
    return dict((key, where[key]) for key in ("path", "directory", "globals", "index", "manifest"))


def entries_script(where):
    """Shell lines that set ``entries`` to the 'part hex' lines of the databases to dump."""
    if where["names"] is None:
        return 'entries="$(psql -X -At -F " " -v ON_ERROR_STOP=1 --dbname=%s -c %s)"' % (MAINTENANCE_DATABASE, shlex.quote(ALL_DATABASES_SQL))
    lines = ["%s %s" % (file_part(n), binascii.hexlify(n.encode("utf-8")).decode("ascii")) for n in where["names"]]
    return "entries=%s" % shlex.quote("\n".join(lines))


def _base_sh(where):
    """Shell text for a database's dump file without a compressor's suffix; in a function, ``$1`` is the database's part."""
    if where["single"]:
        return shlex.quote(where["path"])
    prefix, suffix = where["pattern"]
    return '%s"$1"%s' % (shlex.quote(prefix), shlex.quote(suffix))


def file_of_script(where, format="plain", reading=False):
    """A shell function ``file_of PART`` that prints the dump file of a database.

    For plain-compressed, the dump writes the name with ``$ext``, the compressor's suffix chosen in the pod; the
    replay (``reading``) takes whichever of ``.zst``, ``.gz`` and the bare name (a plain dump) is there, the newest
    if several are (a dump left by another image or format). The replay of format ``auto`` probes the same names.
    The replay of what the dump holds (databases ``auto``) also looks at ``path``: the index does not say whether
    the dump was of one database (its file is ``path``) or of several (``<stem>.<part>``); each dump removes the
    other kind's files (see stale_siblings_script), so the newest is the last dump's in any case.
    """
    base = _base_sh(where)
    probes = reading and (format in (COMPRESSED_FORMAT, AUTO) or where["auto"])
    if not probes:
        return "file_of() { printf '%%s' %s%s; }" % (base, '"$ext"' if format == COMPRESSED_FORMAT else "")
    bases = '"$base"' + (" " + shlex.quote(where["path"]) if where["auto"] else "")
    suffixes = [suffix for suffix, _command in READERS] if format in (COMPRESSED_FORMAT, AUTO) else [""]
    # What a message names when nothing is there: for plain-compressed both compressed names.
    missing = " or $base".join(s for s, _c in COMPRESSORS) if format == COMPRESSED_FORMAT and not where["auto"] else ""
    return (
        'file_of() { local base=%s found="" b s; for b in %s; do for s in %s; do if [ -e "$b$s" ] && { [ -z "$found" ] || [ "$b$s" -nt "$found" ]; };'
        ' then found="$b$s"; fi; done; done; printf \'%%s\' "${found:-$base%s}"; }'
        % (base, bases, " ".join(shlex.quote(suffix) for suffix in suffixes), missing)
    )


def stale_siblings_script(where):
    """Dump side: a shell function ``drop_stale PART [KEPT]`` that removes a database's dump files other than KEPT.

    A database's dump is the bare name (plain, custom, directory) or the name with a compressor's suffix
    (plain-compressed); a dump in one of them leaves the others from an earlier format or image stale. Removed only
    after the new dump is published, so that a replay that still asks for the old format finds no dump, and says so,
    rather than replaying old data.

    ``drop_other [PART]`` removes the other kind's files: a dump of one database removes the per-database files
    ``<stem>.<PART>`` of an earlier dump of several, a dump of several removes the file at ``path`` of an earlier dump
    of one; so that a replay of what the dump holds finds the last dump's files only.
    """
    other = dict(where, single=not where["single"])
    suffixes = " ".join(shlex.quote(suffix) for suffix, _command in READERS)
    drop = '%s() { local base=%s s; for s in %s; do if [ "$base$s" != "${2:-}" ]%s; then rm -rf -- "$base$s"; fi; done; }'
    # A path without an extension could name another database's file (/backup/dump.gz of a database "gz"): the files
    # this dump published ($kept, one per line) are never the other kind's.
    keep = ' && ! grep -qxF -- "$base$s" <<< "${kept:-}"'
    return "\n".join([drop % ("drop_stale", _base_sh(where), suffixes, ""), drop % ("drop_other", _base_sh(other), suffixes, keep)])


NAME_OF_SH = "name_of() { printf '%b' \"$(printf '%s' \"$1\" | sed 's/../\\\\x&/g')\"; }"


# ---------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------


# The official image's convention: the value of VAR, else the content of the file VAR_FILE names, else a default.
_FROM_ENV = (
    'appsnap_env() { local file="$1_FILE"; if [ -n "${!1:-}" ]; then printf \'%s\' "${!1}"; '
    'elif [ -n "${!file:-}" ]; then cat -- "${!file}"; else printf \'%s\' "${2:-}"; fi; }'
)


def pg_exports(user_env, password_env, host, port):
    """Shell lines that export libpq's PG* variables, the user and password read in the pod from the container's environment.

    ``<name>`` or the file ``<name>_FILE`` names, as the official image reads them; the user defaults to postgres.
    """
    validate_env_name(user_env, "user_env")
    validate_env_name(password_env, "password_env")
    return "\n".join([
        _FROM_ENV,
        'PGUSER="$(appsnap_env %s postgres)"; PGPASSWORD="$(appsnap_env %s)"' % (user_env, password_env),
        'if [ -z "$PGPASSWORD" ]; then echo "appsnap: %s (or %s_FILE) is not set in the container" >&2; exit 1; fi' % (password_env, password_env),
        "export PGUSER PGPASSWORD PGHOST=%s PGPORT=%d" % (shlex.quote(_check_host(host)), _check_port(port)),
    ])


def pg_shell(script, user_env="POSTGRES_USER", password_env="POSTGRES_PASSWORD", host="127.0.0.1", port=5432):
    """A ``bash -c`` command line that runs ``script`` with libpq's PG* variables taken from the container.

    Meant for kubernetes.core.k8s_exec, whose command is split with shlex:
    only variable names leave the controller, never the credentials.
    """
    if not isinstance(script, str) or not script.strip():
        raise InputError("script must be a non-empty shell command, got %r." % (script,))
    return "bash -c " + shlex.quote(pg_exports(user_env, password_env, host, port) + "; " + script)


# The queries the roles run by name, so their SQL lives here only.
NAMED_QUERIES = {"checksums": tables_json_sql(), "user_tables": USER_TABLES_SQL}


def pg_query(database, sql):
    """A psql command line that prints the unaligned result of ``sql`` (or of a query in NAMED_QUERIES) in ``database``."""
    if not isinstance(sql, str) or not sql.strip():
        raise InputError("sql must be a SQL statement or one of %s, got %r." % (", ".join(sorted(NAMED_QUERIES)), sql))
    return "psql -X -At -v ON_ERROR_STOP=1 --dbname=%s -c %s" % (shlex.quote(check_name(database)), shlex.quote(NAMED_QUERIES.get(sql, sql)))


def exec_hook(script, timing, container, connection):
    """A Velero exec hook dict: ``script`` after the PG* exports, the hook's timing keys, and its container when given."""
    unknown = sorted(set(connection) - set(_CONNECTION_DEFAULTS))
    if unknown:
        raise InputError("unknown option(s) %s; the connection options are %s." % (", ".join(unknown), ", ".join(_CONNECTION_DEFAULTS)))
    settings = dict(_CONNECTION_DEFAULTS, **connection)
    exports = pg_exports(settings["user_env"], settings["password_env"], settings["host"], settings["port"])
    hook = dict(timing, command=["/bin/bash", "-c", exports + "\n" + script])
    if container is not None:
        hook["container"] = validate_dns1123_label(container, "container")
    return hook
