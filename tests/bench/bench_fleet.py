#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: a fleet of N small PostgreSQL databases backed up, restored and replayed in one playbook run.

    tests/bench/bench_fleet.py [--sizes 1,5,10] [--modes one,per] [--scale 1] [--prefix bench]

Needs the lab (lab/lab up) and the collection laid out (source tests/lib.sh;
layout_collection). For each N it deploys N namespaces with the postgres role
(appsnap.velero.deploy, a few at a time: set-up, not measured), seeds each with
pgbench at --scale (1 is about 16 MB) and the typed table, then runs
appsnap.velero.fleet on them once per mode:
  one   one Velero backup holding every namespace, one restore of it;
  per   one backup and one restore per namespace (fleet_backup_per_namespace=true).
Both modes run on the same namespaces (the fleet run leaves them restored, data
included). It reports the wall time of each run, the time per database, the
playbook's own split (backup, namespace deletion, restore, replay), and the peak
RSS of any process of the run (ansible-playbook, its workers and the modules,
from wait4). The lab's load average is printed with each run.

Velero runs one backup and one restore at a time. On a lab others use too, a run's
backups and restores can wait behind theirs: the time each of ours spent between
created and started (Velero's 1 s timestamps) is reported as "queued", and the wall
time less it as "own".
"""

from __future__ import absolute_import, division, print_function

import argparse
import concurrent.futures
import json
import os
import platform
import subprocess
import tempfile
import time
import uuid

from bench_backup_module import KUBECONFIG, Kubectl, parse_time
from bench_cycle import LOG_DIR

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "..", "integration", "playbooks", "files", "seed.yml")
PHASES = ("backup", "delete", "restore", "replay")
LAB_IMAGE = {"postgres_image": "localhost/appsnap/postgres:15", "postgres_image_pull_policy": "Never"}


def run(argv, extra):
    """Run an ansible-playbook; return its wall seconds and the peak RSS (KiB) of it and every process it waited for."""
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=KUBECONFIG, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        proc = subprocess.Popen(argv + ["-e", json.dumps(extra)], env=env, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            raise SystemExit("%s failed:\n%s" % (" ".join(argv), out.read().decode()[-4000:]))
    return wall, usage.ru_maxrss


def load():
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def deploy(namespace):
    return run(["ansible-playbook", "appsnap.velero.deploy"], dict(LAB_IMAGE, postgres_namespace=namespace, postgres_password="bench-" + uuid.uuid4().hex))


def queued(kubectl, backups):
    """Seconds the run's Backups and Restores waited in Velero's queue (created to started), added up."""
    total = 0.0
    for kind in ("backups", "restores"):
        for item in json.loads(kubectl.run("get", kind + ".velero.io", "-o", "json", namespace="velero").stdout)["items"]:
            name = item["metadata"]["name"] if kind == "backups" else item["spec"].get("backupName")
            started = (item.get("status") or {}).get("startTimestamp")
            if name in backups and started:
                total += (parse_time(started) - parse_time(item["metadata"]["creationTimestamp"])).total_seconds()
    return total


def fleet(kubectl, namespaces, mode):
    summary = os.path.join(LOG_DIR, "fleet-%d-%s.json" % (len(namespaces), mode))
    extra = {"fleet_namespaces": namespaces, "fleet_backup_per_namespace": mode == "per", "fleet_summary_file": summary}
    before = load()
    wall, peak = run(["ansible-playbook", "appsnap.velero.fleet"], extra)
    with open(summary) as handle:
        result = json.load(handle)
    if result["checksums_match"] is not True:
        raise SystemExit("the fleet run did not bring back every checksum: %s" % result)
    result.update(wall=wall, peak_kib=peak, load=before, queued=queued(kubectl, set(result["backups"].values())))
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,5,10")
    parser.add_argument("--modes", default="one,per")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--prefix", default="bench", help="namespace prefix (the namespaces are deleted at the end)")
    parser.add_argument("--deploy-parallel", type=int, default=4)
    args = parser.parse_args()
    os.makedirs(LOG_DIR, exist_ok=True)
    kubectl = Kubectl()
    results = []
    for size in [int(n) for n in args.sizes.split(",")]:
        tag = uuid.uuid4().hex[:4]
        namespaces = ["%s-fleet-%s-%02d" % (args.prefix, tag, index) for index in range(size)]
        try:
            with concurrent.futures.ThreadPoolExecutor(args.deploy_parallel) as pool:
                list(pool.map(deploy, namespaces))
            run(["ansible-playbook", SEED], {"pg_data_namespaces": namespaces, "pg_data_pgbench_scale": args.scale})
            for mode in args.modes.split(","):
                result = fleet(kubectl, namespaces, mode)
                result["size"] = size
                results.append(result)
                values = (size, mode, result["wall"], result["wall"] / size) + tuple(float(result[key + "_seconds"]) for key in PHASES)
                values += (int(result["tables"]), int(result["rows"]), result["peak_kib"] / 1024, result["load"])
                values += (result["queued"], result["wall"] - result["queued"])
                print("N=%2d %-3s: %6.1fs wall, %5.1fs per database (backup %.1f, delete %.1f, restore %.1f, replay %.1f); %d tables, %d rows; "
                      "peak RSS %.0f MiB; load before %s; queued behind other backups/restores %.0fs, own %.1fs" % values, flush=True)
        finally:
            for namespace in namespaces:
                kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)
    print("machine: %s, %d cores; pgbench scale %d per database; load now %s" % (platform.machine(), os.cpu_count(), args.scale, load()))
    for mode in args.modes.split(","):
        runs = {r["size"]: r for r in results if (r["backup_per_namespace"] is True or r["backup_per_namespace"] == "True") == (mode == "per")}
        if 1 in runs:
            for size, result in sorted(runs.items()):
                print("%-3s N=%2d: %.2fx the wall time of N=1, %.2fx its own time (target for N=10: <= 3x)"
                      % (mode, size, result["wall"] / runs[1]["wall"], (result["wall"] - result["queued"]) / (runs[1]["wall"] - runs[1]["queued"])))
    with open(os.path.join(LOG_DIR, "fleet.json"), "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
