# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the generated pg_dump hook command against a real PostgreSQL server.

The server is Debian's PostgreSQL 15, started on 127.0.0.1 by this test.
The hook's argv is executed exactly as Velero would exec it in the pod.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils import hooks

PG_BIN = "/usr/lib/postgresql/15/bin"
USER = "appuser"
PASSWORD = "Pw-'quoted\"$x"


def _require_postgres():
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        if os.environ.get("APPSNAP_REQUIRE_LAB") == "1":
            pytest.fail("PostgreSQL 15 server binaries missing at %s; tests/run installs postgresql-15." % PG_BIN)
        pytest.skip("PostgreSQL 15 server binaries missing at %s" % PG_BIN)


def _as_postgres(argv, **kwargs):
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    _require_postgres()
    root = tempfile.mkdtemp(prefix="appsnap-pg-")
    os.chmod(root, 0o777)
    data = os.path.join(root, "data")
    pwfile = os.path.join(root, "pw")
    with open(pwfile, "w") as handle:
        handle.write(PASSWORD)
    os.chmod(pwfile, 0o644)
    port = _free_port()
    _as_postgres([PG_BIN + "/initdb", "-D", data, "-U", USER, "--pwfile", pwfile, "--auth=scram-sha-256"])
    log = os.path.join(root, "server.log")
    _as_postgres([PG_BIN + "/pg_ctl", "-D", data, "-l", log, "-w", "-o", "-h 127.0.0.1 -p %d -k %s" % (port, root), "start"])
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGHOST="127.0.0.1", PGPORT=str(port), PGUSER=USER)

    def psql(sql, db="postgres"):
        return subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", db, "-c", sql], env=env, check=True, capture_output=True, text=True).stdout

    psql("CREATE DATABASE shop")
    psql("CREATE TABLE orders (id int primary key, note text); INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 500) g", db="shop")
    yield {"root": root, "port": port, "psql": psql}
    _as_postgres([PG_BIN + "/pg_ctl", "-D", data, "-m", "immediate", "stop"])
    shutil.rmtree(root, ignore_errors=True)


def run_hook(hook, password=PASSWORD, wait=True):
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_USER": USER, "POSTGRES_PASSWORD": password}
    proc = subprocess.Popen(hook["command"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def leftovers(directory, target):
    return sorted(n for n in os.listdir(directory) if n != os.path.basename(target))


def test_plain_dump_then_failed_dump_keeps_the_good_one(server):
    target = os.path.join(server["root"], "backup", "backup.sql")
    os.makedirs(os.path.dirname(target))
    hook = hooks.pg_dump_hook("shop", path=target, port=server["port"])
    rc, _out, err = run_hook(hook)
    assert rc == 0, err
    with open(target) as handle:
        good = handle.read()
    assert "COPY public.orders (id, note) FROM stdin;" in good and "\n500\tn500\n" in good
    good_mtime = os.stat(target).st_mtime_ns

    rc, _out, err = run_hook(hook, password="wrong")
    assert rc != 0
    assert "password authentication failed" in err
    with open(target) as handle:
        assert handle.read() == good
    assert os.stat(target).st_mtime_ns == good_mtime
    assert leftovers(os.path.dirname(target), target) == []


def test_missing_credentials_variable_fails_clearly(server):
    target = os.path.join(server["root"], "nocreds.sql")
    hook = hooks.pg_dump_hook("shop", path=target, port=server["port"], password_env="DB_SECRET")
    rc, _out, err = run_hook(hook)
    assert rc != 0
    assert "DB_SECRET is not set in the container" in err
    assert not os.path.exists(target)


def test_slow_dump_never_exposes_a_partial_file(server):
    """Velero's hook timeout leaves the process running: the old dump must stay until the new one is whole."""
    target = os.path.join(server["root"], "slow.sql")
    with open(target, "w") as handle:
        handle.write("previous good dump\n")
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGHOST="127.0.0.1", PGPORT=str(server["port"]), PGUSER=USER)
    locker = subprocess.Popen(
        ["psql", "-X", "-d", "shop", "-c", "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    proc = run_hook(hooks.pg_dump_hook("shop", path=target, port=server["port"]), wait=False)
    time.sleep(1.0)
    assert proc.poll() is None, "pg_dump should be blocked by the lock"
    with open(target) as handle:
        assert handle.read() == "previous good dump\n"
    locker.wait(timeout=30)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with open(target) as handle:
        assert "COPY public.orders" in handle.read()
    assert [n for n in os.listdir(server["root"]) if n.startswith("slow.sql.")] == []


@pytest.mark.parametrize("fmt,jobs", [("custom", 1), ("directory", 2)])
def test_custom_and_directory_formats_restore_listable(server, fmt, jobs):
    target = os.path.join(server["root"], "dump-" + fmt)
    hook = hooks.pg_dump_hook("shop", path=target, port=server["port"], format=fmt, jobs=jobs)
    for _attempt in range(2):  # the second run replaces an existing dump, directory included
        rc, _out, err = run_hook(hook)
        assert rc == 0, err
    listing = subprocess.run(["pg_restore", "--list", target], check=True, capture_output=True, text=True).stdout
    assert "TABLE DATA public orders" in listing
    assert [n for n in os.listdir(server["root"]) if n.startswith("dump-%s." % fmt)] == []


# -- the post-restore replay hook, run as Velero would exec it in the restored pod --


@pytest.mark.parametrize("fmt,jobs", [("plain", 1), ("custom", 1), ("directory", 2)])
def test_replay_hook_replays_each_format_then_refuses_a_second_replay(server, fmt, jobs):
    dump = os.path.join(server["root"], "replay-" + fmt)
    rc, _out, err = run_hook(hooks.pg_dump_hook("shop", path=dump, port=server["port"], format=fmt, jobs=jobs if fmt == "directory" else 1))
    assert rc == 0, err
    database = "replay_%s" % fmt
    server["psql"]("CREATE DATABASE %s" % database)
    hook = hooks.pg_replay_hook(database, path=dump, port=server["port"], format=fmt, jobs=jobs)
    rc, out, err = run_hook(hook)
    assert rc == 0, err
    assert "appsnap: replayed" in out
    assert server["psql"]("SELECT count(*), sum(id), max(note) FROM orders", db=database).strip() == "500|125250|n99"

    server["psql"]("INSERT INTO orders VALUES (501, 'after the restore')", db=database)
    rc, _out, err = run_hook(hook)
    assert rc == 4
    assert "already holds 1 user table(s)" in err and "pg_replay_clean=true" in err
    assert server["psql"]("SELECT count(*) FROM orders", db=database).strip() == "501"


def test_replay_hook_without_a_dump_says_so(server):
    server["psql"]("CREATE DATABASE replay_missing")
    rc, _out, err = run_hook(hooks.pg_replay_hook("replay_missing", path=os.path.join(server["root"], "absent.sql"), port=server["port"]))
    assert rc == 2
    assert "no dump at" in err and "backup volume restored" in err


def test_replay_hook_gives_up_when_postgres_never_answers(server):
    target = os.path.join(server["root"], "unused.sql")
    with open(target, "w") as handle:
        handle.write("SELECT 1;\n")
    start = time.monotonic()
    rc, _out, err = run_hook(hooks.pg_replay_hook("shop", path=target, port=_free_port(), ready_timeout=2))
    assert rc == 3
    assert "did not accept connections within 2s" in err
    assert time.monotonic() - start < 15


def test_replay_hook_failure_leaves_nothing_half_applied(server):
    broken = os.path.join(server["root"], "broken.sql")
    rc, _out, err = run_hook(hooks.pg_dump_hook("shop", path=broken, port=server["port"]))
    assert rc == 0, err
    with open(broken, "a") as handle:
        handle.write("SELECT 1/0;\n")
    server["psql"]("CREATE DATABASE replay_broken")
    rc, _out, err = run_hook(hooks.pg_replay_hook("replay_broken", path=broken, port=server["port"]))
    assert rc != 0
    assert "division by zero" in err
    assert server["psql"]("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'", db="replay_broken").strip() == "0"
