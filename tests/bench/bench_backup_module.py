#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: appsnap.velero.backup (through ansible-playbook) against `velero backup create --wait`.

    tests/bench/bench_backup_module.py [--pairs 5] [--pgbench-scale 0] [--prefix bench]

Needs the lab (lab/lab up) and the collection laid out (source tests/lib.sh;
layout_collection). In one run it deploys the seed's hooked Postgres into a
namespace (with --pgbench-scale N > 0, seeded with pgbench data, so the hook
dumps and Velero uploads a real database: scale 10 is about 96 MB of dump),
then alternates the two ways of backing it up, and prints the median ratio of
wall times (module / CLI), the median difference in seconds (the module's
fixed cost), and the module's return latency: the task's end minus the
Backup's completionTimestamp (1 s resolution).

Velero runs one backup at a time. On a lab others use too, either side's backup can
wait behind theirs: each Backup's time between created and started is printed as
"queued", and the ratio is given again with it taken off both sides.
"""

from __future__ import absolute_import, division, print_function

import datetime
import glob
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "build", "collections"))

import velero_lab  # noqa: E402
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands as pg_commands  # noqa: E402

KUBECONFIG = os.environ.get("APPSNAP_LAB_KUBECONFIG", "/var/lib/appsnap-lab/admin.kubeconfig")
CACHE = os.environ.get("APPSNAP_CACHE", os.path.expanduser("~/.cache/appsnap"))
KUBECTL = sorted(glob.glob(os.path.join(CACHE, "bin", "k8s-v*", "kubectl")))[-1]
VELERO = sorted(glob.glob(os.path.join(CACHE, "bin", "velero-v*", "velero")))[-1]

PLAYBOOK = """
- name: One Velero backup
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Back up the namespace
      appsnap.velero.backup:
        name: "{{ bench_name }}"
        included_namespaces: ["{{ bench_namespace }}"]
        ttl: 1h
"""


class Kubectl(object):
    kubeconfig = KUBECONFIG

    def run(self, *args, **kwargs):
        cmd = [KUBECTL, "--kubeconfig", KUBECONFIG]
        if kwargs.get("namespace"):
            cmd += ["--namespace", kwargs["namespace"]]
        return subprocess.run(cmd + list(args), input=kwargs.get("input"), capture_output=True, text=True, check=kwargs.get("check", True))


def parse_time(text):
    """A UTC timestamp from Kubernetes (whole seconds, 'Z') or Ansible's callbacks (microseconds)."""
    text = text.rstrip("Z")
    pattern = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
    return datetime.datetime.strptime(text, pattern).replace(tzinfo=datetime.timezone.utc)


def run_module(playbook, namespace, name):
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=KUBECONFIG, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", playbook, "-e", "bench_name=%s" % name, "-e", "bench_namespace=%s" % namespace],
                          env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    task = json.loads(proc.stdout)["plays"][0]["tasks"][0]
    result = task["hosts"]["localhost"]
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result.get("msg"))
    # At the 1 s resolution of completionTimestamp.
    latency = (parse_time(task["task"]["duration"]["end"][:19]) - parse_time(result["result"]["status"]["completionTimestamp"])).total_seconds()
    return wall, latency, result["duration"]


def run_cli(namespace, name):
    start = time.monotonic()
    subprocess.run([VELERO, "--kubeconfig", KUBECONFIG, "backup", "create", name, "--include-namespaces", namespace, "--ttl", "1h", "--wait"],
                   capture_output=True, text=True, check=True)
    return time.monotonic() - start


def queued(kubectl, name):
    """Seconds the Backup waited in Velero's queue: created to started (1 s resolution)."""
    backup = json.loads(kubectl.run("get", "backups.velero.io", name, "-o", "json", namespace="velero").stdout)
    return (parse_time(backup["status"]["startTimestamp"]) - parse_time(backup["metadata"]["creationTimestamp"])).total_seconds()


def option(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def main():
    pairs = option("--pairs", 5)
    scale = option("--pgbench-scale", 0)
    kubectl = Kubectl()
    prefix = sys.argv[sys.argv.index("--prefix") + 1] if "--prefix" in sys.argv else "bench"
    namespace = velero_lab.new_namespace(kubectl, prefix)
    try:
        velero_lab.apply(kubectl, namespace, velero_lab.hooked_postgres())
        kubectl.run("rollout", "status", "statefulset/postgresql", "--timeout=300s", namespace=namespace)
        if scale:
            # pg_shell is a whole "bash -c '...'" command line
            kubectl.run("exec", "postgresql-0", "--", *shlex.split(pg_commands.pg_shell('pgbench --initialize --quiet --scale=%d "$POSTGRES_DB"' % scale)),
                        namespace=namespace)
            size = kubectl.run("exec", "postgresql-0", "--", *shlex.split(pg_commands.pg_shell(
                'psql -X -At -c "SELECT pg_size_pretty(pg_database_size(current_database())), (SELECT count(*) FROM pgbench_accounts)"')),
                namespace=namespace).stdout.strip()
            print("seeded pgbench scale %d: %s (size|pgbench_accounts rows)" % (scale, size), flush=True)
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
            handle.write(PLAYBOOK)
        ratios, latencies, extra, own = [], [], [], []
        for index in range(pairs):
            tag = uuid.uuid4().hex[:6]
            # alternate which goes first: the first of a pair pays for a cold page cache and a new kopia repository
            if index % 2:
                cli_wall = run_cli(namespace, "bench-cli-%s" % tag)
            module_wall, latency, in_module = run_module(handle.name, namespace, "bench-mod-%s" % tag)
            if not index % 2:
                cli_wall = run_cli(namespace, "bench-cli-%s" % tag)
            module_queued, cli_queued = queued(kubectl, "bench-mod-%s" % tag), queued(kubectl, "bench-cli-%s" % tag)
            ratios.append(module_wall / cli_wall)
            own.append((module_wall - module_queued) / (cli_wall - cli_queued))
            extra.append(module_wall - cli_wall)
            latencies.append(latency)
            first = "CLI" if index % 2 else "module"
            print("pair %d (%s first): module %.2fs (%.2fs inside the module, return latency %.1fs, queued %.0fs), "
                  "velero CLI %.2fs (queued %.0fs), ratio %.3f, without the queue %.3f"
                  % (index + 1, first, module_wall, in_module, latency, module_queued, cli_wall, cli_queued, ratios[-1], own[-1]))
        print("machine: %s, %d cores; namespace: the seed's hooked Postgres, %s" % (platform.machine(), os.cpu_count(),
              "pgbench scale %d" % scale if scale else "empty database"))
        print("median wall-time ratio module/CLI over %d pairs: %.3f (target <= 1.10); without Velero's queue: %.3f"
              % (pairs, statistics.median(ratios), statistics.median(own)))
        print("median module - CLI: %.2fs (ansible-playbook start-up, module start-up, pre-flight)" % statistics.median(extra))
        print("median module return latency after completionTimestamp: %.1fs (max %.1fs; target <= 1s)" % (statistics.median(latencies), max(latencies)))
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


if __name__ == "__main__":
    main()
