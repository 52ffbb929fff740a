# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Baseline: the seed's pg_dump-hook flow with the plain velero CLI, in the lab cluster.

1. A namespace with the seed's annotated Postgres StatefulSet (fixtures/).
2. ``velero backup create --wait``: Completed, hooksAttempted >= 1, hooksFailed 0,
   a Completed PodVolumeBackup of ``postgresql-backup`` with more than 0 bytes.
3. Delete the namespace.
4. ``velero restore create --wait``: Completed.
5. The restored pod's /backup/backup.sql has the dump's content and mtime.

Needs the lab (``lab/lab up``: cluster, Velero, MinIO). Skips when the lab is not
reachable, fails instead when APPSNAP_REQUIRE_LAB=1. Honours APPSNAP_LAB_KUBECONFIG /
APPSNAP_LAB_KUBECTL like tests/integration/conftest.py (then KUBECONFIG / KUBECTL). APPSNAP_KEEP=1 keeps the
namespace, backup and restore for inspection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import subprocess
import time
import uuid

import pytest
from velero_lab import find_velero, lab_versions

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FIXTURE = os.path.join(HERE, "fixtures", "postgres-deployment-pgdump.yaml")
CACHE = os.environ.get("APPSNAP_CACHE", os.path.expanduser("~/.cache/appsnap"))
KUBECONFIG = (os.environ.get("APPSNAP_LAB_KUBECONFIG") or os.environ.get("KUBECONFIG")
              or "/var/lib/appsnap-lab/admin.kubeconfig")
VELERO_NS = "velero"
POD = "app-direct-postgresql-0"
CONTAINER = "app-direct-postgresql"
VOLUME = "postgresql-backup"


VERSIONS = lab_versions()


def _find_kubectl():
    for var in ("APPSNAP_LAB_KUBECTL", "KUBECTL"):
        if os.environ.get(var):
            return os.environ[var]
    found = sorted(glob.glob(os.path.join(CACHE, "bin", "k8s-v*", "kubectl")))
    if found:
        return found[-1]
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if os.access(os.path.join(d, "kubectl"), os.X_OK):
            return os.path.join(d, "kubectl")
    return None


VELERO = find_velero()
KUBECTL = _find_kubectl()
ENV = dict(os.environ, KUBECONFIG=KUBECONFIG)


def _run(argv, timeout=120, check=True, input_text=None):
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=timeout, input=input_text, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (rc=%d)\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(argv), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


def kubectl(*args, **kwargs):
    return _run([KUBECTL] + list(args), **kwargs)


def velero(*args, **kwargs):
    return _run([VELERO, "--namespace", VELERO_NS] + list(args), **kwargs)


def _get_json(*args):
    return json.loads(kubectl(*(list(args) + ["-o", "json"])).stdout)


def _lab_problem():
    """Return why the lab is unusable, or None."""
    if not KUBECTL:
        return "kubectl not found"
    if not VELERO:
        return "velero binary not built (lab/velero/build.sh)"
    if not os.path.exists(KUBECONFIG):
        return "no kubeconfig at %s" % KUBECONFIG
    try:
        proc = kubectl("--request-timeout=5s", "-n", VELERO_NS, "get", "backupstoragelocation", "default",
                       "-o", "jsonpath={.status.phase}", check=False, timeout=20)
    except subprocess.TimeoutExpired:
        return "cluster not answering"
    if proc.returncode != 0:
        return "velero BSL default not readable: %s" % proc.stderr.strip()
    if proc.stdout.strip() != "Available":
        return "BSL default is %r, not Available" % proc.stdout.strip()
    return None


@pytest.fixture(scope="module")
def lab():
    problem = _lab_problem()
    if problem:
        if os.environ.get("APPSNAP_REQUIRE_LAB") == "1":
            pytest.fail("lab required (APPSNAP_REQUIRE_LAB=1) but unusable: " + problem)
        pytest.skip("lab not reachable: " + problem)


def _wait(what, predicate, timeout, interval=2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last is True:
            return
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def _pod_ready(ns):
    def check():
        proc = kubectl("-n", ns, "get", "pod", POD, "-o", "json", check=False)
        if proc.returncode != 0:
            return "no pod"
        pod = json.loads(proc.stdout)
        conds = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        return True if conds.get("Ready") == "True" else pod.get("status", {}).get("phase")
    return check


def _describe(ns):
    out = []
    for args in (["-n", ns, "get", "pods,pvc", "-o", "wide"], ["-n", ns, "describe", "pod", POD],
                 ["-n", VELERO_NS, "get", "pods", "-o", "wide"]):
        out.append(kubectl(*args, check=False).stdout[-3000:])
    return "\n".join(out)


def _exec(ns, script):
    return kubectl("-n", ns, "exec", POD, "-c", CONTAINER, "--", "bash", "-c", script).stdout


def test_velero_cli_backup_restore_pg_dump_hook(lab):
    token = uuid.uuid4().hex[:10]
    ns = "velero-cli-smoke-" + token
    backup = ns
    restore = ns + "-r"
    keep = os.environ.get("APPSNAP_KEEP") == "1"
    timings = {}
    try:
        # 1. the seed's annotated StatefulSet, with a row we can find in the dump
        kubectl("create", "namespace", ns)
        kubectl("-n", ns, "apply", "-f", FIXTURE)
        t = time.time()
        try:
            _wait("pod %s Ready" % POD, _pod_ready(ns), 300)
        except AssertionError as err:
            raise AssertionError("%s\n%s" % (err, _describe(ns)))
        timings["pod_ready"] = time.time() - t
        _exec(ns, "PGPASSWORD=$POSTGRES_PASSWORD psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d postgres -c "
                  "\"CREATE TABLE smoke(id int, note text); INSERT INTO smoke VALUES (1, 'token-%s');\"" % token)

        # 2. backup with the plain CLI
        t = time.time()
        velero("backup", "create", backup, "--include-namespaces", ns, "--wait", timeout=900)
        timings["backup"] = time.time() - t
        bk = _get_json("-n", VELERO_NS, "get", "backup", backup)
        status = bk.get("status", {})
        hooks = status.get("hookStatus", {})
        assert status.get("phase") == "Completed", json.dumps(status, indent=1)
        assert hooks.get("hooksAttempted", 0) >= 1, json.dumps(status, indent=1)
        assert hooks.get("hooksFailed", 0) == 0, json.dumps(status, indent=1)
        pvbs = _get_json("-n", VELERO_NS, "get", "podvolumebackups", "-l", "velero.io/backup-name=" + backup)["items"]
        ours = [p for p in pvbs if p["spec"].get("volume") == VOLUME]
        assert ours, "no PodVolumeBackup for volume %s: %s" % (VOLUME, json.dumps(pvbs, indent=1)[:3000])
        pvb = ours[0]["status"]
        assert pvb.get("phase") == "Completed", json.dumps(pvb, indent=1)
        assert pvb.get("progress", {}).get("totalBytes", 0) > 0, json.dumps(pvb, indent=1)
        assert pvb.get("snapshotID"), json.dumps(pvb, indent=1)

        # what the hook wrote, as it is in the live pod after the backup
        before = _exec(ns, "sha256sum /backup/backup.sql; stat -c %Y /backup/backup.sql; "
                           "grep -c 'token-" + token + "' /backup/backup.sql; "
                           "grep -c 'PostgreSQL database dump' /backup/backup.sql").split("\n")
        sha_before, mtime_before = before[0].split()[0], before[1].strip()
        assert int(before[2]) >= 1 and int(before[3]) >= 1, "dump content unexpected: %r" % before

        # 3. delete the namespace
        t = time.time()
        kubectl("delete", "namespace", ns, "--wait=true", timeout=600)
        timings["ns_delete"] = time.time() - t

        # 4. restore with the plain CLI
        t = time.time()
        velero("restore", "create", restore, "--from-backup", backup, "--wait", timeout=900)
        timings["restore"] = time.time() - t
        rs = _get_json("-n", VELERO_NS, "get", "restore", restore)
        assert rs.get("status", {}).get("phase") == "Completed", json.dumps(rs.get("status"), indent=1)

        # 5. the restored pod's dump: same bytes, same mtime
        try:
            _wait("restored pod %s Ready" % POD, _pod_ready(ns), 300)
        except AssertionError as err:
            raise AssertionError("%s\n%s" % (err, _describe(ns)))
        pod = _get_json("-n", ns, "get", "pod", POD)
        inits = pod["spec"].get("initContainers", [])
        assert inits and inits[0]["name"] == "restore-wait", [c["name"] for c in inits]
        assert inits[0]["image"] == VERSIONS["VELERO_IMAGE"], inits[0]["image"]
        after = _exec(ns, "sha256sum /backup/backup.sql; stat -c %Y /backup/backup.sql; "
                          "if [ -e /backup/.velero ]; then echo marker-present; ls -A /backup/.velero; "
                          "else echo marker-absent; fi").split("\n")
        sha_after, mtime_after = after[0].split()[0], after[1].strip()
        assert sha_after == sha_before, "restored dump differs: %s != %s" % (sha_after, sha_before)
        assert mtime_after == mtime_before, "restored dump mtime %s != %s" % (mtime_after, mtime_before)
        # The seed's listing after a restore shows a `.velero` directory next to backup.sql.
        # In v1.17 and v1.18 velero-restore-helper tries to delete it, but it runs with the restricted
        # default securityContext (non-root) when the app container sets none, and the
        # marker written by the data mover (root) cannot be unlinked: it stays, as in the seed.
        marker = " ".join(after[2:]).split()
        assert marker[:1] == ["marker-present"] and rs["metadata"]["uid"] in marker, marker
        helper_log = kubectl("-n", ns, "logs", POD, "-c", "restore-wait", check=False).stdout
        print("timings (s): %s" % {k: round(v, 1) for k, v in timings.items()})
        print("backup hookStatus: %s; PVB %s bytes=%s snapshotID=%s" % (
            hooks, VOLUME, pvb.get("progress", {}).get("totalBytes"), pvb.get("snapshotID")))
        print("backup.sql sha256=%s mtime=%s (same after restore)" % (sha_before, mtime_before))
        print(".velero after restore: %s" % " ".join(after[2:]).strip())
        print("restore-wait log:\n" + helper_log[-2000:])
    finally:
        if not keep:
            kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)
            if VELERO:
                velero("restore", "delete", restore, "--confirm", check=False)
                velero("backup", "delete", backup, "--confirm", check=False)
