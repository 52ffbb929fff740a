# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the generated dump and replay scripts against real PostgreSQL servers.

The servers are Debian's PostgreSQL 15, started on 127.0.0.1 by this test:
a source with an application's roles and databases, and for each replay a
fresh target, as a restored pod starts from a fresh initdb. The hooks' argv
is executed exactly as Velero would exec it in the pod; the role's replay is
the same script.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import json
import os
import shlex
import subprocess
import sys
import time

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands as pg_commands
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import replay as pg_replay

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pg_state  # noqa: E402  pylint: disable=wrong-import-position

from pg_local import PASSWORD, PG_BIN, USER, Server, free_port  # noqa: E402  pylint: disable=wrong-import-position


def _require_postgres():
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        if os.environ.get("APPSNAP_REQUIRE_LAB") == "1":
            pytest.fail("PostgreSQL 15 server binaries missing at %s; tests/run installs postgresql-15." % PG_BIN)
        pytest.skip("PostgreSQL 15 server binaries missing at %s" % PG_BIN)


@pytest.fixture(scope="module")
def server():
    _require_postgres()
    source = Server()
    pg_state.seed_application(source.psql)
    yield source
    source.stop()


@pytest.fixture
def target():
    """A fresh server, as a restored pod starts, with a superuser password of its own."""
    _require_postgres()
    fresh = Server(password="target-" + PASSWORD)
    yield fresh
    fresh.stop()


def run_hook(hook, password=PASSWORD, wait=True):
    env = {"PATH": "/usr/bin:/bin:" + PG_BIN, "POSTGRES_USER": USER, "POSTGRES_PASSWORD": password}
    proc = subprocess.Popen(hook["command"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def dump(server, path, databases="postgres", **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rc, out, err = run_hook(pg_dump.pg_dump_hook(databases, path=path, port=server.port, **kwargs))
    assert rc == 0, err
    return out, err


def replay(target, path, databases="postgres", **kwargs):
    return run_hook(pg_replay.pg_replay_hook(databases, path=path, port=target.port, **kwargs), password=target.password)


def hold_lock(server, seconds):
    """Another session takes ACCESS EXCLUSIVE on public.orders and keeps it ``seconds``; returns its psql process."""
    locker = subprocess.Popen(
        ["psql", "-X", "-d", "postgres", "-c", "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%d); COMMIT;" % seconds],
        env=server.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return locker


def timed(hook):
    """Run ``hook``; return its exit code, standard error and seconds taken."""
    start = time.monotonic()
    rc, _out, err = run_hook(hook)
    return rc, err, time.monotonic() - start


def files_in(directory):
    return sorted(os.listdir(directory))


def test_plain_dump_writes_globals_and_a_create_dump_and_a_failed_dump_keeps_both(server):
    target = os.path.join(server.root, "backup", "backup.sql")
    dump(server, target)
    with open(target) as handle:
        good = handle.read()
    assert "CREATE DATABASE postgres" in good and "COPY public.orders (id, note) FROM stdin;" in good and "\n500\tn500\n" in good
    assert "ALTER TABLE public.orders OWNER TO shop_app;" in good
    globals_sql = os.path.join(os.path.dirname(target), "globals.sql")
    with open(globals_sql) as handle:
        roles = handle.read()
    assert "DO $appsnap$ BEGIN CREATE ROLE shop_app; EXCEPTION WHEN duplicate_object THEN NULL; END $appsnap$;" in roles
    assert "SCRAM-SHA-256$" in roles  # the password hashes stay in the volume, never in output
    stamps = (os.stat(target).st_mtime_ns, os.stat(globals_sql).st_mtime_ns)

    rc, _out, err = run_hook(pg_dump.pg_dump_hook("postgres", path=target, port=server.port), password="wrong")
    assert rc != 0
    assert "password authentication failed" in err
    with open(target) as handle:
        assert handle.read() == good
    assert (os.stat(target).st_mtime_ns, os.stat(globals_sql).st_mtime_ns) == stamps
    assert files_in(os.path.dirname(target)) == ["backup.databases", "backup.manifest.json", "backup.sql", "globals.sql"]


def test_missing_credentials_variable_fails_clearly(server):
    target = os.path.join(server.root, "nocreds", "dump.sql")
    os.makedirs(os.path.dirname(target))
    rc, _out, err = run_hook(pg_dump.pg_dump_hook("shop", path=target, port=server.port, password_env="DB_SECRET"))
    assert rc != 0
    assert "DB_SECRET (or DB_SECRET_FILE) is not set in the container" in err
    assert files_in(os.path.dirname(target)) == []


def test_credentials_from_files_as_the_official_image_reads_them(server):
    """POSTGRES_PASSWORD_FILE (and POSTGRES_USER_FILE) alone are enough, with no extra variable."""
    target = os.path.join(server.root, "fromfile", "dump.sql")
    secret = os.path.join(server.root, "secret-password")
    user = os.path.join(server.root, "secret-user")
    for path, value in ((secret, PASSWORD + "\n"), (user, USER)):
        with open(path, "w") as handle:
            handle.write(value)
    os.makedirs(os.path.dirname(target))
    hook = pg_dump.pg_dump_hook("shop", path=target, port=server.port)
    env = {"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD_FILE": secret, "POSTGRES_USER_FILE": user}
    proc = subprocess.run(hook["command"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    with open(target) as handle:
        assert "CREATE DATABASE shop" in handle.read()


@pytest.mark.parametrize("verify", ["none", "counts"])
def test_a_lock_makes_the_dump_give_up_within_the_lock_wait_timeout_and_keeps_the_last_dump(server, verify):
    target = os.path.join(server.root, "locked-" + verify, "backup.sql")
    dump(server, target, verify=verify)
    with open(target) as handle:
        good = handle.read()
    locker = hold_lock(server, 8)
    try:
        rc, err, took = timed(pg_dump.pg_dump_hook("postgres", path=target, port=server.port, lock_wait_timeout="2s", verify=verify))
    finally:
        locker.wait(timeout=30)
    if verify == "none":
        # pg_dump's own message: its LOCK TABLE was cancelled by the timeout.
        assert rc != 0 and "canceling statement due to statement timeout" in err and "LOCK TABLE public.orders" in err, err
    else:
        # The manifest's count, in the snapshot pg_dump would use, waits no longer than pg_dump would.
        assert rc != 0 and "canceling statement due to lock timeout" in err and "public.orders" in err, err
        assert 'could not take a snapshot of database "postgres" to record its manifest' in err, err
    assert took < 6, "pg_dump waited %.1fs for the lock; the timeout is 2s" % took
    with open(target) as handle:
        assert handle.read() == good
    expected = ["backup.databases", "backup.sql", "globals.sql"] + ([] if verify == "none" else ["backup.manifest.json"])
    expected.sort()
    assert files_in(os.path.dirname(target)) == expected


def test_a_dump_past_its_deadline_is_killed_with_its_children_and_keeps_the_last_dump(server):
    """Velero lets a timed-out hook run on: the dump must end itself, and leave no pg_dump behind."""
    target = os.path.join(server.root, "deadline", "backup.dir")
    dump(server, target, format="directory", jobs=2)
    before = files_in(target)
    locker = hold_lock(server, 12)
    try:
        # A 5s hook: the dump gets 4s, and pg_dump would wait 60s for the lock.
        hook = pg_dump.pg_dump_hook("postgres", path=target, port=server.port, format="directory", jobs=2, timeout="5s", lock_wait_timeout="60s")
        rc, err, took = timed(hook)
        # Any process still writing into this dump's staging directory (pg_dump and its --jobs workers).
        left = subprocess.run(["pgrep", "-f", os.path.dirname(target) + "/.appsnap-dump"], capture_output=True, text=True, check=False).stdout.split()
    finally:
        locker.wait(timeout=30)
    assert rc != 0 and "did not finish within 4s" in err and "raise the hook timeout" in err, err
    assert took < 5, "the dump ran %.1fs past a 5s hook timeout" % took
    assert left == [], "pg_dump processes left behind: %s" % left
    assert files_in(target) == before
    assert files_in(os.path.dirname(target)) == ["backup.databases", "backup.dir", "backup.manifest.json", "globals.sql"]


def test_too_little_space_fails_before_writing(server):
    """A 16 KiB tmpfs cannot hold a dump of databases that hold several MiB: a clear failure, nothing written.

    Without the check, the dump runs out of space half-way; nothing is published either.
    """
    mount = os.path.join(server.root, "tiny")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mount], check=True)
    try:
        rc, _out, err = run_hook(pg_dump.pg_dump_hook("all", path=os.path.join(mount, "backup.sql"), port=server.port))
        assert rc != 0
        assert "MiB free; grow the backup volume, or dump fewer databases. Nothing was written." in err, err
        assert files_in(mount) == []
        rc, _out, err = run_hook(pg_dump.pg_dump_hook("all", path=os.path.join(mount, "backup.sql"), port=server.port, space_check=False))
        assert rc != 0 and "No space left on device" in err
        assert files_in(mount) == []
    finally:
        subprocess.run(["umount", mount], check=True)


def test_slow_dump_never_exposes_a_partial_file(server):
    """Velero's hook timeout leaves the process running: the old dump must stay until the new one is whole."""
    target = os.path.join(server.root, "slow", "slow.sql")
    os.makedirs(os.path.dirname(target))
    with open(target, "w") as handle:
        handle.write("previous good dump\n")
    locker = hold_lock(server, 3)
    proc = run_hook(pg_dump.pg_dump_hook("postgres", path=target, port=server.port), wait=False)
    time.sleep(1.0)
    assert proc.poll() is None, "pg_dump should be blocked by the lock"
    with open(target) as handle:
        assert handle.read() == "previous good dump\n"
    locker.wait(timeout=30)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with open(target) as handle:
        assert "COPY public.orders" in handle.read()
    assert files_in(os.path.dirname(target)) == ["globals.sql", "slow.databases", "slow.manifest.json", "slow.sql"]


@pytest.mark.parametrize("fmt,jobs", [("custom", 1), ("directory", 2)])
def test_custom_and_directory_formats_carry_the_database_entry(server, fmt, jobs):
    target = os.path.join(server.root, "dump-" + fmt, "backup." + fmt)
    for _attempt in range(2):  # the second run replaces an existing dump, directory included
        dump(server, target, "shop", format=fmt, jobs=jobs)
    listing = subprocess.run(["pg_restore", "--list", "--create", target], check=True, capture_output=True, text=True).stdout
    assert "TABLE DATA app orders" in listing and " DATABASE - shop " in listing
    assert files_in(os.path.dirname(target)) == sorted(["backup." + fmt, "backup.databases", "backup.manifest.json", "globals.sql"])


# -- the replay, run as Velero would exec the post-restore hook in the restored pod --


@pytest.mark.parametrize("fmt,jobs", [("plain", 1), ("plain-compressed", 1), ("custom", 1), ("directory", 2)])
def test_replay_brings_back_owners_grants_and_rows_then_refuses_a_second_replay(server, target, fmt, jobs):
    path = os.path.join(server.root, "replay-" + fmt, "backup.sql" if fmt.startswith("plain") else "backup." + fmt)
    dump(server, path, format=fmt, jobs=jobs if fmt == "directory" else 1)
    before = server.state()
    rc, out, err = replay(target, path, format=fmt, jobs=jobs)
    assert rc == 0, err
    assert "appsnap: replayed" in err
    after = target.state()
    assert after["roles"] == before["roles"]
    assert after["databases"]["postgres"] == before["databases"]["postgres"]
    assert "SCRAM-SHA-256" not in out + err

    target.psql("INSERT INTO public.orders VALUES (501, 'after the restore')")
    rc, _out, err = replay(target, path, format=fmt, jobs=jobs)
    assert rc == 4
    assert "already holds 1 user table(s)" in err and "pg_replay_clean=true" in err
    assert target.psql("SELECT count(*) FROM public.orders").strip() == "501"


def test_plain_compressed_is_gzip_on_15_and_a_failed_dump_keeps_it(server):
    """pg_dump 15 cannot write zstd: the pod's choice is gzip, and the file says so by its name."""
    target = os.path.join(server.root, "compressed", "backup.sql")
    dump(server, target, format="plain-compressed")
    assert files_in(os.path.dirname(target)) == ["backup.databases", "backup.manifest.json", "backup.sql.gz", "globals.sql"]
    with gzip.open(target + ".gz", "rt") as handle:
        good = handle.read()
    assert "CREATE DATABASE postgres" in good and "\n500\tn500\n" in good
    assert os.path.getsize(target + ".gz") < len(good) / 2
    stamp = os.stat(target + ".gz").st_mtime_ns
    rc, _out, err = run_hook(pg_dump.pg_dump_hook("postgres", path=target, port=server.port, format="plain-compressed"), password="wrong")
    assert rc != 0 and "password authentication failed" in err
    assert os.stat(target + ".gz").st_mtime_ns == stamp
    assert files_in(os.path.dirname(target)) == ["backup.databases", "backup.manifest.json", "backup.sql.gz", "globals.sql"]


def test_plain_compressed_all_databases_come_back_whole(server, target):
    path = os.path.join(server.root, "all-compressed", "backup.sql")
    dump(server, path, "all", format="plain-compressed")
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.manifest.json", "backup.postgres.sql.gz", "backup.shop.sql.gz", "globals.sql"]
    before = server.state()
    rc, _out, err = replay(target, path, "all", format="plain-compressed")
    assert rc == 0, err
    assert target.state() == before


def test_a_zstd_dump_replays_through_zstd_and_fails_clearly_without_it(server, target, tmp_path):
    """pg_dump 16+ writes .zst (on the lab); here the same bytes come from the zstd program over a plain dump."""
    path = os.path.join(server.root, "zstd", "backup.sql")
    dump(server, path)
    subprocess.run(["zstd", "-q", "--rm", path, "-o", path + ".zst"], check=True)
    # A container without zstd: every program of /usr/bin and /bin but zstd's.
    no_zstd = tmp_path / "bin"
    no_zstd.mkdir()
    for directory in ("/usr/bin", "/bin"):
        for name in os.listdir(directory):
            if "zstd" not in name and not (no_zstd / name).exists():
                os.symlink(os.path.join(directory, name), str(no_zstd / name))
    hook = pg_replay.pg_replay_hook("postgres", path=path, port=target.port, format="plain-compressed")
    env = {"PATH": "%s:%s" % (no_zstd, PG_BIN), "POSTGRES_USER": USER, "POSTGRES_PASSWORD": target.password}
    before = target.state()
    proc = subprocess.run(hook["command"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == pg_commands.EXIT_NO_DECOMPRESSOR
    assert "backup.sql.zst is compressed with zstd" in proc.stderr and "add the zstd package to the image" in proc.stderr
    assert target.state() == before
    rc, _out, err = replay(target, path, format="plain-compressed")
    assert rc == 0, err
    assert "replayed %s.zst" % path in err
    assert target.state()["databases"]["postgres"] == server.state()["databases"]["postgres"]


def test_the_compressed_replay_reads_a_plain_dump_too(server, target):
    """A dump the format plain wrote (backup.sql) replays with plain-compressed, the roles' default."""
    path = os.path.join(server.root, "plain-read", "backup.sql")
    dump(server, path, ["shop"])
    rc, _out, err = replay(target, path, ["shop"], format="plain-compressed")
    assert rc == 0, err
    assert "replayed %s into" % path in err
    assert target.state()["databases"]["shop"] == server.state()["databases"]["shop"]


def test_a_truncated_compressed_dump_is_rolled_back(server, target):
    path = os.path.join(server.root, "truncated", "backup.sql")
    dump(server, path, ["shop"], format="plain-compressed")
    with open(path + ".gz", "r+b") as handle:
        handle.truncate(os.path.getsize(path + ".gz") // 2)
    rc, _out, err = replay(target, path, ["shop"], format="plain-compressed")
    assert rc == 5
    assert "unexpected end of file" in err and "nothing of it was kept" in err
    assert target.psql("SELECT count(*) FROM pg_catalog.pg_database WHERE datname = 'shop'").strip() == "0"


def test_all_databases_come_back_whole_and_the_target_keeps_its_own_superuser_password(server, target):
    path = os.path.join(server.root, "all", "backup.sql")
    dump(server, path, "all")
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.manifest.json", "backup.postgres.sql", "backup.shop.sql", "globals.sql"]
    # The target already has an application role, with other attributes: it is altered to the dumped ones.
    target.psql("CREATE ROLE shop_app NOLOGIN CONNECTION LIMIT 1")
    before = server.state()
    rc, out, err = replay(target, path, "all")
    assert rc == 0, err
    assert target.state() == before
    assert "SCRAM-SHA-256" not in out + err
    # The application logs in with its own password; the superuser still has the target's.
    assert target.psql("SELECT current_user", db="shop", password=None).strip() == USER
    env = dict(target.env(), PGUSER="shop_app", PGPASSWORD="app-Secret-1")
    assert subprocess.run(["psql", "-X", "-At", "-d", "shop", "-c", "SELECT count(*) FROM app.orders"], env=env, check=True,
                          capture_output=True, text=True).stdout.strip() == "1000"


def test_a_dropped_database_leaves_the_next_dump_of_all(server):
    path = os.path.join(server.root, "all-drop", "backup.sql")
    server.psql("CREATE DATABASE \"scratch db\"")
    dump(server, path, "all")
    assert "backup.x-73637261746368206462.sql" in files_in(os.path.dirname(path))
    server.psql("DROP DATABASE \"scratch db\"")
    dump(server, path, "all")
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.manifest.json", "backup.postgres.sql", "backup.shop.sql", "globals.sql"]


def test_a_new_format_removes_the_old_formats_dump_so_no_replay_finds_stale_data(server, target):
    """plain -> plain-compressed -> directory -> plain: only the newest format's file is left, for one database and for all."""
    path = os.path.join(server.root, "switch", "backup.sql")
    dump(server, path, format="plain")
    dump(server, path, format="plain-compressed")
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.manifest.json", "backup.sql.gz", "globals.sql"]
    rc, _out, err = replay(target, path, format="plain")
    assert rc == 2 and "no dump at %s" % path in err
    dump(server, path, format="directory", jobs=2)
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.manifest.json", "backup.sql", "globals.sql"] and os.path.isdir(path)
    dump(server, path, format="plain")
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.manifest.json", "backup.sql", "globals.sql"] and os.path.isfile(path)

    every = os.path.join(server.root, "switch-all", "backup.sql")
    server.psql("CREATE DATABASE gone_soon")
    dump(server, every, "all", format="plain-compressed")
    assert "backup.gone_soon.sql.gz" in files_in(os.path.dirname(every))
    server.psql("DROP DATABASE gone_soon")
    dump(server, every, "all", format="plain")
    assert files_in(os.path.dirname(every)) == ["backup.databases", "backup.manifest.json", "backup.postgres.sql", "backup.shop.sql", "globals.sql"]
    rc, _out, err = replay(target, every, "all", format="plain-compressed")
    assert rc == 0, err


def test_clean_replays_over_user_tables(server, target):
    path = os.path.join(server.root, "clean", "backup.sql")
    dump(server, path, ["postgres", "shop"])
    replay_script = pg_replay.pg_replay_command(["postgres", "shop"], path=path, clean=True, report=True)
    command = pg_commands.pg_shell(replay_script, port=target.port)
    target.psql("CREATE DATABASE shop; \\c shop\nCREATE TABLE junk (x int);")
    proc = subprocess.run(shlex.split(command), env={"PATH": "/usr/bin:/bin", "POSTGRES_USER": USER, "POSTGRES_PASSWORD": target.password},
                          capture_output=True, text=True, timeout=120, check=False)  # split as kubernetes.core.k8s_exec splits it
    assert proc.returncode == 0, proc.stderr
    reports = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 2 and '"rows" : 1300' in reports[1] and '"tables" : 2' in reports[1]
    assert target.psql("SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'junk'", db="shop").strip() == "0"


def test_replay_without_a_dump_says_so(target):
    rc, _out, err = replay(target, os.path.join(target.root, "absent", "backup.sql"))
    assert rc == 2
    assert "no dump at" in err and "backup volume restored" in err


@pytest.mark.parametrize("databases,fmt,jobs", [("all", "plain-compressed", 1), (["shop"], "custom", 2), ("postgres", "directory", 2), ("all", "plain", 1)])
def test_auto_replays_what_the_dump_holds(server, target, databases, fmt, jobs):
    """databases and format auto (the pg_replay role's defaults): the index says which databases, each file its format."""
    path = os.path.join(server.root, "auto-%s-%s" % (fmt, jobs), "backup.sql")
    dump(server, path, databases, format=fmt, jobs=1 if fmt != "directory" else jobs)
    before = server.state()
    rc, _out, err = replay(target, path, "auto", format="auto", jobs=jobs)
    assert rc == 0, err
    wanted = sorted(before["databases"]) if databases == "all" else ([databases] if isinstance(databases, str) else databases)
    assert sorted(line.split('"')[1] for line in err.splitlines() if line.startswith("appsnap: replayed ")) == sorted(wanted)
    for name in wanted:
        assert target.state()["databases"][name] == before["databases"][name]


NAMED_AUTO_CASES = [("shop", "plain-compressed", 1), (["shop"], "plain", 1), ("shop", "custom", 2), (["postgres", "shop"], "directory", 2),
                    ("all", "plain-compressed", 1)]


@pytest.mark.parametrize("databases,fmt,jobs", NAMED_AUTO_CASES)
def test_format_auto_with_the_databases_named(server, target, databases, fmt, jobs):
    """The format read from each file while the databases are named (the pg_replay role's default format with pg_replay_databases set)."""
    path = os.path.join(server.root, "auto-named-%s-%s" % (fmt, jobs), "backup.sql")
    dump(server, path, databases, format=fmt, jobs=jobs if fmt == "directory" else 1)
    before = server.state()
    rc, _out, err = replay(target, path, databases, format="auto", jobs=jobs)
    assert rc == 0, (err, files_in(os.path.dirname(path)))
    for name in (sorted(before["databases"]) if databases == "all" else [databases] if isinstance(databases, str) else databases):
        assert target.state()["databases"][name] == before["databases"][name]
    rc, _out, err = replay(target, os.path.join(target.root, "auto-named-absent", "backup.sql"), databases, format="auto")
    assert rc == pg_commands.EXIT_NO_DUMP and "backup volume restored" in err, err


def test_auto_follows_the_last_dump_from_one_database_to_all_and_back(server, target):
    """Each dump removes the other kind's files, so the replay of what the dump holds finds the last dump's only."""
    path = os.path.join(server.root, "auto-switch", "backup.sql")
    dump(server, path, "shop", format="plain-compressed")
    dump(server, path, "all", format="plain-compressed")
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.manifest.json", "backup.postgres.sql.gz", "backup.shop.sql.gz", "globals.sql"]
    dump(server, path, "shop", format="custom")
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.manifest.json", "backup.sql", "globals.sql"]
    rc, _out, err = replay(target, path, "auto", format="auto")
    assert rc == 0, err
    assert [line for line in err.splitlines() if line.startswith("appsnap: replayed ")] == ['appsnap: replayed %s into database "shop"' % path]
    assert target.state()["databases"]["shop"] == server.state()["databases"]["shop"]


def test_auto_without_an_index_names_the_fix_and_touches_nothing(server, target):
    path = os.path.join(server.root, "auto-no-index", "backup.sql")
    dump(server, path, "shop")
    os.remove(os.path.join(os.path.dirname(path), "backup.databases"))
    before = target.state()
    rc, _out, err = replay(target, path, "auto", format="auto")
    assert rc == pg_commands.EXIT_NO_DUMP
    assert "the dump at %s has no index" % path in err and "replay it naming them (databases: a name, or all)" in err, err
    assert target.state() == before
    rc, _out, err = replay(target, os.path.join(target.root, "auto-absent", "backup.sql"), "auto", format="auto")
    assert rc == pg_commands.EXIT_NO_DUMP and "no dump at" in err and "backup volume restored" in err, err


def test_a_dump_takes_no_auto():
    with pytest.raises(pg_commands.InputError, match="is for the replay"):
        pg_dump.pg_dump_hook("auto")
    with pytest.raises(pg_commands.InputError, match="format must be one of"):
        pg_dump.pg_dump_hook("shop", format="auto")


def test_replay_gives_up_when_postgres_never_answers(server):
    path = os.path.join(server.root, "unused", "backup.sql")
    dump(server, path)
    start = time.monotonic()
    rc, _out, err = run_hook(pg_replay.pg_replay_hook("postgres", path=path, port=free_port(), ready_timeout=2))
    assert rc == 3
    assert "did not accept connections within 2s" in err
    assert time.monotonic() - start < 15


def test_a_failing_replay_keeps_nothing_of_it(server, target):
    path = os.path.join(server.root, "broken", "backup.sql")
    dump(server, path, ["shop"])
    with open(path, "a") as handle:
        handle.write("SELECT 1/0;\n")
    rc, _out, err = replay(target, path, ["shop"])
    assert rc == 5
    assert "division by zero" in err and "nothing of it was kept" in err
    assert target.psql("SELECT count(*) FROM pg_catalog.pg_database WHERE datname = 'shop'").strip() == "0"
    target.psql("CREATE DATABASE shop")  # an empty database that existed before stays, empty
    rc, _out, err = replay(target, path, ["shop"])
    assert rc == 5
    assert target.psql("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'app'", db="shop").strip() == "0"


# -- the verification manifest: taken in the dump's own snapshot, checked by every replay --


def manifest_of(path):
    with open(os.path.join(os.path.dirname(path), "backup.manifest.json")) as handle:
        return json.load(handle)


def copy_rows(dump_text, table):
    """How many rows the plain dump's COPY section of ``table`` holds."""
    section = dump_text.split("COPY %s " % table, 1)[1].split("\n", 1)[1]
    return len(section.split("\n\\.\n", 1)[0].split("\n"))


def test_the_manifest_counts_exactly_the_dump_while_the_application_writes(server):
    """A writer commits rows all through the dump: the manifest holds what the dump holds, not what the live table holds."""
    server.psql("CREATE TABLE public.busy (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())")
    writer = subprocess.Popen(
        ["psql", "-X", "-q", "-d", "postgres", "-c", "DO $$ BEGIN FOR i IN 1..40000 LOOP INSERT INTO public.busy DEFAULT VALUES; COMMIT; END LOOP; END $$"],
        env=server.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        path = os.path.join(server.root, "busy", "backup.sql")
        deadline = time.monotonic() + 60
        while int(server.psql("SELECT count(*) FROM public.busy")) < 2000 and time.monotonic() < deadline:
            time.sleep(0.1)
        _out, err = dump(server, path)
        during = int(server.psql("SELECT count(*) FROM public.busy"))
    finally:
        writer.wait(timeout=120)
        server.psql("DROP TABLE public.busy")
    with open(path) as handle:
        dumped = handle.read()
    manifest = manifest_of(path)
    assert manifest["appsnap_manifest"] == 1 and manifest["verify"] == "counts"
    tables = dict((db["database"], db["tables"]) for db in manifest["databases"])["postgres"]
    # Exactly the dump's rows, in both tables.
    assert tables["public.busy"]["rows"] == copy_rows(dumped, "public.busy")
    assert tables["public.orders"]["rows"] == copy_rows(dumped, "public.orders") == 500
    # The writer went on after the snapshot, so the live count is past the manifest's: the check is not trivially equal.
    assert 2000 <= tables["public.busy"]["rows"] < during <= 40000, (tables["public.busy"], during)
    assert "SCRAM-SHA-256" not in json.dumps(manifest) + err


def alter_row_500(path, replacement):
    """Test-only corruption after the manifest was taken: public.orders' row 500 in the plain dump becomes ``replacement``."""
    with open(path) as handle:
        text = handle.read()
    assert "\n500\tn500\n" in text
    with open(path, "w") as handle:
        handle.write(text.replace("\n500\tn500\n", replacement, 1))


def test_a_dump_altered_after_its_manifest_fails_the_replay_naming_the_table(server, target):
    path = os.path.join(server.root, "altered", "backup.sql")
    dump(server, path)
    alter_row_500(path, "\n")  # one row lost between the dump and the restore
    rc, _out, err = replay(target, path)
    assert rc == 6, err
    assert "appsnap: database postgres does not match the dump's manifest: public.orders: 500 rows in the manifest, 499 rows restored" in err, err
    assert "appsnap: the replay differs from the dump's manifest" in err


def test_checksums_catch_a_changed_value_that_counts_cannot(server, target):
    path = os.path.join(server.root, "checksums", "backup.sql")
    dump(server, path, verify="checksums")
    tables = manifest_of(path)["databases"][0]["tables"]
    assert len(tables["public.orders"]["md5"]) == 32
    alter_row_500(path, "\n500\tchanged\n")  # the same number of rows, one value changed
    rc, _out, err = replay(target, path)
    assert rc == 6, err
    assert "public.orders: 500 rows in the manifest, 500 rows restored (checksums differ)" in err, err


def test_a_replay_reports_what_it_verified_and_required_refuses_a_dump_without_a_manifest(server, target):
    path = os.path.join(server.root, "report", "backup.sql")
    dump(server, path)
    script = pg_replay.pg_replay_command("postgres", path=path, report=True)
    proc = subprocess.run(["bash", "-c", script], env=target.env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    report = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert report == [{"database": "postgres", "tables": 1, "rows": 500, "verified": "counts", "verified_tables": 1, "verified_rows": 500}]

    bare = os.path.join(server.root, "bare", "backup.sql")
    dump(server, bare, verify="none")
    assert not os.path.exists(os.path.join(os.path.dirname(bare), "backup.manifest.json"))
    # A dump without a manifest replays with auto (verified: null) and is refused, untouched, with required.
    fresh = Server(password="other-" + PASSWORD)
    try:
        rc, _out, err = replay(fresh, bare, verify="required")
        assert rc == 8 and "no manifest at" in err and "verify: counts" in err, err
        assert fresh.psql("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'").strip() == "0"
        proc = subprocess.run(["bash", "-c", pg_replay.pg_replay_command("postgres", path=bare, report=True)], env=fresh.env(),
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1])["verified"] is None
    finally:
        fresh.stop()
    # A new dump without a manifest removes the old manifest: it described another dump.
    dump(server, path, verify="none")
    assert files_in(os.path.dirname(path)) == ["backup.databases", "backup.sql", "globals.sql"]
