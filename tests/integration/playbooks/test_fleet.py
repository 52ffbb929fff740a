"""The fleet playbook on the lab: two namespaces backed up in one Velero backup, deleted, restored and replayed in one run,
each getting back its own data."""
import concurrent.futures
import json
import os
import tempfile
import uuid

from velero_lab import describe_failure, failed_task

PASSWORD = "Pw-" + uuid.uuid4().hex[:8]
LAB_IMAGE = {"postgres_image": "localhost/appsnap/postgres:15", "postgres_image_pull_policy": "Never"}
HERE = os.path.dirname(os.path.abspath(__file__))


def psql(kubectl, namespace, sql):
    script = 'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" -d postgres -c "$1"'
    return kubectl.run("exec", "postgresql-0", "--", "bash", "-c", script, "psql", sql, namespace=namespace).stdout.strip()


def test_fleet_brings_back_each_namespace_its_own_data(run_playbook, kubectl):
    tag = uuid.uuid4().hex[:6]
    namespaces = ["fleet-%s-a" % tag, "fleet-%s-b" % tag]
    summary = os.path.join(tempfile.mkdtemp(), "fleet.json")
    try:
        # Deployed side by side: set-up, not what the test is about.
        with concurrent.futures.ThreadPoolExecutor(len(namespaces)) as pool:
            deployed = list(pool.map(lambda ns: run_playbook("appsnap.velero.deploy", dict(LAB_IMAGE, postgres_namespace=ns, postgres_password=PASSWORD)),
                                     namespaces))
        for rc, tasks, _out in deployed:
            assert rc == 0, describe_failure(tasks)
        rc, tasks, _out = run_playbook(os.path.join(HERE, "files", "seed.yml"), {"pg_data_namespaces": namespaces})
        assert rc == 0, describe_failure(tasks)
        # pgbench's tables are alike in both namespaces: a row naming its namespace tells them apart.
        for namespace in namespaces:
            psql(kubectl, namespace, "CREATE TABLE fleet_marker (namespace text); INSERT INTO fleet_marker VALUES ('%s')" % namespace)

        rc, tasks, stdout = run_playbook("appsnap.velero.fleet", {"fleet_namespaces": namespaces, "fleet_summary_file": summary})
        assert rc == 0, describe_failure(tasks)
        with open(summary) as handle:
            result = json.load(handle)
        assert result["checksums_match"] is True
        assert int(result["tables"]) == 2 * 6  # 4 pgbench tables, appsnap_types and fleet_marker in each
        assert int(result["rows"]) == 2 * (100000 + 10 + 1 + 500 + 1)
        # One backup holds both namespaces, and both were deleted and restored from it.
        assert len(set(result["backups"].values())) == 1
        backup = json.loads(kubectl.run("get", "backups.velero.io", result["backups"][namespaces[0]], "-o", "json", namespace="velero").stdout)
        assert sorted(backup["spec"]["includedNamespaces"]) == sorted(namespaces)
        for namespace in namespaces:
            assert psql(kubectl, namespace, "SELECT namespace FROM fleet_marker") == namespace
            pod = json.loads(kubectl.run("get", "pod", "postgresql-0", "-o", "json", namespace=namespace).stdout)
            assert pod["metadata"]["labels"].get("velero.io/backup-name") == result["backups"][namespace], "%s/postgresql-0 is not restored" % namespace
        assert PASSWORD not in stdout
    finally:
        for namespace in namespaces:
            kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def test_fleet_without_namespaces_names_the_fix(run_playbook):
    rc, tasks, _out = run_playbook("appsnap.velero.fleet", {"fleet_namespaces": "shop"})
    name, result = failed_task(tasks)
    assert rc != 0 and name == "Check the input"
    assert "Set fleet_namespaces to a list of distinct namespaces" in result["msg"] and '"shop"' in result["msg"]
