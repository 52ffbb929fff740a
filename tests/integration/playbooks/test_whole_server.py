"""A real application's PostgreSQL comes back whole through the unchanged playbooks: roles, every database, settings,
owners, grants and rows, on PostgreSQL 15, 17 and 18, and a dump taken on 15 replayed into 17."""
import pathlib
import re
import subprocess
import sys
import uuid

import pytest
from velero_lab import describe_failure

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import pg_state  # noqa: E402  pylint: disable=wrong-import-position

PASSWORD = "Pw-" + uuid.uuid4().hex[:8] + "'$\"x"
# A password hash as PostgreSQL stores it: SCRAM, or md5 and 32 hex digits.
HASH = re.compile(r"SCRAM-SHA-256\$|md5[0-9a-f]{32}")


def image(major):
    return {"postgres_image": "localhost/appsnap/postgres:%s" % major, "postgres_image_pull_policy": "Never"}


def run_sql(kubectl, namespace):
    """``run(sql, database)`` through psql in the database pod, the SQL on standard input (one statement at a time)."""
    def run(sql, database):
        script = 'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" -d "$1"'
        return kubectl.run("exec", "-i", "postgresql-0", "-c", "postgresql", "--", "bash", "-c", script, "psql", database,
                           input=sql, namespace=namespace).stdout
    return run


def deploy_application(run_playbook, kubectl, namespace, major):
    deploy_vars = dict(image(major), postgres_namespace=namespace, postgres_password=PASSWORD, postgres_dump_databases="all")
    rc, tasks, _out = run_playbook("appsnap.velero.deploy", deploy_vars)
    assert rc == 0, describe_failure(tasks)
    run = run_sql(kubectl, namespace)
    assert run("SHOW server_version_num", "postgres").strip().startswith(str(major))
    pg_state.seed_application(run)
    return run


def assert_no_secret(output):
    assert PASSWORD not in output
    assert not HASH.search(output), "a password hash appears in the playbook output: %s" % HASH.search(output).group(0)[:8]


@pytest.mark.parametrize("major", [15, 17, 18])
def test_application_roles_databases_and_grants_come_back_whole(run_playbook, kubectl, major):
    namespace = "pb-app%d-%s" % (major, uuid.uuid4().hex[:6])
    try:
        run = deploy_application(run_playbook, kubectl, namespace, major)
        before = pg_state.server_state(run)
        assert set(before["databases"]) == {"postgres", "shop"} and "shop_report" in before["roles"]
        rc, tasks, out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": namespace}, verbose=True)
        assert rc == 0, describe_failure(tasks)
        assert_no_secret(out)
        kubectl.run("delete", "namespace", namespace, "--timeout=300s")
        rc, tasks, out = run_playbook("appsnap.velero.restore", {"restore_namespace": namespace}, verbose=True)
        assert rc == 0, describe_failure(tasks)
        # No databases, no format: the replay replays what the dump holds (its index, each file's format).
        rc, tasks, out = run_playbook("appsnap.velero.replay", {"pg_replay_namespace": namespace}, verbose=True)
        assert rc == 0, describe_failure(tasks)
        assert_no_secret(out)
        report = next(result for name, result in tasks if name.endswith("Report the replay"))["ansible_facts"]["pg_replay_result"]
        assert sorted(d["database"] for d in report["databases"]) == ["postgres", "shop"] and int(report["rows"]) == 500 + 300 + 1000
        # Both databases checked against the manifest the hook took in each dump's snapshot.
        assert report["verified"] == {"databases": 2, "tables": 3, "rows": 1800, "modes": ["counts"]}, report
        assert pg_state.differences(before, pg_state.server_state(run)) == []
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def test_a_dump_taken_on_15_replays_into_17(run_playbook, kubectl):
    """The upgrade path users take with logical dumps: the hook's dump from 15, replayed by the replay playbook into 17."""
    old, new = "pb-up15-" + uuid.uuid4().hex[:6], "pb-up17-" + uuid.uuid4().hex[:6]
    try:
        run_old = deploy_application(run_playbook, kubectl, old, 15)
        before = pg_state.server_state(run_old)
        rc, tasks, _out = run_playbook("appsnap.velero.backup", {"snapshot_namespace": old})
        assert rc == 0, describe_failure(tasks)
        rc, tasks, _out = run_playbook("appsnap.velero.deploy", dict(image(17), postgres_namespace=new, postgres_password=PASSWORD))
        assert rc == 0, describe_failure(tasks)
        # The dump as the 15 pod's hook wrote it, copied byte for byte into the 17 pod's backup volume.
        copy = ("{k} -n {old} exec postgresql-0 -c postgresql -- tar -C /backup -cf - . | {k} -n {new} exec -i postgresql-0 -c postgresql -- "
                "tar -C /backup -xf -").format(k=" ".join([kubectl.binary, "--kubeconfig", kubectl.kubeconfig]), old=old, new=new)
        subprocess.run(["bash", "-o", "pipefail", "-c", copy], check=True, timeout=120)
        run_new = run_sql(kubectl, new)
        # A role that exists on the target with other attributes is altered to the dumped ones; nothing is lost.
        run_new("CREATE ROLE shop_app NOLOGIN CONNECTION LIMIT 1", "postgres")
        rc, tasks, _out = run_playbook("appsnap.velero.replay", {"pg_replay_namespace": new})
        assert rc == 0, describe_failure(tasks)
        assert run_new("SHOW server_version_num", "postgres").strip().startswith("17")
        assert pg_state.differences(before, pg_state.without_maintain(pg_state.server_state(run_new))) == []
    finally:
        for namespace in (old, new):
            kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)
