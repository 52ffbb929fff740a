"""The restore drill on the lab: a backup taken under pgbench load restores into a scratch namespace and matches its
manifest exactly, while the source keeps taking writes and is never touched; the freshness check reads what the drill
recorded; a dump altered after its manifest fails the drill, naming the table, and the drill still cleans up.
One deployment serves every test (module scope)."""
import json
import pathlib
import subprocess
import uuid

import pytest
from velero_lab import describe_failure, failed_task, run_with_runner

HERE = pathlib.Path(__file__).resolve().parent
PASSWORD = "Pw-" + uuid.uuid4().hex[:8]
LAB_IMAGE = {"postgres_image": "localhost/appsnap/postgres:15", "postgres_image_pull_policy": "Never"}
PGBENCH = 'PGPASSWORD="$POSTGRES_PASSWORD" pgbench -h 127.0.0.1 -U "$POSTGRES_USER" --no-vacuum --client=2'


# Deletes the first row of pgbench_tellers from the published dump, whichever compression it has (plain-compressed by default).
ALTER_DUMP = (
    "for f in /backup/backup.sql.zst /backup/backup.sql.gz /backup/backup.sql; do [ -e \"$f\" ] || continue; "
    "case \"$f\" in *.zst) r='zstd -dc'; w='zstd -q';; *.gz) r='gzip -dc'; w='gzip -1';; *) r=cat; w=cat;; esac; "
    "$r \"$f\" | sed '/^COPY public.pgbench_tellers /{n;d}' | $w > /backup/.altered && mv /backup/.altered \"$f\"; done"
)


def psql(kubectl, namespace, sql):
    script = 'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" -d postgres -c "$1"'
    return kubectl.run("exec", "postgresql-0", "--", "bash", "-c", script, "psql", sql, namespace=namespace).stdout.strip()


def in_pod(kubectl, namespace, script):
    return subprocess.Popen([kubectl.binary, "--kubeconfig", kubectl.kubeconfig, "-n", namespace, "exec", "postgresql-0", "--", "bash", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def source(run_playbook, kubectl):
    """A deployed, seeded PostgreSQL and one backup taken while pgbench wrote, with the manifest its dump recorded."""
    namespace = "drill-" + uuid.uuid4().hex[:6]
    try:
        rc, tasks, _out = run_playbook("appsnap.velero.deploy", dict(LAB_IMAGE, postgres_namespace=namespace, postgres_password=PASSWORD))
        assert rc == 0, describe_failure(tasks)
        rc, tasks, _out = run_playbook(str(HERE / "files" / "seed.yml"), {"pg_data_namespace": namespace})
        assert rc == 0, describe_failure(tasks)
        load = in_pod(kubectl, namespace, PGBENCH + " --time=20 postgres")
        try:
            backup = namespace + "-load"
            rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": namespace, "snapshot_backup_name": backup})
            assert rc == 0, describe_failure(tasks)
        finally:
            output, _err = load.communicate(timeout=180)
        assert "number of transactions actually processed" in output, output
        manifest = json.loads(kubectl.run("exec", "postgresql-0", "--", "cat", "/backup/backup.manifest.json", namespace=namespace).stdout)
        tables = manifest["databases"][0]["tables"]
        yield {"namespace": namespace, "backup": backup, "tables": {name: entry["rows"] for name, entry in tables.items()}}
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def untouched_state(kubectl, namespace):
    """What a drill must leave as it was in the source: the pod (uid, restarts), the objects' versions, the rows pgbench never writes."""
    pod = kubectl.json("get", "pod", "postgresql-0", namespace=namespace)
    objects = kubectl.json("get", "statefulset,service,secret,pvc,configmap", namespace=namespace)["items"]
    return {
        "pod_uid": pod["metadata"]["uid"],
        "restarts": [status["restartCount"] for status in pod["status"]["containerStatuses"]],
        "versions": sorted((o["kind"], o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in objects),
        "untouched_rows": psql(kubectl, namespace, "SELECT (SELECT count(*) FROM pgbench_accounts), "
                                                   "(SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM appsnap_types AS t)"),
    }


def scratch_leftovers(kubectl, scratch):
    namespace = kubectl.run("get", "namespace", scratch, "--ignore-not-found", "-o", "name").stdout.strip()
    volumes = [pv["metadata"]["name"] for pv in kubectl.json("get", "pv")["items"] if (pv["spec"].get("claimRef") or {}).get("namespace") == scratch]
    return namespace, volumes


def test_drill_matches_the_manifest_while_production_writes(source, kubectl, velero_ready):
    namespace, backup = source["namespace"], source["backup"]
    scratch = namespace + "-drill"
    # The check is not trivially equal: the backup holds pgbench's writes of the backup's moment.
    assert source["tables"]["public.pgbench_history"] > 0, source
    before = untouched_state(kubectl, namespace)
    assert before["restarts"] == [0]
    writer = in_pod(kubectl, namespace, 'while [ ! -e /tmp/stop-writer ]; do %s --time=3 postgres >/dev/null || exit 1; done; echo stopped' % PGBENCH)
    try:
        status, failures, _stdout, artifacts = run_with_runner(
            "appsnap.velero.drill", {"drill_namespace": namespace, "drill_backup_name": backup}, {"K8S_AUTH_KUBECONFIG": kubectl.kubeconfig})
    finally:
        kubectl.run("exec", "postgresql-0", "--", "touch", "/tmp/stop-writer", namespace=namespace)
        output, _err = writer.communicate(timeout=120)
    assert status == "successful", failures
    assert output.strip() == "stopped", output

    # AWX's artifacts: the drill, and the restore and replay it ran.
    drill = artifacts["appsnap_drill"]
    manifest_rows = sum(source["tables"].values())
    assert (drill["ok"], drill["verified"], drill["backup"], drill["namespace"], drill["scratch_namespace"], drill["scratch_deleted"]) == (
        True, True, backup, namespace, scratch, True), drill
    assert (int(drill["tables"]), int(drill["rows"])) == (len(source["tables"]), manifest_rows), drill
    assert (int(drill["verified_tables"]), int(drill["verified_rows"])) == (len(source["tables"]), manifest_rows), drill
    assert int(drill["bytes"]) > 0 and float(drill["restore_seconds"]) > 0 and float(drill["replay_seconds"]) > 0, drill
    assert artifacts["appsnap_restore"]["backup"] == backup and artifacts["appsnap_restore"]["namespaces"] == {namespace: scratch}, artifacts
    replay = artifacts["appsnap_pg_replay"]
    assert replay["ok"] is True and int(replay["rows"]) == manifest_rows and int(replay["verified"]["rows"]) == manifest_rows, artifacts

    # Production moved on (so matching the manifest was not matching the live database), and the drill touched nothing there.
    live_history = int(psql(kubectl, namespace, "SELECT count(*) FROM pgbench_history"))
    assert live_history > source["tables"]["public.pgbench_history"], (live_history, source["tables"])
    assert untouched_state(kubectl, namespace) == before
    assert scratch_leftovers(kubectl, scratch) == ("", [])

    # The Backup records the drill, and the freshness check finds it.
    annotations = kubectl.json("-n", "velero", "get", "backup", backup)["metadata"]["annotations"]
    assert annotations["appsnap.velero/verified-rows"] == str(manifest_rows) and annotations["appsnap.velero/verified-in"] == scratch
    assert annotations["appsnap.velero/verified-at"].endswith("Z")


def test_freshness_finds_the_newest_drilled_backup(source, run_playbook):
    namespace, backup = source["namespace"], source["backup"]
    rc, tasks, _out = run_playbook("appsnap.velero.freshness", {"freshness_namespace": namespace, "freshness_max_age": "1h"})
    if rc != 0 and "was verified by a restore drill" in describe_failure(tasks):
        pytest.fail("no drilled backup: test_drill_matches_the_manifest_while_production_writes must run first")
    assert rc == 0, describe_failure(tasks)
    assert [result for name, result in tasks if name.startswith("The newest drill-verified")][0]["name"] == backup

    rc, tasks, _out = run_playbook("appsnap.velero.freshness", {"freshness_namespace": namespace, "freshness_max_age": "1s"}, check=True)
    name, result = failed_task(tasks)
    assert rc != 0 and "older than max_age 1s" in result["msg"] and "appsnap.velero.drill" in result["msg"], result["msg"]

    rc, tasks, _out = run_playbook("appsnap.velero.freshness", {"freshness_namespace": "drill-never-" + uuid.uuid4().hex[:6]})
    name, result = failed_task(tasks)
    assert rc != 0 and "was verified by a restore drill" in result["msg"] and "Run ansible-playbook appsnap.velero.drill" in result["msg"], result["msg"]


def test_a_drill_that_gives_up_on_its_restore_ends_it_before_deleting_the_copy(source, run_playbook, kubectl):
    """Velero runs one Restore at a time: one left InProgress (its pod-volume restore waiting for a deleted pod) would hold up
    every other restore for hours. A 2 s wait gives up while Velero is still restoring."""
    namespace, backup = source["namespace"], source["backup"]
    scratch = namespace + "-drill"
    before = {r["metadata"]["name"] for r in kubectl.json("-n", "velero", "get", "restores")["items"]}
    rc, tasks, _out = run_playbook("appsnap.velero.drill", {"drill_namespace": namespace, "drill_backup_name": backup, "drill_wait_timeout": 2})
    name, result = [(name, result) for name, result in tasks if result.get("failed")][-1]
    assert rc != 0 and name.endswith("Fail with what went wrong, after the clean-up"), describe_failure(tasks)
    assert "failed at the restore" in result["msg"] and "Raise wait_timeout" in result["msg"], result["msg"]
    ours = [r for r in kubectl.json("-n", "velero", "get", "restores")["items"] if r["metadata"]["name"] not in before
            and r["spec"].get("namespaceMapping") == {namespace: scratch}]
    assert len(ours) == 1 and ours[0]["status"]["phase"] in ("Completed", "PartiallyFailed", "Failed"), ours
    assert scratch_leftovers(kubectl, scratch) == ("", [])


def test_a_dump_altered_after_its_manifest_fails_the_drill_which_cleans_up(source, run_playbook, kubectl):
    """Test-only corruption: the live pod's pre-backup hook (its annotation, read by Velero at backup time) runs the dump,
    then deletes one row of pgbench_tellers from the published dump before Velero uploads it. Runs last: it makes a newer backup."""
    namespace = source["namespace"]
    scratch = namespace + "-drill"
    key = "pre.hook.backup.velero.io/command"
    hook = kubectl.json("get", "pod", "postgresql-0", namespace=namespace)["metadata"]["annotations"][key]
    altered = json.loads(hook)
    altered[-1] += "\n" + ALTER_DUMP
    kubectl.run("annotate", "--overwrite", "pod", "postgresql-0", "%s=%s" % (key, json.dumps(altered)), namespace=namespace)
    try:
        backup = namespace + "-altered"
        rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": namespace, "snapshot_backup_name": backup})
        assert rc == 0, describe_failure(tasks)
    finally:
        kubectl.run("annotate", "--overwrite", "pod", "postgresql-0", "%s=%s" % (key, hook), namespace=namespace)
    before = untouched_state(kubectl, namespace)

    # The newest backup of the namespace is the default: the altered one.
    rc, tasks, _out = run_playbook("appsnap.velero.drill", {"drill_namespace": namespace})
    # The replay's failure is rescued; the clean-up runs, then the drill fails with it.
    name, result = [(name, result) for name, result in tasks if result.get("failed")][-1]
    assert rc != 0 and name.endswith("Fail with what went wrong, after the clean-up"), describe_failure(tasks)
    assert "The drill of backup %s failed at the replay and verification" % backup in result["msg"], result["msg"]
    assert "public.pgbench_tellers: 10 rows in the manifest, 9 rows restored" in result["msg"], result["msg"]
    assert "The scratch namespace %s and its volumes were deleted" % scratch in result["msg"], result["msg"]
    assert scratch_leftovers(kubectl, scratch) == ("", [])
    assert untouched_state(kubectl, namespace) == before
    assert "appsnap.velero/verified-at" not in (kubectl.json("-n", "velero", "get", "backup", backup)["metadata"].get("annotations") or {})


def test_the_drill_refuses_a_scratch_namespace_it_did_not_create(source, run_playbook, kubectl):
    namespace = source["namespace"]
    # Check mode: the Restore is a server-side dry run, nothing is created, so nothing is deleted either.
    restores = len(kubectl.json("-n", "velero", "get", "restores")["items"])
    rc, tasks, _out = run_playbook("appsnap.velero.drill", {"drill_namespace": namespace}, check=True)
    assert rc == 0, describe_failure(tasks)
    assert [result for name, result in tasks if name.endswith("Restore the backup")][0]["changed"] is True
    assert len(kubectl.json("-n", "velero", "get", "restores")["items"]) == restores
    assert scratch_leftovers(kubectl, namespace + "-drill") == ("", [])

    taken = "drill-taken-" + uuid.uuid4().hex[:6]
    kubectl.run("create", "namespace", taken)
    try:
        rc, tasks, _out = run_playbook("appsnap.velero.drill", {"drill_namespace": namespace, "drill_scratch_namespace": taken})
        name, result = failed_task(tasks)
        assert rc != 0 and "Namespace %s exists" % taken in result["msg"] and "drill_scratch_namespace" in result["msg"], result["msg"]
        assert scratch_leftovers(kubectl, taken)[0] == "namespace/" + taken
    finally:
        kubectl.run("delete", "namespace", taken, "--wait=false", check=False)
    rc, tasks, _out = run_playbook("appsnap.velero.drill", {"drill_namespace": namespace, "drill_scratch_namespace": namespace})
    name, result = failed_task(tasks)
    assert rc != 0 and "is the source namespace" in result["msg"], result["msg"]
