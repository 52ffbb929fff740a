"""The dump is safe in production, on the lab: a backup volume too small for the dump fails clearly, before writing,
and the database pod is neither evicted nor restarted; a lock held by DDL makes the dump give up within its
lock-wait timeout, with pg_dump's message, keeping the last dump, while the application's queries go on."""
import subprocess
import threading
import time
import uuid

import yaml
from velero_lab import SEED, apply, new_namespace


def hooked_seed(volume_options, dump_options):
    """The seed's StatefulSet hooked by the collection's filters, with these backup volume and dump options."""
    from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump
    from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks

    seed = yaml.safe_load(SEED.read_text())
    with_volume = pod_hooks.backup_volume(seed, "postgresql-backup", "/backup", **volume_options)
    hook = pg_dump.pg_dump_hook("postgres", container="postgresql", **dump_options)
    return pod_hooks.backup_hooks(with_volume, pre=hook, backup_volumes=["postgresql-backup"])


def deploy_seeded(kubectl, namespace, manifest):
    apply(kubectl, namespace, manifest)
    kubectl.run("rollout", "status", "statefulset/postgresql", "--timeout=300s", namespace=namespace)
    # About 16 MB of data.
    kubectl.run("exec", "postgresql-0", "-c", "postgresql", "--", "bash", "-c",
                'PGPASSWORD="$POSTGRES_PASSWORD" pgbench -h 127.0.0.1 -U "$POSTGRES_USER" --initialize --quiet --scale=1 postgres',
                namespace=namespace)


def psql_argv(kubectl, namespace, sql):
    return [kubectl.binary, "--kubeconfig", kubectl.kubeconfig, "-n", namespace, "exec", "postgresql-0", "-c", "postgresql", "--", "bash", "-c",
            'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" -d postgres -c "$1"', "psql", sql]


def test_a_ddl_lock_makes_the_dump_give_up_within_its_lock_wait_timeout(run_module, velero_ready):
    kubectl = velero_ready
    namespace = new_namespace(kubectl, "mod-lock")
    try:
        deploy_seeded(kubectl, namespace, hooked_seed({}, {"lock_wait_timeout": "3s", "timeout": "2m"}))
        good = run_module("backup", {"name": "lock-good-" + uuid.uuid4().hex[:6], "included_namespaces": [namespace], "ttl": "1h"})
        assert good.get("failed") is not True, good.get("msg")
        dump = kubectl.run("exec", "postgresql-0", "-c", "postgresql", "--", "md5sum", "/backup/backup.sql", namespace=namespace).stdout
        # DDL holds pgbench_accounts for 40 s, as a migration would.
        ddl = subprocess.Popen(psql_argv(kubectl, namespace, "BEGIN; LOCK TABLE pgbench_accounts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(40); COMMIT;"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            results = []
            start = time.monotonic()
            backup = threading.Thread(target=lambda: results.append(run_module(
                "backup", {"name": "lock-" + uuid.uuid4().hex[:6], "included_namespaces": [namespace], "ttl": "1h"})))
            backup.start()
            # While the dump waits for its lock, the application's other queries go on; only the DDL's own table waits, for the DDL.
            time.sleep(4)
            query_start = time.monotonic()
            subprocess.run(psql_argv(kubectl, namespace, "SELECT sum(bbalance) FROM pgbench_branches"), check=True, capture_output=True, timeout=60)
            query = time.monotonic() - query_start
            backup.join(timeout=300)
            took = time.monotonic() - start
            result = results[0]
        finally:
            ddl.kill()
            ddl.wait(timeout=30)
        assert result.get("failed") is True
        # The manifest's count, in the snapshot pg_dump would dump, waits for the lock no longer than pg_dump would.
        assert "canceling statement due to lock timeout" in result["msg"] and "pgbench_accounts" in result["msg"], result["msg"]
        # The whole backup (Ansible, Velero, the hook, the failure's log) within a bound far below the 40 s lock.
        assert took < 30, "the backup took %.0fs behind a 40s lock; the lock-wait timeout is 3s" % took
        assert query < 3, "an application query on another table took %.1fs" % query
        assert kubectl.run("exec", "postgresql-0", "-c", "postgresql", "--", "md5sum", "/backup/backup.sql", namespace=namespace).stdout == dump
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def test_a_backup_volume_too_small_fails_clearly_and_leaves_the_pod_alone(run_module, velero_ready):
    kubectl = velero_ready
    namespace = new_namespace(kubectl, "mod-small")
    try:
        # About 16 MB of data: more than a 1 MiB memory-backed volume (df shows its limit) can take.
        deploy_seeded(kubectl, namespace, hooked_seed({"medium": "Memory", "size_limit": "1Mi"}, {}))
        pod = kubectl.json("get", "pod", "postgresql-0", namespace=namespace)
        name = "small-" + uuid.uuid4().hex[:8]
        result = run_module("backup", {"name": name, "included_namespaces": [namespace], "ttl": "1h"})
        assert result.get("failed") is True
        assert "MiB free; grow the backup volume, or dump fewer databases. Nothing was written." in result["msg"], result["msg"]
        after = kubectl.json("get", "pod", "postgresql-0", namespace=namespace)
        assert after["metadata"]["uid"] == pod["metadata"]["uid"], "the database pod was replaced"
        assert after["status"]["phase"] == "Running" and after["status"].get("reason") != "Evicted"
        assert [c["restartCount"] for c in after["status"]["containerStatuses"]] == [c["restartCount"] for c in pod["status"]["containerStatuses"]]
        listing = kubectl.run("exec", "postgresql-0", "-c", "postgresql", "--", "ls", "-A", "/backup", namespace=namespace).stdout.split()
        assert listing == [], "the failed dump left %s" % listing
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)
