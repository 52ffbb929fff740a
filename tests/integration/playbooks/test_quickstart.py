"""The README's quick start, as a new user runs it: its playbook block and its restore/replay commands, on the lab.

The playbook is taken from README.md between the QUICKSTART markers and run as written against a StatefulSet made
with kubectl (never by the collection), with the connection given once through the appsnap.velero.velero action group
(K8S_AUTH_KUBECONFIG points nowhere, so a task the group's defaults did not reach fails). Then the namespace is
deleted and the README's own restore and replay command lines run, with its names replaced by the test's: every
table's checksum is the one from before the backup.
"""
import json
import pathlib
import re
import shlex
import uuid

import pytest
from velero_lab import checksums, describe_failure, in_pod, last_result, new_namespace, running_pod

README = pathlib.Path(__file__).resolve().parents[3] / "README.md"
POSTGRES = "localhost/appsnap/postgres:15"
PASSWORD = "Qs-" + uuid.uuid4().hex[:8] + "'$\"x"
SEED_SQL = """
CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(10, 2), placed timestamptz);
INSERT INTO orders (customer, total, placed)
  SELECT 'customer ' || i, i * 1.25, timestamptz '2025-01-01 00:00:00+00' + i * interval '1 minute' FROM generate_series(1, 3000) AS i;
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 250) AS i;
"""


def quickstart_playbook():
    text = README.read_text()
    block = re.search(r"<!-- BEGIN QUICKSTART -->\n```yaml\n(.*?)```\n<!-- END QUICKSTART -->", text, re.S)
    assert block, "README.md lost its QUICKSTART block"
    return block.group(1)


def readme_commands(playbook, names):
    """The extra vars of the quick start's ``ansible-playbook <playbook> -e k=v ...`` line in the README, names replaced."""
    after = README.read_text().split("## Quick start", 1)[1]
    line = next(x for x in after.splitlines() if x.startswith("ansible-playbook %s " % playbook))
    words = shlex.split(line.split("#", 1)[0])
    pairs = [words[i + 1] for i, w in enumerate(words) if w == "-e"]
    assert pairs, line
    return dict((k, names.get(v, v)) for k, v in (p.split("=", 1) for p in pairs))


def statefulset(name):
    container = {
        "name": "postgres", "image": POSTGRES, "imagePullPolicy": "Never",
        "env": [{"name": "POSTGRES_USER", "value": "shop"}, {"name": "POSTGRES_DB", "value": "orders"},
                {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": name + "-auth", "key": "password"}}},
                {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
        # A subPath: the lab's hostPath volumes are 0750 root, which the postgres user cannot enter.
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data/pgdata", "subPath": "pgdata"}],
        "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1"]}, "periodSeconds": 2},
    }
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": {
        "serviceName": name, "replicas": 1, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "terminationGracePeriodSeconds": 5, "containers": [container]}},
        # The data on a claim, as in production: hooking rolls the pod out, and the data outlives it.
        "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                  "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}


@pytest.fixture
def namespace(kubectl):
    name = new_namespace(kubectl, "quickstart")
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def ready_pod(kubectl, namespace, name):
    return running_pod(kubectl, namespace, name)["metadata"]["name"]


def table_sums(kubectl, namespace, pod):
    return checksums(kubectl, namespace, pod, "postgres", "orders")


def test_the_readme_quick_start_backs_up_restores_and_replays_a_statefulset(kubectl, run_playbook, namespace, tmp_path):
    from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands as pg_commands

    name = "orders-db"
    kubectl.run("create", "secret", "generic", name + "-auth", "--from-literal=password=" + PASSWORD, namespace=namespace)
    kubectl.run("apply", "-f", "-", input=json.dumps(statefulset(name)), namespace=namespace)
    pod = ready_pod(kubectl, namespace, name)
    in_pod(kubectl, namespace, pod, "postgres", pg_commands.pg_query("orders", SEED_SQL))
    before = table_sums(kubectl, namespace, pod)
    assert before["public.orders"]["rows"] == 3000 and before["public.notes"]["rows"] == 250, before
    template = kubectl.json("get", "statefulset", name, namespace=namespace)["spec"]["template"]

    playbook = tmp_path / "quickstart.yml"
    playbook.write_text(quickstart_playbook())
    # The connection comes from appsnap_kubeconfig alone: the environment's kubeconfig does not exist.
    env = {"K8S_AUTH_KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
    names = {"namespace": namespace, "statefulset": name, "appsnap_kubeconfig": kubectl.kubeconfig}
    replaced = {"shop": namespace, "orders-db": name}
    rc, tasks, _out = run_playbook("appsnap.velero.preflight", dict(readme_commands("appsnap.velero.preflight", replaced), **names), env=env)
    assert rc == 0, describe_failure(tasks)

    rc, tasks, out = run_playbook(str(playbook), names, check=True, env=dict(env, ANSIBLE_DIFF_ALWAYS="1"))
    assert rc == 0, describe_failure(tasks) + out[-3000:]
    assert kubectl.json("get", "statefulset", name, namespace=namespace)["spec"]["template"] == template

    rc, tasks, out = run_playbook(str(playbook), names, env=env)
    assert rc == 0, describe_failure(tasks) + out[-3000:]
    # The hook rolled the pod out; the rows it dumped are the seeded ones.
    pod = ready_pod(kubectl, namespace, name)
    assert table_sums(kubectl, namespace, pod) == before
    backup = last_result(tasks, "Report the backup")["ansible_facts"]["snapshot_result"]
    # The hook the role wrote ran, and its volume (appsnap-backup, named by no variable) is in the backup.
    assert int(backup["hooks_attempted"]) >= 1 and int(backup["bytes"]) > 0, backup
    assert [(p["pod"], p["container"], p["volume"], p["matches"]) for p in backup["pods"]] == [(pod, "postgres", "appsnap-backup", True)]
    assert PASSWORD not in out

    # After a loss: the README's own commands, its names replaced by the test's.
    kubectl.run("delete", "namespace", namespace, "--timeout=300s")
    rc, tasks, _out = run_playbook("appsnap.velero.restore", readme_commands("appsnap.velero.restore", replaced))
    assert rc == 0, describe_failure(tasks)
    assert last_result(tasks, "Report the restore")["ansible_facts"]["restore_result"]["backup_name"] == backup["name"]
    ready_pod(kubectl, namespace, name)
    uid = kubectl.json("get", "pod", pod, namespace=namespace)["metadata"]["uid"]
    rc, tasks, _out = run_playbook("appsnap.velero.replay", readme_commands("appsnap.velero.replay", replaced))
    assert rc == 0, describe_failure(tasks)
    replayed = last_result(tasks, "Report the replay")["ansible_facts"]["pg_replay_result"]
    # No database named: the replay replays what the dump holds, the database the image made.
    assert [d["database"] for d in replayed["databases"]] == ["orders"] and int(replayed["rows"]) == 3250, replayed
    assert kubectl.json("get", "pod", pod, namespace=namespace)["metadata"]["uid"] == uid
    assert table_sums(kubectl, namespace, pod) == before, replayed
