#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the full cycle's phases against the raw data path, on the lab.

    tests/bench/bench_cycle.py [--scale 70] [--jobs 2]

Needs the lab (lab/lab up) and the collection laid out (source tests/lib.sh;
layout_collection). In one run it:
  1. deploys Postgres with the roles and seeds pgbench at --scale (70 is about 1 GiB),
  2. times backup.yml (pg_dump hook + Velero upload), restore.yml (delete namespace + Velero restore)
     and replay.yml (psql), each through ansible-playbook,
  3. times the raw path in the same pod: pg_dump > file, and psql -f file into a fresh database,
  4. times pg_restore --jobs from a directory-format dump against plain psql,
  5. records the peak RSS of the ansible-playbook processes (the dump never passes through them).
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import resource
import subprocess
import time
import uuid

from bench_backup_module import KUBECONFIG, Kubectl

LOG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bench")


def playbook(name, extra):
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=KUBECONFIG, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "appsnap.velero." + name, "-e", json.dumps(extra)], env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    # Per-task times for whoever wants to know where a phase's seconds went.
    with open(os.path.join(LOG_DIR, name + ".log"), "w") as handle:
        handle.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (name, proc.stdout[-3000:]))
    return elapsed


def in_pod(kubectl, namespace, script):
    start = time.monotonic()
    kubectl.run("exec", "postgresql-0", "--", "bash", "-c", 'export PGPASSWORD="$POSTGRES_PASSWORD" PGUSER="$POSTGRES_USER" PGHOST=127.0.0.1; ' + script,
                namespace=namespace)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    os.makedirs(LOG_DIR, exist_ok=True)
    kubectl = Kubectl()
    namespace = "bench-cycle-" + uuid.uuid4().hex[:6]
    common = {"postgres_namespace": namespace, "postgres_password": "bench-" + uuid.uuid4().hex, "postgres_storage_size": "20Gi",
              "postgres_image": "localhost/appsnap/postgres:15", "postgres_image_pull_policy": "Never", "postgres_dump_timeout": "60m"}
    try:
        playbook("deploy", common)
        seed = in_pod(kubectl, namespace, "pgbench --initialize --quiet --scale=%d postgres" % args.scale)
        size = kubectl.run("exec", "postgresql-0", "--", "bash", "-c", 'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -At '
                           "-c \"SELECT pg_database_size('postgres')\"", namespace=namespace).stdout.strip()
        raw_dump = in_pod(kubectl, namespace, "pg_dump --format=plain postgres > /backup/raw.sql")
        raw_restore = in_pod(kubectl, namespace,
                             "createdb rawcopy && psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d rawcopy -f /backup/raw.sql >/dev/null")
        dir_dump = in_pod(kubectl, namespace, "pg_dump --format=directory --jobs=%d --file=/backup/raw.dir postgres" % args.jobs)
        parallel_restore = in_pod(kubectl, namespace, "createdb dircopy && pg_restore --exit-on-error --jobs=%d -d dircopy /backup/raw.dir" % args.jobs)
        in_pod(kubectl, namespace, "rm -rf /backup/raw.sql /backup/raw.dir && dropdb rawcopy && dropdb dircopy")
        backup = playbook("backup", {"snapshot_namespace": namespace, "snapshot_backup_name": namespace, "snapshot_wait_timeout": 3600})
        kubectl.run("delete", "namespace", namespace, "--timeout=600s")
        restore = playbook("restore", {"restore_namespace": namespace, "restore_backup_name": namespace, "restore_wait_timeout": 3600})
        replay = playbook("replay", {"pg_replay_namespace": namespace})
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        ours, raw = backup + restore + replay, raw_dump + raw_restore
        print("machine: %s, %d cores; pgbench scale %d, database %.2f GiB (seeded in %.0fs)"
              % (platform.machine(), os.cpu_count(), args.scale, int(size) / 2 ** 30, seed))
        print("raw path:   pg_dump %.1fs, psql -f %.1fs, total %.1fs" % (raw_dump, raw_restore, raw))
        print("collection: backup.yml %.1fs (dump + upload), restore.yml %.1fs, replay.yml %.1fs, total %.1fs" % (backup, restore, replay, ours))
        print("overhead: %.2fx the raw path (target <= 1.5x)" % (ours / raw))
        print("parallel: directory dump --jobs=%d %.1fs; pg_restore --jobs=%d %.1fs vs psql %.1fs: %.2fx faster (target >= 2x)"
              % (args.jobs, dir_dump, args.jobs, parallel_restore, raw_restore, raw_restore / parallel_restore))
        print("peak RSS of any ansible-playbook process: %.0f MiB" % (peak_kib / 1024))
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


if __name__ == "__main__":
    main()
