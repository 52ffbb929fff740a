#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: what the verification manifest adds to the dump, and to the replay's check.

    tests/bench/bench_manifest.py [--scale 70] [--rounds 2]

Needs Debian's postgresql-15 (tests/run installs it) and the collection laid
out (source tests/lib.sh; layout_collection). It starts a throwaway cluster on
127.0.0.1, seeds pgbench at --scale (70 is about 1 GiB), then runs the
pre-backup hook's script exactly as Velero would exec it, --rounds times for
each of verify none, counts and checksums, alternating so that the machine's
load falls on all three alike. It also times the replay's check of the
manifest (counts) on the restored database. Seconds go to stdout and to
build/bench/manifest.json.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
# bench_backup_module puts the laid-out collection on sys.path.
from bench_backup_module import pg_commands  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import manifest as pg_manifest  # noqa: E402  pylint: disable=wrong-import-position
from pg_local import PG_BIN, Server  # noqa: E402  pylint: disable=wrong-import-position

LOG_DIR = os.path.join(HERE, "..", "..", "build", "bench")


def run_hook(server, hook):
    env = {"PATH": "/usr/bin:/bin:" + PG_BIN, "POSTGRES_USER": "appuser", "POSTGRES_PASSWORD": server.password}
    start = time.monotonic()
    proc = subprocess.run(hook["command"], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("the hook failed: %s" % proc.stderr[-2000:])
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.makedirs(LOG_DIR, exist_ok=True)
    server = Server()
    try:
        start = time.monotonic()
        subprocess.run([PG_BIN + "/pgbench", "-i", "-q", "-s", str(args.scale), "postgres"], env=server.env(), check=True, capture_output=True)
        seeded = time.monotonic() - start
        size = int(server.psql("SELECT pg_database_size('postgres')"))
        dump_dir = os.path.join(server.root, "dump")
        os.makedirs(dump_dir)
        os.chmod(dump_dir, 0o777)
        path = os.path.join(dump_dir, "backup.sql")
        seconds = dict((mode, []) for mode in ("none", "counts", "checksums"))
        for _round in range(args.rounds):
            for mode in seconds:
                hook = pg_dump.pg_dump_hook("postgres", path=path, port=server.port, verify=mode, timeout="30m")
                seconds[mode].append(run_hook(server, hook))
                print("dump verify=%-9s %6.1f s" % (mode, seconds[mode][-1]), flush=True)
        # The replay's check alone: the counts of the restored database against the manifest (here the source itself).
        dump_counts = pg_dump.pg_dump_hook("postgres", path=path, port=server.port, verify="counts", timeout="30m")
        run_hook(server, dump_counts)
        manifest = os.path.join(dump_dir, "backup.manifest.json")
        check = "\n".join([pg_commands.STRICT_SH, pg_manifest.replay_functions_script(manifest, "required", True), "verify_database postgres"])
        start = time.monotonic()
        proc = subprocess.run(["bash", "-c", check], env=server.env(), capture_output=True, text=True, check=False)
        checked = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit("the check failed: %s" % proc.stderr[-2000:])
        median = dict((mode, statistics.median(values)) for mode, values in seconds.items())
        result = {
            "machine": "%s, %d cores, %s" % (platform.node(), os.cpu_count(), platform.platform()),
            "load": os.getloadavg(),
            "scale": args.scale,
            "database_bytes": size,
            "dump_bytes": os.path.getsize(path),
            "seed_seconds": round(seeded, 1),
            "dump_seconds": seconds,
            "median": median,
            "counts_overhead": round(median["counts"] / median["none"] - 1, 3),
            "checksums_overhead": round(median["checksums"] / median["none"] - 1, 3),
            "replay_check_seconds": round(checked, 2),
            "report": json.loads(proc.stdout.strip().splitlines()[-1]),
        }
        with open(os.path.join(LOG_DIR, "manifest.json"), "w") as handle:
            json.dump(result, handle, indent=2)
        print(json.dumps(result, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
