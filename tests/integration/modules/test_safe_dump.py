"""The dump is safe in production, on the lab: a backup volume too small for the dump fails clearly, before writing,
and the database pod is neither evicted nor restarted."""
import uuid

import yaml
from velero_lab import SEED, apply, new_namespace


def small_memory_backed_postgres():
    """The seed's StatefulSet hooked by the collection, its backup volume a 1 MiB tmpfs (df shows the limit)."""
    from ansible_collections.appsnap.velero.plugins.module_utils import pg_dump, pod_hooks

    seed = yaml.safe_load(SEED.read_text())
    with_volume = pod_hooks.backup_volume(seed, "postgresql-backup", "/backup", medium="Memory", size_limit="1Mi")
    return pod_hooks.backup_hooks(with_volume, pre=pg_dump.pg_dump_hook("postgres", container="postgresql"), backup_volumes=["postgresql-backup"])


def test_a_backup_volume_too_small_fails_clearly_and_leaves_the_pod_alone(run_module, velero_ready):
    kubectl = velero_ready
    namespace = new_namespace(kubectl, "mod-small")
    try:
        apply(kubectl, namespace, small_memory_backed_postgres())
        kubectl.run("rollout", "status", "statefulset/postgresql", "--timeout=300s", namespace=namespace)
        # About 16 MB of data: more than the 1 MiB volume can take.
        kubectl.run("exec", "postgresql-0", "-c", "postgresql", "--", "bash", "-c",
                    'PGPASSWORD="$POSTGRES_PASSWORD" pgbench -h 127.0.0.1 -U "$POSTGRES_USER" --initialize --quiet --scale=1 postgres',
                    namespace=namespace)
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
