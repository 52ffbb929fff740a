#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the full cycle's phases against the raw data path, on the lab.

    tests/bench/bench_cycle.py [--scale 70] [--jobs 2] [--partitions 0] [--databases all] [--globals-repeat 5]

Needs the lab (lab/lab up) and the collection laid out (source tests/lib.sh;
layout_collection). In one run it:
  1. deploys Postgres with the roles and seeds pgbench at --scale (70 is about 1 GiB;
     --partitions splits pgbench_accounts, which is most of the data),
  2. times the raw path in that pod: pg_dump > file, and psql -f file into a fresh database,
  3. runs backup.yml, deletes the namespace, runs restore.yml and replay.yml, each through
     ansible-playbook, twice: with the plain format (psql) and with the directory format
     (pg_dump and pg_restore with --jobs),
  4. splits each run into the issue's phases from what the lab itself records:
       dump    the hook's pg_dump: birth time of the dump to its last write, stat'ed in the pod;
       upload  the PodVolumeBackup's start to completion (Velero's 1 s timestamps);
       restore the Restore's start to completion (Velero's 1 s timestamps), PodVolumeRestore included;
       replay  the pg_replay role's "Replay the dump" task (psql or pg_restore through k8s_exec);
     and the wall time of each playbook, which adds Ansible, pod recreation and the checks,
  5. records the peak RSS of the ansible-playbook processes (the dump never passes through them),
  6. times the globals step in the pod, --globals-repeat times: pg_dumpall --globals-only as the hook
     runs it, and applying the dump's globals.sql as the replay does (timed in the pod, without kubectl).
With --databases all, the hook dumps every database (a second one, a copy of postgres made with
createdb --template, is added first) and the replay brings back all of them.
Per-task timings of every playbook are kept in build/bench/<format>-<playbook>.json.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
import uuid

# bench_backup_module puts the laid-out collection on sys.path, so pg_commands comes from there.
from bench_backup_module import KUBECONFIG, Kubectl, parse_time, pg_commands

LOG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bench")
DUMP_PATHS = {"plain": "/backup/backup.sql", "plain-compressed": "/backup/backup.sql", "custom": "/backup/backup.dump", "directory": "/backup/backup.dir"}


def playbook(name, extra, label):
    """Run appsnap.velero.<name>; return its wall time and the duration of each task by name."""
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=KUBECONFIG, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "appsnap.velero." + name, "-e", json.dumps(extra)], env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    with open(os.path.join(LOG_DIR, "%s-%s.json" % (label, name)), "w") as handle:
        handle.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s\n%s" % (name, proc.stdout[-3000:], proc.stderr[-2000:]))
    tasks = {}
    for play in json.loads(proc.stdout)["plays"]:
        for task in play["tasks"]:
            duration = task["task"]["duration"]
            tasks[task["task"]["name"]] = (parse_time(duration["end"]) - parse_time(duration["start"])).total_seconds()
    return elapsed, tasks


def span(status):
    return (parse_time(status["completionTimestamp"]) - parse_time(status["startTimestamp"])).total_seconds()


def in_pod(kubectl, namespace, script):
    start = time.monotonic()
    out = kubectl.run("exec", "postgresql-0", "-c", "postgresql", "--", *shlex.split(pg_commands.pg_shell(script)), namespace=namespace).stdout
    return time.monotonic() - start, out


def dump_seconds(kubectl, namespace, path):
    """The hook writes a new file (or directory) and renames it into place: birth to last write is pg_dump's run.

    A plain-compressed dump is the path with the compressor's suffix.
    """
    found = 'p=%s; for s in "" .zst .gz; do if [ -e "$p$s" ]; then p="$p$s"; break; fi; done; ' % path
    _elapsed, out = in_pod(kubectl, namespace, found + "stat -c %W \"$p\"; find \"$p\" -type f -printf '%T@\\n' | sort -n | tail -1")
    born, last_write = out.split()
    if int(born) == 0:
        raise SystemExit("the filesystem under %s does not record birth times; cannot time the hook's pg_dump" % path)
    return float(last_write) - float(born)


def velero_object(kubectl, kind, selector=None, backup_name=None):
    args = ["get", kind, "-o", "json"] + (["-l", selector] if selector else [])
    items = json.loads(kubectl.run(*args, namespace="velero").stdout)["items"]
    if backup_name:
        items = [item for item in items if item["spec"].get("backupName") == backup_name]
    if not items:
        raise SystemExit("no %s for %s" % (kind, selector or backup_name))
    return items


def globals_seconds(kubectl, namespace, repeat):
    """The globals step's cost, timed in the pod: (pg_dumpall --globals-only, applying globals.sql), medians of ``repeat`` runs."""
    script = ("for i in $(seq %d); do s=$(date +%%s.%%N); pg_dumpall --globals-only --no-tablespaces --database=template1 >/dev/null; "
              "m=$(date +%%s.%%N); psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=terse --dbname=template1 --file=/backup/globals.sql >/dev/null; "
              "e=$(date +%%s.%%N); echo $s $m $e; done" % repeat)
    _elapsed, out = in_pod(kubectl, namespace, script)
    runs = [[float(x) for x in line.split()] for line in out.splitlines()]
    dumps = sorted(m - s for s, m, _e in runs)
    applies = sorted(e - m for _s, m, e in runs)
    return dumps[len(dumps) // 2], applies[len(applies) // 2]


def raw_path(kubectl, namespace):
    dump, _out = in_pod(kubectl, namespace, "pg_dump --format=plain postgres > /backup/raw.sql")
    _elapsed, size = in_pod(kubectl, namespace, "stat -c %s /backup/raw.sql")
    replay, _out = in_pod(kubectl, namespace, "createdb rawcopy && psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d rawcopy -f /backup/raw.sql >/dev/null")
    in_pod(kubectl, namespace, "rm -f /backup/raw.sql && dropdb rawcopy")
    return {"dump": dump, "replay": replay, "dump_bytes": int(size)}


def cycle(kubectl, args, dump_format, jobs, raw=False, prefix=None, keep=False):
    """One deploy, seed, backup, restore and replay; each playbook's task log is build/bench/<dump_format>-<playbook>.json.

    With ``keep`` the namespace stays (the caller reads the restored pod, then deletes it)."""
    namespace = "%s-%s-%s" % (prefix or getattr(args, "namespace_prefix", "bench"), dump_format, uuid.uuid4().hex[:6])
    path = DUMP_PATHS[dump_format]
    databases = "all" if args.databases == "all" else ["postgres"]
    # With several databases, the hook writes backup.<name><ext>; the postgres database's dump is the one timed.
    timed = path if databases != "all" else path.replace("backup.", "backup.postgres.")
    deploy = {"postgres_namespace": namespace, "postgres_password": "bench-" + uuid.uuid4().hex, "postgres_storage_size": "20Gi",
              "postgres_image": getattr(args, "image", "localhost/appsnap/postgres:15"), "postgres_image_pull_policy": "Never", "postgres_dump_timeout": "60m",
              "postgres_dump_format": dump_format, "postgres_dump_jobs": jobs, "postgres_dump_path": path,
              "postgres_dump_databases": databases}
    try:
        playbook("deploy", deploy, dump_format)
        partitions = " --partitions=%d" % args.partitions if args.partitions else ""
        seed, _out = in_pod(kubectl, namespace, "pgbench --initialize --quiet --scale=%d%s postgres" % (args.scale, partitions))
        # Flush the seed's dirty pages now, so no checkpoint lands inside the raw path's timings.
        if databases == "all":
            in_pod(kubectl, namespace, "createdb --template=postgres second")
        in_pod(kubectl, namespace, "psql -X -q -c CHECKPOINT")
        _elapsed, size = in_pod(kubectl, namespace, "psql -At -c \"SELECT pg_database_size('postgres')\"")
        result = {"namespace": namespace, "seed": seed, "bytes": int(size)}
        if raw:
            result["raw"] = raw_path(kubectl, namespace)
        backup_vars = {"snapshot_namespace": namespace, "snapshot_backup_name": namespace, "snapshot_wait_timeout": 3600, "snapshot_dump_path": path}
        result["backup_wall"], _tasks = playbook("backup", backup_vars, dump_format)
        result["dump"] = dump_seconds(kubectl, namespace, timed)
        result["globals_dump"], result["globals_apply"] = globals_seconds(kubectl, namespace, args.globals_repeat)
        pvb = velero_object(kubectl, "podvolumebackups", "velero.io/backup-name=%s" % namespace)[0]
        result["upload"] = span(pvb["status"])
        result["dump_bytes"] = pvb["status"]["progress"].get("bytesDone", 0)
        start = time.monotonic()
        kubectl.run("delete", "namespace", namespace, "--timeout=600s")
        result["delete_namespace"] = time.monotonic() - start
        restore_vars = {"restore_namespace": namespace, "restore_backup_name": namespace, "restore_wait_timeout": 3600, "restore_dump_path": path}
        result["restore_wall"], _tasks = playbook("restore", restore_vars, dump_format)
        restore = velero_object(kubectl, "restores", backup_name=namespace)[0]
        result["restore"] = span(restore["status"])
        replay_vars = {"pg_replay_namespace": namespace, "pg_replay_format": dump_format, "pg_replay_jobs": jobs, "pg_replay_dump_path": path,
                       "pg_replay_databases": databases}
        result["replay_wall"], tasks = playbook("replay", replay_vars, dump_format)
        result["replay"] = tasks["appsnap.velero.pg_replay : Replay the dump (the globals, then each database with its settings, owners and grants)"]
        return result
    finally:
        if not keep or sys.exc_info()[0] is not None:
            kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=0)
    parser.add_argument("--databases", choices=["one", "all"], default="one")
    parser.add_argument("--globals-repeat", type=int, default=5)
    args = parser.parse_args()
    os.makedirs(LOG_DIR, exist_ok=True)
    kubectl = Kubectl()
    plain = cycle(kubectl, args, "plain", 1, raw=True)
    parallel = cycle(kubectl, args, "directory", args.jobs)
    raw = plain["raw"]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    print("machine: %s, %d cores; pgbench scale %d%s, database %.2f GiB (seeded in %.0fs)"
          % (platform.machine(), os.cpu_count(), args.scale, ", %d partitions" % args.partitions if args.partitions else "",
             plain["bytes"] / 2 ** 30, plain["seed"]))
    print("%-34s %10s %12s %18s" % ("phase (seconds)", "raw path", "plain cycle", "directory -j%d" % args.jobs))
    rows = [("dump (pg_dump; hook in the cycles)", raw["dump"], "dump"),
            ("upload (PodVolumeBackup)", None, "upload"),
            ("restore (Velero Restore)", None, "restore"),
            ("replay (psql -f; pg_replay role)", raw["replay"], "replay")]
    for label, raw_value, key in rows:
        print("%-34s %10s %12.1f %18.1f" % (label, "-" if raw_value is None else "%.1f" % raw_value, plain[key], parallel[key]))
    raw_total = raw["dump"] + raw["replay"]
    phases = sum(plain[key] for key in ("dump", "upload", "restore", "replay"))
    print("%-34s %10.1f %12.1f %18.1f" % ("all four phases", raw_total, phases, sum(parallel[key] for key in ("dump", "upload", "restore", "replay"))))
    walls = plain["backup_wall"] + plain["restore_wall"] + plain["replay_wall"]
    parallel_walls = parallel["backup_wall"] + parallel["restore_wall"] + parallel["replay_wall"]
    print("%-34s %10s %12.1f %18.1f" % ("backup.yml + restore.yml + replay.yml", "-", walls, parallel_walls))
    print("dump bytes backed up: plain %d, directory %d" % (plain["dump_bytes"], parallel["dump_bytes"]))
    data_path = plain["dump"] + plain["replay"]
    print("data path (dump + replay) vs raw: %.1fs vs %.1fs = %.2fx" % (data_path, raw_total, data_path / raw_total))
    print("four phases vs raw (target <= 1.5x): %.2fx; whole playbooks vs raw: %.2fx" % (phases / raw_total, walls / raw_total))
    print("parallel replay: pg_restore --jobs=%d %.1fs vs psql %.1fs: %.2fx faster (target >= 2x)"
          % (args.jobs, parallel["replay"], plain["replay"], plain["replay"] / parallel["replay"]))
    print("globals step (median of %d, in the pod): pg_dumpall --globals-only %.3fs, applying globals.sql %.3fs (plain cycle); %.3fs, %.3fs (directory)"
          % (args.globals_repeat, plain["globals_dump"], plain["globals_apply"], parallel["globals_dump"], parallel["globals_apply"]))
    print("databases: %s" % args.databases)
    print("peak RSS of any ansible-playbook process: %.0f MiB" % (peak_kib / 1024))


if __name__ == "__main__":
    main()
