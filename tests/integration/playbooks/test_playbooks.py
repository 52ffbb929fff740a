"""The playbooks on the lab: the full cycle proves nothing is lost, and each fault fails clearly and loses nothing."""
import json
import os
import pathlib
import subprocess
import tempfile
import time
import uuid

import pytest
from velero_lab import describe_failure, failed_task, last_result

HERE = pathlib.Path(__file__).resolve().parent
PASSWORD = "Pw-" + uuid.uuid4().hex[:8] + "'$\"x"
LAB_IMAGE = {"postgres_image": "localhost/appsnap/postgres:15", "postgres_image_pull_policy": "Never"}


def psql(kubectl, namespace, sql):
    script = 'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" -d postgres -c "$1"'
    return kubectl.run("exec", "postgresql-0", "--", "bash", "-c", script, "psql", sql, namespace=namespace).stdout.strip()


@pytest.mark.parametrize("dump_format, jobs, replay_on_restore, image", [
    ("plain", 1, False, LAB_IMAGE["postgres_image"]), ("custom", 1, False, LAB_IMAGE["postgres_image"]),
    ("directory", 2, False, LAB_IMAGE["postgres_image"]),
    # Velero's post-restore exec hook replays instead of the pg_replay role (the seed calls restore hooks untested).
    ("directory", 2, True, LAB_IMAGE["postgres_image"]),
    # PostgreSQL 17 with the zstd program: pg_dump writes zstd, psql replays it through zstd -dc.
    ("plain-compressed", 1, False, "localhost/appsnap/postgres:17"),
], ids=["plain", "custom", "directory-jobs2", "directory-jobs2-restore-hook", "plain-compressed-zstd-17"])
def test_full_cycle_keeps_every_row_and_checksum(run_playbook, kubectl, dump_format, jobs, replay_on_restore, image):
    namespace = "pb-site-" + uuid.uuid4().hex[:6]
    summary = os.path.join(tempfile.mkdtemp(), "summary.json")
    try:
        rc, tasks, stdout = run_playbook("appsnap.velero.site", {
            "appsnap_namespace": namespace, "appsnap_postgres_password": PASSWORD, "appsnap_summary_file": summary,
            "appsnap_postgres_image": image, "appsnap_postgres_image_pull_policy": "Never",
            "appsnap_dump_format": dump_format, "appsnap_jobs": jobs, "appsnap_replay_on_restore": replay_on_restore,
        })
        assert rc == 0, describe_failure(tasks)
        with open(summary) as handle:
            result = json.load(handle)
        assert (result["dump_format"], int(result["jobs"])) == (dump_format, jobs)
        assert result["replayed_by"] == ("velero restore hook" if replay_on_restore else "pg_replay role")
        assert (int(result["restore_hooks_attempted"]), int(result["restore_hooks_failed"])) == ((1, 0) if replay_on_restore else (0, 0))
        assert result["checksums_match"] is True
        assert result["tables"] == 5  # 4 pgbench tables and appsnap_types
        assert result["rows_before"] == result["rows_after"] >= 100000 + 500
        assert int(result["backup_bytes"]) > 0
        assert PASSWORD not in stdout
        statefulset = kubectl.run("get", "statefulset", "postgresql", "-o", "json", namespace=namespace).stdout
        assert PASSWORD not in statefulset and json.dumps(PASSWORD)[1:-1] not in statefulset
        view = psql(kubectl, namespace, "SELECT rows FROM appsnap_types_summary")
        assert view == "500"
        assert psql(kubectl, namespace, "SELECT nextval('appsnap_ticket_seq') > 1000 + 7 * 499") == "t"
        if dump_format == "plain-compressed":
            # The restored volume holds the zstd dump, and Velero moved a fraction of the plain dump's ~9.5 MB.
            listing = kubectl.run("exec", "postgresql-0", "--", "ls", "/backup", namespace=namespace).stdout.split()
            assert "backup.sql.zst" in listing and "backup.sql" not in listing and "backup.sql.gz" not in listing
            assert int(result["backup_bytes"]) < 3000000
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture
def deployed(run_playbook, kubectl):
    """A namespace with the role-deployed Postgres, seeded, and one good backup."""
    namespace = "pb-fault-" + uuid.uuid4().hex[:6]
    # The format plain: the fault tests compare the tutorial's backup.sql byte for byte.
    deploy_vars = dict(LAB_IMAGE, postgres_namespace=namespace, postgres_password=PASSWORD, postgres_dump_timeout="20s", postgres_dump_format="plain")
    rc, tasks, _out = run_playbook("appsnap.velero.deploy", deploy_vars)
    assert rc == 0, describe_failure(tasks)
    rc, tasks, _out = run_playbook(str(HERE / "files" / "seed.yml"), {"pg_data_namespace": namespace})
    assert rc == 0, describe_failure(tasks)
    rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": namespace})
    assert rc == 0, describe_failure(tasks)
    yield namespace
    kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def dump_state(kubectl, namespace):
    """The published dump: its files (a dump still running stages in a hidden directory, not listed) and their content."""
    return kubectl.run("exec", "postgresql-0", "--", "bash", "-c", "md5sum /backup/backup.sql /backup/globals.sql; stat -c %Y /backup/backup.sql; ls /backup",
                       namespace=namespace).stdout


def pg_dump_processes(kubectl, namespace):
    """The command lines of pg_dump processes running in the database container (the image has no pgrep)."""
    script = 'for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done | grep "^pg_dump " || true'
    return kubectl.run("exec", "postgresql-0", "--", "bash", "-c", script, namespace=namespace).stdout.split("\n")[:-1]


def test_faults_fail_clearly_and_keep_the_last_good_dump(run_playbook, kubectl, deployed):
    namespace = deployed
    good = dump_state(kubectl, namespace)

    # Replay into the live, non-empty database without consent.
    rc, tasks, _out = run_playbook("appsnap.velero.replay", {"pg_replay_namespace": namespace})
    name, result = failed_task(tasks)
    assert rc != 0 and "already holds 5 user table(s)" in result["msg"] and "pg_replay_clean=true" in result["msg"]

    # pg_dump fails: the password in the pod's environment no longer matches the database.
    psql(kubectl, namespace, "ALTER ROLE postgres PASSWORD 'changed-behind-the-pods-back'")
    rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": namespace})
    name, result = failed_task(tasks)
    assert rc != 0 and name.endswith("Back up the namespace, running its pg_dump hooks")
    assert result["hooks_failed"] == 1 and "password authentication failed" in result["msg"], result["msg"]
    assert dump_state(kubectl, namespace) == good

    # The hook times out: a lock keeps pg_dump waiting past the 20s hook timeout.
    kubectl.run("exec", "postgresql-0", "--", "bash", "-c",
                "echo \"ALTER ROLE postgres PASSWORD :'pw';\" | PGPASSWORD=changed-behind-the-pods-back "
                'psql -v ON_ERROR_STOP=1 -v pw="$POSTGRES_PASSWORD" -h 127.0.0.1 -U postgres -d postgres',
                namespace=namespace)
    locker = subprocess.Popen([kubectl.binary, "--kubeconfig", kubectl.kubeconfig, "-n", namespace, "exec", "postgresql-0", "--", "bash", "-c",
                               'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d postgres -c '
                               '"BEGIN; LOCK TABLE pgbench_accounts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(40); COMMIT;"'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": namespace})
        name, result = failed_task(tasks)
        # The dump stops itself before Velero's 20s: 18s, killed with its children, with the reason in the hook's stderr.
        assert rc != 0 and "did not finish within 18s" in result["msg"], result["msg"]
        assert dump_state(kubectl, namespace) == good
        assert pg_dump_processes(kubectl, namespace) == [], "a pg_dump outlived its backup"
    finally:
        locker.wait(timeout=120)

    # The Velero server is down when the backup starts.
    kubectl.run("-n", "velero", "scale", "deploy/velero", "--replicas=0")
    try:
        kubectl.run("-n", "velero", "wait", "--for=delete", "pod", "-l", "deploy=velero", "--timeout=120s")
        rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": namespace})
        name, result = failed_task(tasks)
        assert rc != 0 and "The Velero server is not answering" in result["msg"]
    finally:
        kubectl.run("-n", "velero", "scale", "deploy/velero", "--replicas=1")
        kubectl.run("-n", "velero", "rollout", "status", "deploy/velero", "--timeout=180s")
        kubectl.run("-n", "velero", "wait", "--for=jsonpath={.status.phase}=Available", "bsl/default", "--timeout=180s")


def test_restore_refuses_an_existing_namespace_without_consent(run_playbook, deployed):
    rc, tasks, _out = run_playbook("appsnap.velero.restore", {"restore_namespace": deployed})
    name, result = failed_task(tasks)
    assert rc != 0 and "restore_existing_namespace=true" in result["msg"]


def test_a_pod_that_is_not_there_fails_fast_naming_the_pods_there(run_playbook, deployed):
    """A restore (which waits for its pods to be Ready) and a replay, given a pod name the namespace lacks."""
    started = time.monotonic()
    rc, tasks, _out = run_playbook(str(HERE / "files" / "pods.yml"), {
        "pods_namespaces": [deployed], "pods_pod": "postgresql-9", "pods_appear_timeout": 4, "pods_wait_timeout": 600})
    assert rc != 0 and time.monotonic() - started < 60
    msg = failed_task(tasks)[1]["msg"]
    assert "Pod postgresql-9 is not in namespace %s; the pods there are postgresql-0." % deployed in msg, msg
    rc, tasks, _out = run_playbook("appsnap.velero.replay", {"pg_replay_namespace": deployed, "pg_replay_pod": "postgresql-9"})
    assert rc != 0 and "the pods there are postgresql-0" in failed_task(tasks)[1]["msg"], describe_failure(tasks)


def test_check_mode_changes_nothing(run_playbook, kubectl, deployed):
    before = kubectl.json("-n", "velero", "get", "backups")["items"]
    rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": deployed}, check=True)
    assert rc == 0, describe_failure(tasks)
    assert last_result(tasks, "Back up the namespace, running its pg_dump hooks")["changed"] is True
    assert len(kubectl.json("-n", "velero", "get", "backups")["items"]) == len(before)
    rc, tasks, _out = run_playbook("appsnap.velero.replay", {"pg_replay_namespace": deployed, "pg_replay_clean": True}, check=True)
    assert rc == 0, describe_failure(tasks)
    assert psql(kubectl, deployed, "SELECT count(*) FROM pgbench_branches") == "1"


def test_consistency_under_pgbench_load(run_playbook, kubectl, deployed):
    namespace = deployed
    load = subprocess.Popen([kubectl.binary, "--kubeconfig", kubectl.kubeconfig, "-n", namespace, "exec", "postgresql-0", "--", "bash", "-c",
                             'PGPASSWORD="$POSTGRES_PASSWORD" pgbench -h 127.0.0.1 -U "$POSTGRES_USER" --client=4 --time=40 --no-vacuum postgres'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": namespace, "snapshot_backup_name": namespace + "-load"})
        assert rc == 0, describe_failure(tasks)
    finally:
        output, _err = load.communicate(timeout=180)
    assert "number of transactions actually processed" in output, output
    kubectl.run("delete", "namespace", namespace, "--timeout=300s")
    rc, tasks, _out = run_playbook("appsnap.velero.restore", {"restore_namespace": namespace, "restore_backup_name": namespace + "-load"})
    assert rc == 0, describe_failure(tasks)
    rc, tasks, _out = run_playbook("appsnap.velero.replay", {"pg_replay_namespace": namespace})
    assert rc == 0, describe_failure(tasks)
    history = int(psql(kubectl, namespace, "SELECT count(*) FROM pgbench_history"))
    assert history > 0, "the backup should contain transactions made under load"
    # pgbench's invariant: every table's balance sum equals the sum of the history deltas.
    sums = psql(kubectl, namespace, "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches), "
                                    "(SELECT sum(tbalance) FROM pgbench_tellers), (SELECT sum(delta) FROM pgbench_history)")
    values = sums.split("|")
    assert len(set(values)) == 1, sums
