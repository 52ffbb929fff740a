"""appsnap.velero.hook on PostgreSQL workloads deployed without this collection (with kubectl), sidecar first.

Each workload is hooked in place (check mode with a diff first, which changes nothing; a second run changes nothing),
backed up with appsnap.velero.backup (the hook runs in the PostgreSQL container, not the first one, and the dump is in
the pod), and unhooked with pg_hook_state=absent, which gives back the pod template exactly as it was.

Then the whole story with the workload variables instead of a pod name: hooked, seeded, backed up, the namespace deleted,
restored and replayed, every table's checksum the same as before - a non-root StatefulSet whose password is only in a
file, and a Deployment in two namespaces at once, with per-pod results.
"""
import json
import re
import uuid

import pytest
from velero_lab import BUSYBOX, checksums, describe_failure, failed_task, in_pod, last_result, new_namespace, running_pod

POSTGRES = "localhost/appsnap/postgres:15"
HOOKED = "appsnap.velero/hooked"
PRE = "pre.hook.backup.velero.io/"
POST_RESTORE = "post.hook.restore.velero.io/"
PATCH_TASK = "Hook the workload in place"
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
    })
    assert rc == 0, describe_failure(tasks)
    result = last_result(tasks, "Report the backup")["ansible_facts"]["snapshot_result"]
    assert int(result["hooks_attempted"]) >= 1 and int(result["bytes"]) > 0, result
    # Unnamed, the backup module names it after the namespace and the UTC time, as Velero names a schedule's backups.
    assert re.fullmatch(re.escape(namespace) + r"-20\d{12}", result["name"]), result["name"]
    # The default format, plain-compressed: gzip from PostgreSQL 15's pg_dump.
    dump = kubectl.run("exec", pod, "-c", "postgres", "--", "bash", "-c", "ls /backup; gzip -dc /backup/backup.sql.gz", namespace=namespace).stdout
    assert "globals.sql" in dump and "backup.sql.gz" in dump and "CREATE DATABASE %s " % database in dump
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
    assert rc != 0 and name.endswith(PATCH_TASK)
    message = " ".join(result["msg"].split())
    assert "Containers primary and replica all look like PostgreSQL" in message, message
    assert "proxy (%s), primary (%s), replica (%s)" % (BUSYBOX, POSTGRES, POSTGRES) in message
    assert "Set container (the pg_hook role's pg_hook_container)" in message

    rc, tasks, _out = run_playbook("appsnap.velero.hook", {"pg_hook_namespace": namespace, "pg_hook_kind": "Deployment", "pg_hook_name": "no-db"})
    name, result = failed_task(tasks)
    assert rc != 0 and "No container looks like PostgreSQL" in result["msg"]
    assert "Set container (the pg_hook role's pg_hook_container)" in result["msg"]
    assert {n: pod_template(kubectl, namespace, "Deployment", n)[1] for n in ("twins", "no-db")} == generation

    # Named, the hook goes where it is told.
    rc, tasks, _out = run_playbook("appsnap.velero.hook", {
        "pg_hook_namespace": namespace, "pg_hook_kind": "Deployment", "pg_hook_name": "twins", "pg_hook_container": "replica"})
    assert rc == 0, describe_failure(tasks)
    hooked, _generation = pod_template(kubectl, namespace, "Deployment", "twins")
    assert hooked["metadata"]["annotations"][PRE + "container"] == "replica"
    assert {"name": "appsnap-backup", "mountPath": "/backup"} in hooked["spec"]["containers"][2]["volumeMounts"]


# ---------------------------------------------------------------------------
# Hooked, backed up, restored and replayed, found by workload or label selector
# ---------------------------------------------------------------------------

# Each namespace's rows name it, so a dump replayed into the wrong pod would not match.
SEED_SQL = """
CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(10, 2), placed timestamptz, items jsonb);
INSERT INTO orders (customer, total, placed, items)
  SELECT 'customer ' || i || ' of {namespace}', i * 1.25, timestamptz '2025-01-01 00:00:00+00' + i * interval '1 minute',
         jsonb_build_object('sku', i % 17, 'n', i % 5)
  FROM generate_series(1, 2000) AS i;
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes SELECT i, repeat(md5(i::text || '{namespace}'), 3) FROM generate_series(1, 300) AS i;
"""


def seed_and_checksum(kubectl, namespace, pod, container, database):
    from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands as pg_commands

    in_pod(kubectl, namespace, pod, container, pg_commands.pg_query(database, SEED_SQL.format(namespace=namespace)))
    return checksums(kubectl, namespace, pod, container, database)


def hook(run_playbook, namespace, kind, name):
    rc, tasks, _out = run_playbook("appsnap.velero.hook", {"pg_hook_namespace": namespace, "pg_hook_kind": kind, "pg_hook_name": name})
    assert rc == 0, describe_failure(tasks)
    return last_result(tasks, "Report what was hooked")["ansible_facts"]["pg_hook_result"]


def round_trip(run_playbook, kubectl, namespaces, kind, name, database, restore_vars):
    """Seed each namespace's pod, back up by workload, delete the namespaces, restore, replay by workload: the data comes back."""
    pods = dict((ns, running_pod(kubectl, ns, name)["metadata"]["name"]) for ns in namespaces)
    before = dict((ns, seed_and_checksum(kubectl, ns, pods[ns], "postgres", database)) for ns in namespaces)
    assert all(len(sums) == 2 and sums["public.orders"]["rows"] == 2000 for sums in before.values()), before
    workload = {"workload_kind": kind, "workload_name": name}

    rc, tasks, _out = run_playbook("appsnap.velero.backup", dict(
        dict(("snapshot_" + k, v) for k, v in workload.items()),
        snapshot_namespaces=namespaces, snapshot_backup_name="-".join(namespaces)))
    assert rc == 0, describe_failure(tasks)
    backup = last_result(tasks, "Report the backup")["ansible_facts"]["snapshot_result"]
    assert [(p["namespace"], p["pod"], p["container"]) for p in backup["pods"]] == [(ns, pods[ns], "postgres") for ns in namespaces]
    assert all(p["matches"] and p["bytes"] > 0 for p in backup["pods"]), backup
    assert int(backup["bytes"]) == sum(p["bytes"] for p in backup["pods"])

    for ns in namespaces:
        kubectl.run("delete", "namespace", ns, "--timeout=300s")
    rc, tasks, _out = run_playbook("appsnap.velero.restore", dict(restore_vars, restore_namespaces=namespaces))
    assert rc == 0, describe_failure(tasks)
    restored = last_result(tasks, "Report the restore")["ansible_facts"]["restore_result"]
    assert restored["backup_name"] == backup["name"]
    assert [(p["namespace"], p["pod"], p["container"]) for p in restored["pods"]] == [(ns, pods[ns], "postgres") for ns in namespaces]

    rc, tasks, _out = run_playbook("appsnap.velero.replay", dict(
        dict(("pg_replay_" + k, v) for k, v in workload.items()), pg_replay_namespaces=namespaces, pg_replay_databases=[database]))
    assert rc == 0, describe_failure(tasks)
    replayed = last_result(tasks, "Report the replay")["ansible_facts"]["pg_replay_result"]
    assert [(p["namespace"], p["pod"], p["container"], p["ok"]) for p in replayed["pods"]] == [(ns, pods[ns], "postgres", True) for ns in namespaces]
    # Each replay was checked against the manifest the hook took in its dump's snapshot.
    assert all(p["databases"] == [{"database": database, "tables": 2, "rows": 2300, "verified": "counts", "verified_tables": 2, "verified_rows": 2300}]
               for p in replayed["pods"]), replayed
    assert replayed["verified"] == {"databases": len(namespaces), "tables": 2 * len(namespaces), "rows": 2300 * len(namespaces), "modes": ["counts"]}
    assert int(replayed["rows"]) == 2300 * len(namespaces)
    for ns in namespaces:
        assert checksums(kubectl, ns, pods[ns], "postgres", database) == before[ns]
    return backup, restored, replayed


def test_non_root_statefulset_with_the_password_in_a_file_comes_back_whole(run_playbook, kubectl, namespace):
    """Metrics sidecar first; uid 1001 with fsGroup 1001, PGDATA on a custom path, the credentials only in files of a Secret volume."""
    container = postgres(env=[
        {"name": "POSTGRES_USER_FILE", "value": "/run/secrets/db/username"},
        {"name": "POSTGRES_PASSWORD_FILE", "value": "/run/secrets/db/password"},
        {"name": "POSTGRES_DB", "value": "shop"},
    ])
    container["env"] = [e for e in container["env"] if e["name"] != "PGDATA"] + [{"name": "PGDATA", "value": "/srv/pg/cluster/main"}]
    container["volumeMounts"] = [{"name": "data", "mountPath": "/srv/pg"}, {"name": "credentials", "mountPath": "/run/secrets/db", "readOnly": True}]
    container["securityContext"] = {"allowPrivilegeEscalation": False}
    # An exec'd command has no passwd entry for uid 1001 (only the entrypoint's nss_wrapper does), so libpq needs the user named.
    container["readinessProbe"]["exec"]["command"] += ["-U", "postgres"]
    sts = workload("StatefulSet", "shop-db", [sidecar("metrics"), container], {})
    sts["spec"]["template"]["spec"]["securityContext"] = {"runAsUser": 1001, "runAsGroup": 1001, "fsGroup": 1001, "runAsNonRoot": True}
    sts["spec"]["template"]["spec"]["volumes"].append({"name": "credentials", "secret": {"secretName": "shop-db-files", "defaultMode": 0o440}})
    create(kubectl, namespace, secret("shop-db-files", username="shopper", password=PASSWORD), sts)
    kubectl.run("rollout", "status", "statefulset/shop-db", "--timeout=180s", namespace=namespace)
    assert hook(run_playbook, namespace, "StatefulSet", "shop-db")["databases"] == ["shop"]
    pod = running_pod(kubectl, namespace, "shop-db")
    assert pod["spec"]["containers"][0]["name"] == "metrics"
    where = in_pod(kubectl, namespace, pod["metadata"]["name"], "postgres", "id -u; echo \"$PGDATA\"; psql -X -At --dbname=shop -c 'SHOW data_directory'")
    assert where.split() == ["1001", "/srv/pg/cluster/main", "/srv/pg/cluster/main"]

    round_trip(run_playbook, kubectl, [namespace], "StatefulSet", "shop-db", "shop",
               {"restore_workload_kind": "StatefulSet", "restore_workload_name": "shop-db"})
    restored = running_pod(kubectl, namespace, "shop-db")
    assert restored["spec"]["securityContext"]["runAsUser"] == 1001
    assert PASSWORD not in json.dumps(restored)


@pytest.fixture
def two_namespaces(kubectl):
    names = [new_namespace(kubectl, "pg-pods-" + side) for side in ("a", "b")]
    yield names
    for name in names:
        kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def test_a_deployment_in_two_namespaces_is_backed_up_restored_and_replayed_per_pod(run_playbook, kubectl, two_namespaces):
    """A proxy-like sidecar first, credentials from a Secret's env; one backup, one restore, one replay for both namespaces."""
    for ns in two_namespaces:
        proxy = dict(sidecar("proxy"), ports=[{"containerPort": 15001}])
        create(kubectl, ns, secret("stock-env", POSTGRES_USER="stock", POSTGRES_PASSWORD=PASSWORD, POSTGRES_DB="stock"),
               workload("Deployment", "stock", [proxy, postgres(env_from=[{"secretRef": {"name": "stock-env"}}])], {}))
        kubectl.run("rollout", "status", "deployment/stock", "--timeout=180s", namespace=ns)
        assert hook(run_playbook, ns, "Deployment", "stock")["container"] == "postgres"

    backup, restored, replayed = round_trip(run_playbook, kubectl, two_namespaces, "Deployment", "stock", "stock",
                                            {"restore_pod_selector": "app=stock"})
    assert len(backup["pods"]) == len(restored["pods"]) == len(replayed["pods"]) == 2
    assert sorted(v["pod_namespace"] for v in restored["volumes"] if v["volume"] == "appsnap-backup") == sorted(two_namespaces)
