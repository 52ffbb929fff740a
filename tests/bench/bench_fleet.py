#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: a fleet of N small PostgreSQL databases backed up, restored and replayed in one playbook run.

    tests/bench/bench_fleet.py [--sizes 1,5,10] [--modes one,per] [--scale 1] [--prefix bench]
                               [--replay-on-restore] [--velero-parallel N]

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

--replay-on-restore deploys the pods with the replay post-restore hook
(postgres_replay_on_restore) and runs the fleet with fleet_replay_on_restore:
Velero replays each restored pod in a goroutine of its own, instead of the
pg_replay role's one k8s_exec per pod after the restore.

--velero-parallel N sets, for the run only, the lab's Velero server to
--item-block-worker-count=N (N pods' ItemBlocks, with their pre hooks and
PodVolumeBackups, at once) and its node-agent to a ConfigMap with
loadConcurrency.globalConfig N (N volumes moved at once per node); both are
put back as they were at the end. This restarts Velero: run it on a lab no
one else uses.

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


def deploy(namespace, replay_on_restore=False):
    extra = dict(LAB_IMAGE, postgres_namespace=namespace, postgres_password="bench-" + uuid.uuid4().hex, postgres_replay_on_restore=replay_on_restore)
    return run(["ansible-playbook", "appsnap.velero.deploy"], extra)


NODE_AGENT_CONFIG = "appsnap-bench-node-agent"


class VeleroParallel(object):
    """The lab's Velero with N ItemBlock workers and N concurrent data movers per node, for a run; put back on exit."""

    def __init__(self, kubectl, workers):
        self.kubectl, self.workers, self.saved = kubectl, workers, {}

    def _args(self, kind, name):
        spec = json.loads(self.kubectl.run("get", kind, name, "-o", "json", namespace="velero").stdout)["spec"]["template"]["spec"]
        return spec["containers"][0].get("args", [])

    def _set_args(self, kind, name, args):
        patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": args}]
        self.kubectl.run("patch", kind, name, "--type", "json", "-p", json.dumps(patch), namespace="velero")
        self.kubectl.run("rollout", "status", "%s/%s" % (kind, name), "--timeout=300s", namespace="velero")

    def _wait_validated(self, since):
        """Until the restarted server has validated the backup storage location again (RFC 3339 UTC strings compare as times)."""
        for _attempt in range(180):
            status = json.loads(self.kubectl.run("get", "backupstoragelocation", "default", "-o", "json", namespace="velero").stdout).get("status", {})
            if status.get("phase") == "Available" and status.get("lastValidationTime", "") >= since:
                return
            time.sleep(1)
        raise SystemExit("Velero's backup storage location was not validated again within 180 s after the restart")

    def _apply(self, extra_server, extra_agent):
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for (kind, name), extra in ((("deployment", "velero"), extra_server), (("daemonset", "node-agent"), extra_agent)):
            prefix = extra[0].split("=")[0] + "=" if extra else None
            kept = [a for a in self.saved[(kind, name)] if not (prefix and a.startswith(prefix))]
            self._set_args(kind, name, kept + extra)
        self._wait_validated(since)

    def __enter__(self):
        for key in (("deployment", "velero"), ("daemonset", "node-agent")):
            self.saved[key] = self._args(*key)
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": NODE_AGENT_CONFIG, "namespace": "velero"},
                  "data": {"node-agent-config.json": json.dumps({"loadConcurrency": {"globalConfig": self.workers}})}}
        self.kubectl.run("apply", "-f", "-", input=json.dumps(config))
        self._apply(["--item-block-worker-count=%d" % self.workers], ["--node-agent-configmap=%s" % NODE_AGENT_CONFIG])
        print("Velero: --item-block-worker-count=%d, node-agent loadConcurrency %d (put back at the end)" % (self.workers, self.workers), flush=True)
        return self

    def __exit__(self, *_exc):
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for key, args in self.saved.items():
            self._set_args(key[0], key[1], args)
        self.kubectl.run("delete", "configmap", NODE_AGENT_CONFIG, "--ignore-not-found", namespace="velero")
        self._wait_validated(since)
        print("Velero: server and node-agent arguments put back", flush=True)


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


def fleet(kubectl, namespaces, mode, replay_on_restore=False):
    summary = os.path.join(LOG_DIR, "fleet-%d-%s.json" % (len(namespaces), mode))
    extra = {"fleet_namespaces": namespaces, "fleet_backup_per_namespace": mode == "per", "fleet_summary_file": summary,
             "fleet_replay_on_restore": replay_on_restore}
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
    parser.add_argument("--replay-on-restore", action="store_true", help="replay by Velero's post-restore hook, not the pg_replay role")
    parser.add_argument("--velero-parallel", type=int, default=0, help="run with N ItemBlock workers and N data movers (restarts the lab's Velero)")
    args = parser.parse_args()
    os.makedirs(LOG_DIR, exist_ok=True)
    kubectl = Kubectl()
    if args.velero_parallel > 0:
        with VeleroParallel(kubectl, args.velero_parallel):
            results = measure(kubectl, args)
    else:
        results = measure(kubectl, args)
    report(args, results)


def measure(kubectl, args):
    results = []
    for size in [int(n) for n in args.sizes.split(",")]:
        tag = uuid.uuid4().hex[:4]
        namespaces = ["%s-fleet-%s-%02d" % (args.prefix, tag, index) for index in range(size)]
        try:
            with concurrent.futures.ThreadPoolExecutor(args.deploy_parallel) as pool:
                list(pool.map(lambda namespace: deploy(namespace, args.replay_on_restore), namespaces))
            run(["ansible-playbook", SEED], {"pg_data_namespaces": namespaces, "pg_data_pgbench_scale": args.scale})
            for mode in args.modes.split(","):
                result = fleet(kubectl, namespaces, mode, args.replay_on_restore)
                result.update(size=size, velero_parallel=args.velero_parallel)
                results.append(result)
                values = (size, mode, result["wall"], result["wall"] / size) + tuple(float(result[key + "_seconds"]) for key in PHASES)
                values += (int(result["tables"]), int(result["rows"]), result["peak_kib"] / 1024, result["load"])
                values += (result["queued"], result["wall"] - result["queued"])
                print("N=%2d %-3s: %6.1fs wall, %5.1fs per database (backup %.1f, delete %.1f, restore %.1f, replay %.1f); %d tables, %d rows; "
                      "peak RSS %.0f MiB; load before %s; queued behind other backups/restores %.0fs, own %.1fs" % values, flush=True)
        finally:
            for namespace in namespaces:
                kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)
    return results


def report(args, results):
    print("machine: %s, %d cores; pgbench scale %d per database; load now %s" % (platform.machine(), os.cpu_count(), args.scale, load()))
    for mode in args.modes.split(","):
        runs = {r["size"]: r for r in results if (r["backup_per_namespace"] is True or r["backup_per_namespace"] == "True") == (mode == "per")}
        if 1 in runs:
            for size, result in sorted(runs.items()):
                print("%-3s N=%2d: %.2fx the wall time of N=1, %.2fx its own time (target for N=10: <= 3x)"
                      % (mode, size, result["wall"] / runs[1]["wall"], (result["wall"] - result["queued"]) / (runs[1]["wall"] - runs[1]["queued"])))
    print("replayed by %s; Velero %s" % ("its post-restore hook" if args.replay_on_restore else "the pg_replay role",
                                         "with %d ItemBlock workers and data movers" % args.velero_parallel if args.velero_parallel else "as installed"))
    with open(os.path.join(LOG_DIR, "fleet.json"), "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
