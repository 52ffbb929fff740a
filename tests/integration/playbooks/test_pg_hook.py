"""appsnap.velero.hook on PostgreSQL workloads deployed without this collection (with kubectl), sidecar first.

Each workload is hooked in place (check mode with a diff first, which changes nothing; a second run changes nothing),
backed up with appsnap.velero.backup (the hook runs in the PostgreSQL container, not the first one, and the dump is in
the pod), and unhooked with pg_hook_state=absent, which gives back the pod template exactly as it was.
"""
import json
import uuid

import pytest
from velero_lab import BUSYBOX, describe_failure, failed_task, last_result, new_namespace, wait_until

POSTGRES = "localhost/appsnap/postgres:15"
HOOKED = "appsnap.velero/hooked"
PRE = "pre.hook.backup.velero.io/"
POST_RESTORE = "post.hook.restore.velero.io/"
PATCH_TASK = "Patch the pod template"
PASSWORD = "Pw-" + uuid.uuid4().hex[:8] + "'$\"x"


def sidecar(name):
    """A busybox sidecar that exits at once on SIGTERM, so rollouts do not wait out the grace period."""
    return {"name": name, "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}


def postgres(name="postgres", env=None, env_from=None):
    container = {
        "name": name, "image": POSTGRES, "imagePullPolicy": "Never",
        "env": (env or []) + [{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
        "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1"]}, "periodSeconds": 2},
    }
    if env_from:
        container["envFrom"] = env_from
    return container


def workload(kind, name, containers, annotations, volumes=("data",), replicas=1):
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}, "annotations": annotations},
            "spec": {"terminationGracePeriodSeconds": 5, "containers": containers, "volumes": [{"name": v, "emptyDir": {}} for v in volumes]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def secret(name, **data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def create(kubectl, namespace, *objects):
    kubectl.run("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}), namespace=namespace)


def pod_template(kubectl, namespace, kind, name):
    obj = kubectl.json("get", kind.lower(), name, namespace=namespace)
    return obj["spec"]["template"], obj["metadata"]["generation"]


def running_pod(kubectl, namespace, name):
    """The one pod of the workload once the old ones are gone (a Deployment's rollout leaves them terminating)."""
    pods = []

    def one_ready_pod():
        pods[:] = kubectl.json("get", "pods", "-l", "app=" + name, namespace=namespace)["items"]
        return len(pods) == 1 and all(c.get("ready") for c in pods[0].get("status", {}).get("containerStatuses") or [{}])

    wait_until(one_ready_pod, 180, "one ready pod of " + name)
    return pods[0]


@pytest.fixture
def namespace(kubectl):
    name = new_namespace(kubectl, "pg-hook")
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def hook_and_back_up(run_playbook, kubectl, namespace, kind, name, database, extra=None):
    """The whole story on one workload; returns the hooked pod template."""
    hook_vars = dict({"pg_hook_namespace": namespace, "pg_hook_kind": kind, "pg_hook_name": name}, **(extra or {}))
    before, generation = pod_template(kubectl, namespace, kind, name)

    # Check mode with a diff: the patch would change the pod template, and nothing changes.
    rc, tasks, _out = run_playbook("appsnap.velero.hook", hook_vars, check=True, env={"ANSIBLE_DIFF_ALWAYS": "1"})
    assert rc == 0, describe_failure(tasks)
    patch = last_result(tasks, PATCH_TASK)
    assert patch["changed"] is True
    would_be = patch["diff"]["after"]["spec"]["template"]["metadata"]["annotations"]
    assert would_be[PRE + "container"] == "postgres" and HOOKED in would_be
    assert pod_template(kubectl, namespace, kind, name) == (before, generation)

    rc, tasks, _out = run_playbook("appsnap.velero.hook", hook_vars)
    assert rc == 0, describe_failure(tasks)
    assert last_result(tasks, PATCH_TASK)["changed"] is True
    assert last_result(tasks, "Report what was hooked")["ansible_facts"]["pg_hook_result"]["databases"] == [database]
    hooked, _generation = pod_template(kubectl, namespace, kind, name)
    annotations = hooked["metadata"]["annotations"]
    # Velero would run a hook without a container in the first container, the sidecar.
    assert annotations[PRE + "container"] == "postgres"
    assert "pg_dump" in annotations[PRE + "command"] and annotations[PRE + "on-error"] == "Fail"
    assert {"name": "appsnap-backup", "emptyDir": {}} in hooked["spec"]["volumes"]
    containers = dict((c["name"], c) for c in hooked["spec"]["containers"])
    assert {"name": "appsnap-backup", "mountPath": "/backup"} in containers["postgres"]["volumeMounts"]
    assert hooked["spec"]["containers"][0]["name"] != "postgres"
    assert not any(m["name"] == "appsnap-backup" for m in hooked["spec"]["containers"][0].get("volumeMounts") or [])
    assert "appsnap-backup" in annotations["backup.velero.io/backup-volumes"].split(",")
    for key, value in before["metadata"]["annotations"].items():
        if key != "backup.velero.io/backup-volumes":
            assert annotations[key] == value
    assert set(json.loads(annotations[HOOKED])["volumes"]) == {"appsnap-backup"}

    # A second run finds nothing to do.
    rc, tasks, _out = run_playbook("appsnap.velero.hook", hook_vars)
    assert rc == 0, describe_failure(tasks)
    assert [task for task, result in tasks if result.get("changed")] == []
    assert pod_template(kubectl, namespace, kind, name)[0] == hooked

    # Velero runs the hook in the PostgreSQL container and copies the dump.
    pod = running_pod(kubectl, namespace, name)["metadata"]["name"]
    rc, tasks, _out = run_playbook("appsnap.velero.backup", {
        "snapshot_namespace": namespace, "snapshot_pod": pod, "snapshot_container": "postgres",
        "snapshot_backup_volume": "appsnap-backup", "snapshot_backup_name": namespace + "-" + kind.lower(),
    })
    assert rc == 0, describe_failure(tasks)
    result = last_result(tasks, "Report the backup")["ansible_facts"]["snapshot_result"]
    assert int(result["hooks_attempted"]) >= 1 and int(result["bytes"]) > 0, result
    dump = kubectl.run("exec", pod, "-c", "postgres", "--", "bash", "-c", "ls /backup; cat /backup/backup.sql", namespace=namespace).stdout
    assert "globals.sql" in dump and "CREATE DATABASE %s " % database in dump
    assert PASSWORD not in json.dumps(hooked)

    # Unhook: the pod template is exactly what it was, and removing again changes nothing.
    unhook_vars = dict(hook_vars, pg_hook_state="absent")
    rc, tasks, _out = run_playbook("appsnap.velero.hook", unhook_vars)
    assert rc == 0, describe_failure(tasks)
    assert last_result(tasks, PATCH_TASK)["changed"] is True
    assert pod_template(kubectl, namespace, kind, name)[0] == before
    rc, tasks, _out = run_playbook("appsnap.velero.hook", unhook_vars)
    assert rc == 0, describe_failure(tasks)
    assert [task for task, result in tasks if result.get("changed")] == []
    return hooked


def test_statefulset_with_a_metrics_sidecar_first(run_playbook, kubectl, namespace):
    env = [
        {"name": "POSTGRES_USER", "valueFrom": {"secretKeyRef": {"name": "shop-credentials", "key": "username"}}},
        {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-credentials", "key": "password"}}},
        {"name": "POSTGRES_DB", "value": "shop"},
    ]
    create(kubectl, namespace, secret("shop-credentials", username="shopper", password=PASSWORD),
           workload("StatefulSet", "shop-db", [sidecar("metrics"), postgres(env=env)], {"example.com/owner": "shop-team"}))
    kubectl.run("rollout", "status", "statefulset/shop-db", "--timeout=180s", namespace=namespace)
    hook_and_back_up(run_playbook, kubectl, namespace, "StatefulSet", "shop-db", "shop")


def test_deployment_with_a_proxy_sidecar_first_and_the_replay_hook(run_playbook, kubectl, namespace):
    # POSTGRES_DB unset: the image creates (and the hook dumps) the database named after POSTGRES_USER, from envFrom.
    proxy = dict(sidecar("proxy"), ports=[{"containerPort": 15001}], volumeMounts=[{"name": "cache", "mountPath": "/cache"}])
    create(kubectl, namespace, secret("app-env", POSTGRES_USER="inventory", POSTGRES_PASSWORD=PASSWORD),
           workload("Deployment", "inventory", [proxy, postgres(env_from=[{"secretRef": {"name": "app-env"}}])],
                    {"example.com/team": "stock", "backup.velero.io/backup-volumes": "cache"}, volumes=("data", "cache")))
    kubectl.run("rollout", "status", "deployment/inventory", "--timeout=180s", namespace=namespace)
    hooked = hook_and_back_up(run_playbook, kubectl, namespace, "Deployment", "inventory", "inventory", {"pg_hook_replay_on_restore": True})
    annotations = hooked["metadata"]["annotations"]
    assert annotations[POST_RESTORE + "container"] == "postgres" and annotations[POST_RESTORE + "wait-timeout"] == "10m"
    assert annotations["backup.velero.io/backup-volumes"] == "cache,appsnap-backup"


def test_which_container_is_postgres_must_be_clear(run_playbook, kubectl, namespace):
    env = [{"name": "POSTGRES_PASSWORD", "value": "x"}, {"name": "POSTGRES_DB", "value": "app"}]
    twins = workload("Deployment", "twins", [sidecar("proxy"), postgres("primary", env=env), postgres("replica", env=env)], {}, replicas=0)
    none = workload("Deployment", "no-db", [sidecar("web"), sidecar("worker")], {}, replicas=0)
    create(kubectl, namespace, twins, none)
    generation = {n: pod_template(kubectl, namespace, "Deployment", n)[1] for n in ("twins", "no-db")}

    rc, tasks, _out = run_playbook("appsnap.velero.hook", {"pg_hook_namespace": namespace, "pg_hook_kind": "Deployment", "pg_hook_name": "twins"})
    name, result = failed_task(tasks)
    assert rc != 0 and name.endswith("Check that exactly one container is PostgreSQL's")
    message = " ".join(result["msg"].split())
    assert "Containers primary and replica all look like PostgreSQL" in message, message
    assert "proxy (%s), primary (%s), replica (%s)" % (BUSYBOX, POSTGRES, POSTGRES) in message and "Set pg_hook_container" in message

    rc, tasks, _out = run_playbook("appsnap.velero.hook", {"pg_hook_namespace": namespace, "pg_hook_kind": "Deployment", "pg_hook_name": "no-db"})
    name, result = failed_task(tasks)
    assert rc != 0 and "No container looks like PostgreSQL" in result["msg"] and "Set pg_hook_container" in result["msg"]
    assert {n: pod_template(kubectl, namespace, "Deployment", n)[1] for n in ("twins", "no-db")} == generation

    # Named, the hook goes where it is told.
    rc, tasks, _out = run_playbook("appsnap.velero.hook", {
        "pg_hook_namespace": namespace, "pg_hook_kind": "Deployment", "pg_hook_name": "twins", "pg_hook_container": "replica"})
    assert rc == 0, describe_failure(tasks)
    hooked, _generation = pod_template(kubectl, namespace, "Deployment", "twins")
    assert hooked["metadata"]["annotations"][PRE + "container"] == "replica"
    assert {"name": "appsnap-backup", "mountPath": "/backup"} in hooked["spec"]["containers"][2]["volumeMounts"]
