"""Backup-spec hooks for a PostgreSQL whose pod template must not be edited (an operator's), on the lab's Velero.

The StatefulSet is created with kubectl, as an operator would: a metrics sidecar first, PostgreSQL with its password
from a Secret, a data PVC, and an emptyDir `scratch` at /scratch that the template already declares. The collection
never writes to it: the pg_dump hook goes into the Backup's spec.hooks (pg_dump_hook -> backup_spec_hooks), the
dump into /scratch, and a resource policy (fs_backup_policy) copies the emptyDir with file-system backup instead of
the pod's backup-volumes annotation. Then the namespace is deleted, restored with the restore module, and the dump
replayed with the replay script; every table's checksum matches.

Tests in this file run in order and share the namespace and the backup.
"""
import json
import shlex
import uuid

import pytest
from velero_lab import BUSYBOX, describe_failure, last_result, new_namespace, wait_until

POSTGRES = "localhost/appsnap/postgres:15"
STATE = {}
SEED_SQL = """
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10, 2), tags jsonb, created timestamptz);
INSERT INTO items SELECT i, 'item ' || i || ' – ü', i * 1.25, jsonb_build_object('n', i), '2026-01-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 2000) AS i;
CREATE TABLE orders (id bigserial PRIMARY KEY, item int REFERENCES items, qty int);
INSERT INTO orders (item, qty) SELECT 1 + i % 2000, i FROM generate_series(1, 500) AS i;
"""


def _filters():
    # Imported here: pytest-ansible makes the collection importable only after conftest files load.
    from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import all_filters

    return all_filters()


def opdb_objects(password):
    """What an operator would create; the pod template is never touched by the collection."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "opdb-credentials"}, "stringData": {"password": password}}
    metrics = {"name": "metrics", "image": BUSYBOX, "imagePullPolicy": "Never",
               "command": ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}
    postgres = {
        "name": "postgres", "image": POSTGRES, "imagePullPolicy": "Never",
        "env": [
            {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "opdb-credentials", "key": "password"}}},
            {"name": "POSTGRES_DB", "value": "shop"},
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
        ],
        # A subPath, as the seed's: the lab's hostPath volumes are 0750 root, which the postgres user cannot enter.
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data/pgdata", "subPath": "pgdata"},
                         {"name": "scratch", "mountPath": "/scratch"}],
        "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1"]}, "periodSeconds": 2},
    }
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "opdb", "labels": {"app": "opdb"}},
        "spec": {
            "replicas": 1, "serviceName": "opdb", "selector": {"matchLabels": {"app": "opdb"}},
            "template": {
                "metadata": {"labels": {"app": "opdb"}, "annotations": {"operator.example.com/revision": "7"}},
                "spec": {"terminationGracePeriodSeconds": 5, "containers": [metrics, postgres], "volumes": [{"name": "scratch", "emptyDir": {}}]},
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }],
        },
    }
    return {"apiVersion": "v1", "kind": "List", "items": [secret, statefulset]}


def pg(kubectl, namespace, script):
    """Run ``script`` in the PostgreSQL container with the PG* variables the collection's pg_shell takes from it."""
    command = shlex.split(_filters()["pg_shell"](script))
    return kubectl.run("exec", "opdb-0", "-c", "postgres", "--", *command, namespace=namespace).stdout


def checksums(kubectl, namespace):
    return json.loads(pg(kubectl, namespace, _filters()["pg_query"]("shop", "checksums")))


def template_and_pod(kubectl, namespace):
    """The StatefulSet's pod template as JSON text, its generation and revision, and the running pod's annotations."""
    statefulset = kubectl.json("get", "statefulset", "opdb", namespace=namespace)
    pod = kubectl.json("get", "pod", "opdb-0", namespace=namespace)
    return {
        "template": json.dumps(statefulset["spec"]["template"], sort_keys=True),
        "template_annotations": statefulset["spec"]["template"]["metadata"]["annotations"],
        "generation": statefulset["metadata"]["generation"],
        "revision": statefulset["status"].get("updateRevision"),
        "pod_annotations": pod["metadata"].get("annotations") or {},
    }


def wait_ready(kubectl, namespace):
    kubectl.run("rollout", "status", "statefulset/opdb", "--timeout=300s", namespace=namespace)
    kubectl.run("wait", "--for=condition=Ready", "pod/opdb-0", "--timeout=300s", namespace=namespace)


@pytest.fixture(scope="module")
def opdb(velero_ready):
    kubectl = velero_ready
    namespace = new_namespace(kubectl, "spec-hooks")
    policy = _filters()["fs_backup_policy"]("appsnap-fsb-" + uuid.uuid4().hex[:6])
    try:
        kubectl.run("apply", "-f", "-", input=json.dumps(policy))
        kubectl.run("apply", "-f", "-", input=json.dumps(opdb_objects("Pw-" + uuid.uuid4().hex[:8] + "'$\"x")), namespace=namespace)
        wait_ready(kubectl, namespace)
        yield {"namespace": namespace, "policy": policy["metadata"]["name"]}
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)
        kubectl.run("-n", "velero", "delete", "configmap", policy["metadata"]["name"], check=False)


def name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def test_bad_hooks_fail_before_anything_is_created(run_module, opdb, kubectl):
    namespace = opdb["namespace"]
    cases = [
        ("backup", {"hooks": {"resources": [{"name": "h", "pre": [{"exec": {"command": ["/bin/true"], "on_error": "Fail"}}]}]}},
         "hooks.resources[0].pre[0].exec has unknown keys on_error; allowed keys are command, container, onError, timeout"),
        ("backup", {"hooks": {"resources": [{"name": "h", "pre": [{"exec": {"command": "pg_dump shop", "container": "postgres"}}]}]}},
         'Write it as ["/bin/sh", "-c", "pg_dump shop"]'),
        ("schedule", {"schedule": "0 3 * * *", "hooks": {"resources": [{"name": "h", "pre": [{"exec": {"command": ["/bin/true"], "timeout": "300"}}]}]}},
         "pre[0].exec.timeout '300' has no unit"),
        ("schedule", {"schedule": "0 3 * * *", "hooks": {"resources": [{"name": "h", "pre": [{"exec": {"container": "postgres"}}]}]}},
         "pre[0].exec is missing the required key(s) command"),
    ]
    for module, args, expected in cases:
        object_name = name("bad-" + module)
        result = run_module(module, dict(args, name=object_name, included_namespaces=[namespace]))
        assert result.get("failed") is True and expected in result["msg"], result.get("msg")
        assert kubectl.run("-n", "velero", "get", module, object_name, check=False).returncode != 0


def test_a_missing_resource_policy_fails_before_the_backup_exists(run_module, opdb, kubectl):
    missing, backup = "no-such-policy-" + uuid.uuid4().hex[:6], name("nopolicy")
    result = run_module("backup", {"name": backup, "included_namespaces": [opdb["namespace"]], "resource_policy": missing})
    assert result.get("failed") is True, result
    assert "resource_policy %r names no ConfigMap in namespace velero" % missing in result["msg"] and "fs_backup_policy" in result["msg"]
    assert kubectl.run("-n", "velero", "get", "backup", backup, check=False).returncode != 0


def test_spec_hook_dumps_into_the_pods_own_volume_and_fsb_copies_it(run_module, opdb, kubectl):
    namespace = opdb["namespace"]
    pg(kubectl, namespace, "psql -X -q -v ON_ERROR_STOP=1 --dbname=shop -c %s" % shlex.quote(SEED_SQL))
    STATE["checksums"] = checksums(kubectl, namespace)
    assert STATE["checksums"]["public.items"]["rows"] == 2000 and STATE["checksums"]["public.orders"]["rows"] == 500
    before = template_and_pod(kubectl, namespace)
    STATE["template"] = before["template"]

    f = _filters()
    hook = f["pg_dump_hook"]("shop", path="/scratch/backup.sql", container="postgres", timeout="2m")
    hooks = f["backup_spec_hooks"](hook, "opdb-pg-dump", [namespace], "app=opdb")
    backup = name("spec-hooks")
    result = run_module("backup", {"name": backup, "included_namespaces": [namespace], "resource_policy": opdb["policy"], "hooks": hooks, "ttl": "2h"})
    assert result.get("failed") is not True, result.get("msg")
    assert result["phase"] == "Completed" and result["hooks_attempted"] >= 1 and result["hooks_failed"] == 0, result
    sent = result["result"]["spec"]
    assert sent["resourcePolicy"] == {"kind": "configmap", "name": opdb["policy"]}
    assert sent["hooks"]["resources"][0]["pre"][0]["exec"]["container"] == "postgres"
    assert sent["hooks"]["resources"][0]["pre"][0]["exec"]["onError"] == "Fail"

    # The policy copied the scratch emptyDir, and only it: the data PVC (live PGDATA) is not copied file by file.
    assert [(v["pod"], v["volume"]) for v in result["volumes"]] == [("opdb-0", "scratch")], result["volumes"]
    scratch = result["volumes"][0]
    assert scratch["phase"] == "Completed" and scratch["bytes"] > 0 and scratch["snapshot_id"], scratch

    # The dump is in the pod, and what Velero copied is exactly it (the staging directory is gone).
    listing = kubectl.run("exec", "opdb-0", "-c", "postgres", "--", "find", "/scratch", "-mindepth", "1", "-printf", "%P %s\n",
                          namespace=namespace).stdout.split("\n")
    files = dict(line.split(" ") for line in listing if line)
    assert set(files) == {"backup.sql", "globals.sql", "backup.databases", "backup.manifest.json"}, files
    assert sum(int(size) for size in files.values()) == scratch["bytes"]
    dump = kubectl.run("exec", "opdb-0", "-c", "postgres", "--", "head", "-c", "100000", "/scratch/backup.sql", namespace=namespace).stdout
    assert "CREATE DATABASE shop " in dump and "CREATE TABLE public.items" in dump
    STATE["dump_md5"] = kubectl.run("exec", "opdb-0", "-c", "postgres", "--", "md5sum", "/scratch/backup.sql", namespace=namespace).stdout.split()[0]

    # Nothing was written to the workload: the pod template, its annotations, its generation and revision, the pod's annotations.
    after = template_and_pod(kubectl, namespace)
    assert after == before
    assert after["template_annotations"] == {"operator.example.com/revision": "7"}
    STATE["backup"] = backup


def test_the_snapshot_role_sends_the_same_spec_hooks(run_playbook, opdb, kubectl):
    """ansible-playbook appsnap.velero.backup with snapshot_spec_hooks and snapshot_resource_policy: the same path, by the role."""
    namespace = opdb["namespace"]
    assert "backup" in STATE, "the backup test did not pass"
    f = _filters()
    hook = f["pg_dump_hook"]("shop", path="/scratch/backup.sql", container="postgres", timeout="2m")
    rc, tasks, _out = run_playbook("appsnap.velero.backup", {
        "snapshot_namespace": namespace, "snapshot_pod": "opdb-0", "snapshot_container": "postgres", "snapshot_backup_volume": "scratch",
        "snapshot_dump_path": "/scratch/backup.sql", "snapshot_backup_name": name("spec-hooks-role"),
        "snapshot_spec_hooks": f["backup_spec_hooks"](hook, "opdb-pg-dump", [namespace], "app=opdb"), "snapshot_resource_policy": opdb["policy"],
    })
    assert rc == 0, describe_failure(tasks)
    backup = last_result(tasks, "Back up the namespace, running its pg_dump hooks")
    assert backup["hooks_attempted"] >= 1 and backup["hooks_failed"] == 0, backup
    assert [(v["pod"], v["volume"]) for v in backup["volumes"]] == [("opdb-0", "scratch")], backup["volumes"]
    assert template_and_pod(kubectl, namespace)["template"] == STATE["template"]


def test_restore_and_replay_bring_back_every_row(run_module, opdb, kubectl):
    namespace = opdb["namespace"]
    assert "backup" in STATE, "the backup test did not pass"
    kubectl.run("delete", "namespace", namespace, "--timeout=300s", timeout=320)
    result = run_module("restore", {"name": name("spec-hooks-restore"), "backup_name": STATE["backup"]})
    assert result.get("failed") is not True, result.get("msg")
    assert result["phase"] == "Completed", result
    assert [(v["volume"], v["phase"]) for v in result["volumes"]] == [("scratch", "Completed")], result["volumes"]
    wait_ready(kubectl, namespace)
    wait_until(lambda: kubectl.run("exec", "opdb-0", "-c", "postgres", "--", "pg_isready", "-h", "127.0.0.1", namespace=namespace,
                                   check=False).returncode == 0, 120, "PostgreSQL to accept connections")

    # The restored StatefulSet carries the same template; the dump came back in the emptyDir; the fresh PVC holds an empty shop.
    assert template_and_pod(kubectl, namespace)["template"] == STATE["template"]
    assert kubectl.run("exec", "opdb-0", "-c", "postgres", "--", "md5sum", "/scratch/backup.sql", namespace=namespace).stdout.split()[0] == STATE["dump_md5"]
    assert checksums(kubectl, namespace) == {}

    f = _filters()
    pg(kubectl, namespace, f["pg_replay_command"]("shop", path="/scratch/backup.sql"))
    assert checksums(kubectl, namespace) == STATE["checksums"]
