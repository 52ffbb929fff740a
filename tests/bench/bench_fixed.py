#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: where the fixed seconds of a small cycle go, phase by phase, from the lab's own records.

    tests/bench/bench_fixed.py [--scale 1] [--runs 3] [--prefix bench] [--hook-pairs 0]

Needs the lab (lab/lab up) and the collection laid out (source tests/lib.sh;
layout_collection). Each run is bench_cycle.py's plain cycle (deploy, seed pgbench at
--scale, backup.yml, delete the namespace, restore.yml, replay.yml), then the run is
split into what each step costs and whose cost it is, from:
  - each playbook's wall time and its tasks' start and end (the ansible.posix.json callback);
    the wall time less the play's span is Ansible's own start-up and exit;
  - the Velero Backup and Restore (created, started, completed), the PodVolumeBackup and
    PodVolumeRestore (created, accepted, started, completed): Velero's 1 s timestamps;
  - the restored pod (created, initialized: Velero's restore-wait init container is done,
    ready).
It prints one table per run and the medians, and writes them to build/bench/fixed.json.

With --hook-pairs N it also runs appsnap.velero.site N times each way, alternating: the
pg_replay role replays after the restore, or Velero's post-restore hook replays while the
restore is still running (appsnap_replay_on_restore=true), and prints the wall times.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
import uuid

from bench_backup_module import KUBECONFIG, Kubectl, parse_time
from bench_cycle import LOG_DIR, cycle, velero_object

LOAD = "/proc/loadavg"


def tasks_of(label, name):
    """(task name, seconds, start, end) of each task that ran in build/bench/<label>-<name>.json, and the play's span."""
    with open(os.path.join(LOG_DIR, "%s-%s.json" % (label, name))) as handle:
        log = json.load(handle)
    rows, starts, ends = [], [], []
    for play in log["plays"]:
        duration = play["play"]["duration"]
        starts.append(parse_time(duration["start"]))
        ends.append(parse_time(duration["end"]))
        for task in play["tasks"]:
            start, end = parse_time(task["task"]["duration"]["start"]), parse_time(task["task"]["duration"]["end"])
            skipped = all(host.get("skipped") for host in task["hosts"].values())
            if not skipped:
                rows.append((task["task"]["name"].split(" : ")[-1], (end - start).total_seconds(), start, end))
    return rows, (max(ends) - min(starts)).total_seconds()


def seconds(later, earlier):
    return (parse_time(later) - parse_time(earlier)).total_seconds()


def pod_times(kubectl, namespace):
    pod = json.loads(kubectl.run("get", "pod", "postgresql-0", "-o", "json", namespace=namespace).stdout)
    conditions = {c["type"]: c["lastTransitionTime"] for c in pod["status"]["conditions"]}
    return pod["metadata"]["creationTimestamp"], conditions["Initialized"], conditions["Ready"]


def split(kubectl, result):
    """The run as (step, seconds, whose cost) rows."""
    namespace = result["namespace"]
    backup = json.loads(kubectl.run("get", "backups.velero.io", namespace, "-o", "json", namespace="velero").stdout)
    pvb = velero_object(kubectl, "podvolumebackups", "velero.io/backup-name=%s" % namespace)[0]
    restore = velero_object(kubectl, "restores", backup_name=namespace)[0]
    pvr = velero_object(kubectl, "podvolumerestores", "velero.io/restore-name=%s" % restore["metadata"]["name"])[0]
    created, initialized, ready = pod_times(kubectl, namespace)
    b, v, r, w = backup["status"], pvb["status"], restore["status"], pvr["status"]
    rows = []
    for name, wall in (("backup", result["backup_wall"]), ("restore", result["restore_wall"]), ("replay", result["replay_wall"])):
        tasks, span = tasks_of("plain", name)
        rows.append(("%s.yml wall" % name, wall, ""))
        rows.append(("  Ansible start-up and exit (wall - play)", wall - span, "Ansible"))
        for task, took, _start, _end in tasks:
            if took >= 0.05:
                rows.append(("  task: %s" % task[:70], took, "collection"))
        if name == "backup":
            rows += [
                ("    Backup created -> started", seconds(b["startTimestamp"], backup["metadata"]["creationTimestamp"]), "Velero"),
                ("    Backup started -> PVB created (items, pre hook: pg_dump)", seconds(pvb["metadata"]["creationTimestamp"], b["startTimestamp"]),
                 "Velero + hook"),
                ("    PVB created -> started (data mover pod start)", seconds(v["startTimestamp"], pvb["metadata"]["creationTimestamp"]),
                 "Velero data mover pod, Kubernetes pod start"),
                ("    PVB started -> completed (kopia session, upload)", seconds(v["completionTimestamp"], v["startTimestamp"]), "kopia"),
                ("    PVB completed -> Backup completed (finalize, metadata upload)", seconds(b["completionTimestamp"], v["completionTimestamp"]), "Velero"),
            ]
        elif name == "restore":
            rows += [
                ("    Restore created -> started", seconds(r["startTimestamp"], restore["metadata"]["creationTimestamp"]), "Velero"),
                ("    Restore started -> pod created", seconds(created, r["startTimestamp"]), "Velero"),
                ("    pod created -> PVR started (data mover pod start)", seconds(w["startTimestamp"], created), "Velero data mover pod, Kubernetes pod start"),
                ("    PVR started -> completed (kopia session, download)", seconds(w["completionTimestamp"], w["startTimestamp"]), "kopia"),
                ("    PVR completed -> pod initialized (restore-wait init container)", seconds(initialized, w["completionTimestamp"]), "Velero, Kubernetes"),
                ("    pod initialized -> ready (PostgreSQL start, readiness probe)", seconds(ready, initialized), "PostgreSQL, Kubernetes"),
                ("    Restore completed - pod ready", seconds(r["completionTimestamp"], ready), "Velero"),
            ]
    # A task name can come twice (the pods role in each playbook): number the repeats, so the medians keep them apart.
    seen = {}
    for index, (step, took, whose) in enumerate(rows):
        seen[step] = seen.get(step, 0) + 1
        if seen[step] > 1:
            rows[index] = ("%s (%s)" % (step, seen[step]), took, whose)
    return rows


def site(kubectl, prefix, on_restore):
    """One appsnap.velero.site run (deploy, seed, backup, restore, replay, checksums); its wall time and summary."""
    namespace = "%s-site-%s" % (prefix, uuid.uuid4().hex[:6])
    summary = os.path.join(LOG_DIR, "fixed-site.json")
    extra = {"appsnap_namespace": namespace, "appsnap_postgres_password": "bench-" + uuid.uuid4().hex, "appsnap_summary_file": summary,
             "appsnap_postgres_image": "localhost/appsnap/postgres:15", "appsnap_postgres_image_pull_policy": "Never",
             "appsnap_replay_on_restore": on_restore}
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=KUBECONFIG)
    try:
        start = time.monotonic()
        proc = subprocess.run(["ansible-playbook", "appsnap.velero.site", "-e", json.dumps(extra)], env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit("site.yml failed:\n%s" % proc.stdout[-3000:])
        with open(summary) as handle:
            return wall, json.load(handle)
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def hook_pairs(kubectl, args):
    walls = {False: [], True: []}
    for index in range(args.hook_pairs):
        for on_restore in (False, True):
            with open(LOAD) as handle:
                load = handle.read().split()[0]
            wall, summary = site(kubectl, args.prefix, on_restore)
            walls[on_restore].append(wall)
            print("site.yml, replayed by %-19s: %5.1fs wall (restore %ss, replay %ss after it; checksums match %s; load average %s)"
                  % (summary["replayed_by"], wall, summary["restore_seconds"], summary["replay_seconds"], summary["checksums_match"], load), flush=True)
    print("median site.yml wall: pg_replay role %.1fs, Velero's post-restore hook %.1fs"
          % (statistics.median(walls[False]), statistics.median(walls[True])))


def medians(runs):
    print("median of the three playbooks' wall time: %.1fs; of the four phases: %.1fs"
          % (statistics.median(run["walls"] for run in runs), statistics.median(run["phases"] for run in runs)))
    # Steps present in every run (a task that was skipped in one run is left out of the medians).
    steps = [step for step, _took, _whose in runs[0]["rows"] if all(step in [row[0] for row in run["rows"]] for run in runs)]
    whose = {step: who for step, _took, who in runs[0]["rows"]}
    print("%-86s %6s  %s" % ("median seconds", "", "whose cost"))
    for step in steps:
        values = [next(took for name, took, _w in run["rows"] if name == step) for run in runs]
        print("  %-86s %6.2f  %s" % (step, statistics.median(values), whose[step]))
    with open(os.path.join(LOG_DIR, "fixed.json"), "w") as handle:
        json.dump(runs, handle, indent=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prefix", default="bench", help="namespace prefix (each run deletes its namespace)")
    parser.add_argument("--hook-pairs", type=int, default=0)
    args = parser.parse_args()
    # bench_cycle's options: one database, no partitions, the globals timed once.
    args.partitions, args.databases, args.globals_repeat = 0, "one", 1
    os.makedirs(LOG_DIR, exist_ok=True)
    kubectl = Kubectl()
    runs = []
    for index in range(args.runs):
        with open(LOAD) as handle:
            load = handle.read().split()[0]
        result = cycle(kubectl, args, "plain", 1, prefix=args.prefix, keep=True)
        try:
            rows = split(kubectl, result)
        finally:
            kubectl.run("delete", "namespace", result["namespace"], "--wait=false", check=False)
        phases = sum(result[key] for key in ("dump", "upload", "restore", "replay"))
        runs.append({"load": load, "rows": rows, "phases": phases,
                     "walls": result["backup_wall"] + result["restore_wall"] + result["replay_wall"]})
        print("run %d (load average %s): four phases %.1fs, backup.yml + restore.yml + replay.yml %.1fs"
              % (index + 1, load, phases, runs[-1]["walls"]))
        for step, took, whose in rows:
            print("  %-86s %6.2f  %s" % (step, took, whose))
    print("machine: %s, %d cores; pgbench scale %d, plain format; %d runs" % (platform.machine(), os.cpu_count(), args.scale, args.runs))
    if runs:
        medians(runs)
    if args.hook_pairs:
        hook_pairs(kubectl, args)


if __name__ == "__main__":
    main()
