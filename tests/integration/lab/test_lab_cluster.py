"""Proof that the lab is a real cluster: pods run, exec works, volumes persist."""
import json
import pathlib
import textwrap
import time

import pytest

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
# images built by lab/images/*.sh and imported by `lab/lab up`
BUSYBOX_IMAGE = "localhost/appsnap/busybox:1.35"
POSTGRES_IMAGE = "localhost/appsnap/postgres:15"
# every major lab/images/postgres.sh builds (15 bookworm, 17 trixie, 18 sid)
POSTGRES_MAJORS = (15, 17, 18)


def apply(kubectl, namespace, manifest):
    kubectl.run("apply", "-f", "-", input=textwrap.dedent(manifest), namespace=namespace)


def wait_pod_ready(kubectl, namespace, pod, timeout=180):
    kubectl.run("wait", "--for=condition=Ready", f"pod/{pod}", f"--timeout={timeout}s",
                namespace=namespace, timeout=timeout + 30)


def simple_pod(name, command, volumes="", mounts="", restart="Always"):
    return f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: {name}}}
    spec:
      restartPolicy: {restart}
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {BUSYBOX_IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", {command!r}]
        {mounts}
      {volumes}
    """


def wait_container_restarted(kubectl, namespace, pod, timeout=120):
    """Wait until the pod's (first) container has restarted in the same pod and is Ready again."""
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        status = kubectl.json("get", "pod", pod, namespace=namespace)
        containers = status["status"].get("containerStatuses", [])
        if containers and containers[0]["restartCount"] >= 1 and containers[0].get("ready"):
            return status
        time.sleep(1)
    raise AssertionError(f"container did not restart: {status and status['status']}")


def psql(kubectl, namespace, pod, query, password, host="127.0.0.1", check=True):
    """Run QUERY with psql in POD as user app, database appdb, over TCP to HOST; the process."""
    return kubectl.run(
        "exec", pod, "--", "bash", "-c",
        f"PGPASSWORD={password} psql -tA -v ON_ERROR_STOP=1 -U app -h {host} -d appdb -c \"{query}\"",
        namespace=namespace, check=check)


def apply_postgres_inputs(kubectl, namespace, password, initdb_scripts, pvc):
    """Secret pgpass (key password), ConfigMap initdb (the /docker-entrypoint-initdb.d files)
    and, when PVC, the claim pgdata: what postgres_pod mounts."""
    objects = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pgpass"}, "stringData": {"password": password}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "initdb"},
         "data": {name: textwrap.dedent(text) for name, text in initdb_scripts.items()}},
    ]
    if pvc:
        objects.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pgdata"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Mi"}}}})
    apply(kubectl, namespace, json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))


def postgres_pod(major, data_mount, data_volume, env=(), secret_mode=0o644, **spec):
    """Pod pg of localhost/appsnap/postgres:MAJOR, POSTGRES_USER app, POSTGRES_DB appdb, the
    password from Secret pgpass (POSTGRES_PASSWORD_FILE), ConfigMap initdb as initdb.d, Ready
    when pg_isready answers on 127.0.0.1; DATA_MOUNT/DATA_VOLUME: the data volume (named data),
    ENV: more variables, SPEC: more pod spec fields. The manifest as JSON."""
    container = {
        "name": "pg", "image": f"localhost/appsnap/postgres:{major}", "imagePullPolicy": "Never",
        "env": [{"name": "POSTGRES_USER", "value": "app"}, {"name": "POSTGRES_DB", "value": "appdb"},
                {"name": "POSTGRES_PASSWORD_FILE", "value": "/secrets/password"}, *env],
        "readinessProbe": {"exec": {"command": ["pg_isready", "-U", "app", "-d", "appdb", "-h", "127.0.0.1"]},
                           "periodSeconds": 2},
        "volumeMounts": [{"name": "data", **data_mount},
                         {"name": "initdb", "mountPath": "/docker-entrypoint-initdb.d"},
                         {"name": "secrets", "mountPath": "/secrets", "readOnly": True}],
    }
    volumes = [{"name": "data", **data_volume}, {"name": "initdb", "configMap": {"name": "initdb"}},
               {"name": "secrets", "secret": {"secretName": "pgpass", "defaultMode": secret_mode}}]
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pg"},
                       "spec": {"terminationGracePeriodSeconds": 10, "containers": [container],
                                "volumes": volumes, **spec}})


def assert_password_required(kubectl, namespace, pod, password):
    """Like the official image: trust on localhost, scram-sha-256 for other hosts (here the pod IP)."""
    pod_ip = kubectl.json("get", "pod", pod, namespace=namespace)["status"]["podIP"]
    wrong = psql(kubectl, namespace, pod, "SELECT 1", "wrong", host=pod_ip, check=False)
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    assert psql(kubectl, namespace, pod, "SELECT 1", password, host=pod_ip).stdout.strip() == "1"


def test_node_ready(kubectl):
    nodes = kubectl.json("get", "nodes")["items"]
    assert len(nodes) == 1
    conditions = {c["type"]: c["status"] for c in nodes[0]["status"]["conditions"]}
    assert conditions["Ready"] == "True", conditions
    assert nodes[0]["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.34.")


def test_deployment_becomes_available(kubectl, namespace):
    apply(kubectl, namespace, f"""
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: web}}
    spec:
      replicas: 2
      selector: {{matchLabels: {{app: web}}}}
      template:
        metadata: {{labels: {{app: web}}}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {BUSYBOX_IMAGE}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    """)
    kubectl.run("rollout", "status", "deployment/web", "--timeout=180s", namespace=namespace, timeout=210)
    dep = kubectl.json("get", "deployment", "web", namespace=namespace)
    assert dep["status"]["availableReplicas"] == 2


def test_statefulset_with_volume_claim_template(kubectl, namespace):
    apply(kubectl, namespace, f"""
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {{name: db}}
    spec:
      replicas: 2
      serviceName: db
      selector: {{matchLabels: {{app: db}}}}
      template:
        metadata: {{labels: {{app: db}}}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {BUSYBOX_IMAGE}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "hostname > /data/who; trap 'exit 0' TERM; while true; do sleep 1; done"]
            volumeMounts: [{{name: data, mountPath: /data}}]
      volumeClaimTemplates:
      - metadata: {{name: data}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 10Mi}}}}
    """)
    kubectl.run("rollout", "status", "statefulset/db", "--timeout=180s", namespace=namespace, timeout=210)
    for i in range(2):
        pvc = kubectl.json("get", "pvc", f"data-db-{i}", namespace=namespace)
        assert pvc["status"]["phase"] == "Bound"
        out = kubectl.run("exec", f"db-{i}", "--", "cat", "/data/who", namespace=namespace).stdout
        assert out.strip() == f"db-{i}"


def test_job_completes(kubectl, namespace):
    apply(kubectl, namespace, f"""
    apiVersion: batch/v1
    kind: Job
    metadata: {{name: once}}
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {BUSYBOX_IMAGE}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "echo job-ran-ok"]
    """)
    kubectl.run("wait", "--for=condition=complete", "job/once", "--timeout=180s", namespace=namespace, timeout=210)
    logs = kubectl.run("logs", "job/once", namespace=namespace).stdout
    assert "job-ran-ok" in logs


def test_exec_returns_output_and_exit_code(kubectl, namespace):
    apply(kubectl, namespace, simple_pod("shell", "trap 'exit 0' TERM; while true; do sleep 1; done"))
    wait_pod_ready(kubectl, namespace, "shell")
    ok = kubectl.run("exec", "shell", "--", "sh", "-c", "echo hello-from-pod; hostname", namespace=namespace)
    assert ok.returncode == 0
    assert ok.stdout.splitlines() == ["hello-from-pod", "shell"]
    failed = kubectl.run("exec", "shell", "--", "sh", "-c", "echo to-stderr >&2; exit 7",
                         namespace=namespace, check=False)
    assert failed.returncode == 7
    assert "to-stderr" in failed.stderr
    piped = kubectl.run("exec", "-i", "shell", "--", "sh", "-c", "tr a-z A-Z", input="stdin works\n",
                        namespace=namespace)
    assert piped.stdout == "STDIN WORKS\n"


def test_emptydir_survives_container_restart(kubectl, namespace):
    apply(kubectl, namespace, simple_pod(
        "scratch",
        "trap 'exit 1' TERM; while true; do sleep 1; done",
        volumes="volumes: [{name: scratch, emptyDir: {}}]",
        mounts="volumeMounts: [{name: scratch, mountPath: /scratch}]",
    ))
    wait_pod_ready(kubectl, namespace, "scratch")
    kubectl.run("exec", "scratch", "--", "sh", "-c", "echo kept > /scratch/file; echo lost > /tmp/file",
                namespace=namespace)
    uid_before = kubectl.json("get", "pod", "scratch", namespace=namespace)["metadata"]["uid"]
    # make the container exit; restartPolicy Always restarts it in the same pod
    kubectl.run("exec", "scratch", "--", "kill", "-TERM", "1", namespace=namespace, check=False)
    pod = wait_container_restarted(kubectl, namespace, "scratch")
    assert pod["metadata"]["uid"] == uid_before
    out = kubectl.run("exec", "scratch", "--", "cat", "/scratch/file", namespace=namespace).stdout
    assert out == "kept\n"
    gone = kubectl.run("exec", "scratch", "--", "cat", "/tmp/file", namespace=namespace, check=False)
    assert gone.returncode != 0, "container filesystem should be fresh after a restart"


def test_pvc_binds_and_data_survives_pod_deletion(kubectl, namespace):
    apply(kubectl, namespace, """
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: keep}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 10Mi}}
    """)
    kubectl.run("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/keep", "--timeout=120s",
                namespace=namespace, timeout=150)
    pvc = kubectl.json("get", "pvc", "keep", namespace=namespace)
    assert pvc["spec"]["storageClassName"], "default StorageClass was not applied"
    vol = dict(volumes="volumes: [{name: keep, persistentVolumeClaim: {claimName: keep}}]",
               mounts="volumeMounts: [{name: keep, mountPath: /keep}]")
    apply(kubectl, namespace, simple_pod("writer", "echo persisted-data > /keep/file", restart="Never", **vol))
    kubectl.run("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/writer", "--timeout=120s",
                namespace=namespace, timeout=150)
    kubectl.run("delete", "pod", "writer", "--wait=true", namespace=namespace)
    apply(kubectl, namespace, simple_pod("reader", "cat /keep/file", restart="Never", **vol))
    kubectl.run("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/reader", "--timeout=120s",
                namespace=namespace, timeout=150)
    assert kubectl.run("logs", "reader", namespace=namespace).stdout == "persisted-data\n"


def test_seed_postgres_statefulset_ready_and_pg_dump(kubectl, namespace):
    manifest = (FIXTURES / "postgres-deployment.yaml").read_text()
    assert f'image: "{POSTGRES_IMAGE}"' in manifest
    kubectl.run("apply", "-f", "-", input=manifest, namespace=namespace)
    kubectl.run("rollout", "status", "statefulset/postgresql", "--timeout=240s", namespace=namespace, timeout=270)
    wait_pod_ready(kubectl, namespace, "postgresql-0", timeout=120)
    pvc = kubectl.json("get", "pvc", "postgresql-vct-postgresql-0", namespace=namespace)
    assert pvc["status"]["phase"] == "Bound"
    kubectl.run(
        "exec", "postgresql-0", "--", "bash", "-c",
        "PGPASSWORD=$POSTGRES_PASSWORD psql -v ON_ERROR_STOP=1 -U $POSTGRES_USER -d postgres -h 127.0.0.1 "
        "-c 'CREATE TABLE lab_probe (id int primary key, note text)' "
        "-c \"INSERT INTO lab_probe VALUES (1, 'written-by-lab-test')\"",
        namespace=namespace,
    )
    # the seed's pre-backup hook command, run through the exec API
    hook = "PGPASSWORD=$POSTGRES_PASSWORD pg_dump -U $POSTGRES_USER -d postgres -h 127.0.0.1"
    dump = kubectl.run("exec", "postgresql-0", "--", "/bin/bash", "-c", hook, namespace=namespace)
    assert "-- PostgreSQL database dump" in dump.stdout
    assert "-- PostgreSQL database dump complete" in dump.stdout
    assert "CREATE TABLE public.lab_probe" in dump.stdout
    assert "written-by-lab-test" in dump.stdout
    # the dump is valid: it restores into a fresh database
    kubectl.run("exec", "postgresql-0", "--", "bash", "-c",
                "PGPASSWORD=$POSTGRES_PASSWORD createdb -U $POSTGRES_USER -h 127.0.0.1 restored", namespace=namespace)
    kubectl.run("exec", "-i", "postgresql-0", "--", "bash", "-c",
                "PGPASSWORD=$POSTGRES_PASSWORD psql -v ON_ERROR_STOP=1 -q -U $POSTGRES_USER -h 127.0.0.1 -d restored",
                input=dump.stdout, namespace=namespace)
    count = kubectl.run("exec", "postgresql-0", "--", "bash", "-c",
                        "PGPASSWORD=$POSTGRES_PASSWORD psql -tA -U $POSTGRES_USER -h 127.0.0.1 -d restored "
                        "-c 'SELECT note FROM lab_probe'", namespace=namespace)
    assert count.stdout.strip() == "written-by-lab-test"


@pytest.mark.parametrize("major", POSTGRES_MAJORS)
def test_postgres_image_entrypoint_contract(kubectl, namespace, major):
    """POSTGRES_USER/DB, *_FILE, POSTGRES_INITDB_ARGS, initdb.d scripts, no re-init on restart,
    the same for each major; the server and the client tools on PATH are of that major."""
    apply_postgres_inputs(kubectl, namespace, "s3cret-from-file", {
        "10-schema.sql": """
            CREATE TABLE items (id int primary key, name text);
            INSERT INTO items VALUES (1, 'from-initdb-sql');
            """,
        "20-marker.sh": """
            psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \\
              -c "INSERT INTO items VALUES (2, 'from-initdb-sh')"
            """,
    }, pvc=True)
    # default PGDATA (/var/lib/postgresql/data) on a subPath: the hostpath provisioner makes
    # volume roots 0750 root:root, so postgres (after gosu; a system uid, see lab/README.md)
    # could not traverse the volume root to reach a PGDATA below it
    pod = postgres_pod(major, {"mountPath": "/var/lib/postgresql/data", "subPath": "pg"},
                       {"persistentVolumeClaim": {"claimName": "pgdata"}},
                       env=[{"name": "POSTGRES_INITDB_ARGS", "value": "--data-checksums"}])
    apply(kubectl, namespace, pod)
    wait_pod_ready(kubectl, namespace, "pg", timeout=120)

    def sql(query):
        return psql(kubectl, namespace, "pg", query, "s3cret-from-file").stdout.strip()

    assert sql("SELECT version()").startswith(f"PostgreSQL {major}.")
    assert sql("SHOW server_version_num")[:2] == str(major)
    # the client tools on PATH (/usr/lib/postgresql/<major>/bin) are of the same major
    for tool in ("pg_dump", "pg_dumpall", "pg_restore", "psql", "pg_isready"):
        out = kubectl.run("exec", "pg", "--", tool, "--version", namespace=namespace).stdout
        assert out.startswith(f"{tool} (PostgreSQL) {major}."), out
    # initdb's locale (LANG=C.UTF-8, libc provider) is the same in every major, so a
    # dump of one replays into another with the same CREATE DATABASE ... LOCALE
    assert sql("SELECT datlocprovider, datcollate, datctype, pg_encoding_to_char(encoding) "
               "FROM pg_database WHERE datname = current_database()") == "c|C.UTF-8|C.UTF-8|UTF8"
    assert sql("SELECT name FROM items ORDER BY id") == "from-initdb-sql\nfrom-initdb-sh"
    assert sql("SHOW data_checksums") == "on"
    assert sql("SELECT current_user") == "app"
    assert_password_required(kubectl, namespace, "pg", "s3cret-from-file")
    assert "running initdb" in kubectl.run("logs", "pg", namespace=namespace).stdout + \
        kubectl.run("logs", "pg", namespace=namespace).stderr
    sql("INSERT INTO items VALUES (3, 'before-restart')")

    # a new pod on the same data directory must not initialise it again
    kubectl.run("delete", "pod", "pg", "--wait=true", namespace=namespace, timeout=120)
    apply(kubectl, namespace, pod)
    wait_pod_ready(kubectl, namespace, "pg", timeout=120)
    logs = kubectl.run("logs", "pg", namespace=namespace).stdout
    assert "skipping initialization" in logs
    assert "running initdb" not in logs
    assert sql("SELECT count(*) FROM items") == "3"


# An arbitrary uid (1001 has no passwd entry in the image), as Kubernetes runs it with
# runAsUser: initdb gets its passwd entry from nss_wrapper, the server runs as 1001.
# runAsGroup 0 and 1001 both occur in practice (OpenShift-style gid 0, or gid = uid).
# The lab's hostpath PVs ignore fsGroup (volume root 0750 root:root), so the PVC case
# prepares its subPath with a root init container, as one does on such storage.
@pytest.mark.parametrize("major, gid, storage", [
    pytest.param(15, 1001, "emptyDir", id="15-gid1001-emptyDir"),
    pytest.param(17, 0, "emptyDir", id="17-gid0-emptyDir"),
    pytest.param(18, 1001, "emptyDir", id="18-gid1001-emptyDir"),
    pytest.param(15, 0, "pvc", id="15-gid0-pvc"),
])
def test_postgres_image_runs_as_arbitrary_uid(kubectl, namespace, major, gid, storage):
    """runAsUser 1001, fsGroup 1001, PGDATA below a volume, password from a Secret file:
    Ready, password auth over TCP, the server and PGDATA belong to 1001, no re-init on restart."""
    pgdata = "/var/lib/postgresql/custom/pgdata"
    apply_postgres_inputs(kubectl, namespace, "n0n-r00t-secret", {
        "10-schema.sql": """
            CREATE TABLE items (id int primary key, name text);
            INSERT INTO items VALUES (1, 'from-initdb-as-1001');
            """,
    }, pvc=storage == "pvc")
    spec = {"securityContext": {"runAsUser": 1001, "runAsGroup": gid, "fsGroup": 1001, "runAsNonRoot": True}}
    if storage == "pvc":
        # PGDATA is the subPath mount itself, made 0700 1001:1001 by the init container
        data = ({"mountPath": pgdata, "subPath": "pgdata"}, {"persistentVolumeClaim": {"claimName": "pgdata"}})
        spec["initContainers"] = [{
            "name": "chown", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never",
            "command": ["sh", "-c", "mkdir -p /pv/pgdata && chown 1001:1001 /pv/pgdata && chmod 0700 /pv/pgdata"],
            "securityContext": {"runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False},
            "volumeMounts": [{"name": "data", "mountPath": "/pv"}]}]
    else:
        # PGDATA is a directory below the mount point, which fsGroup makes group-writable
        data = ({"mountPath": "/var/lib/postgresql/custom"}, {"emptyDir": {}})
    # the Secret's file 0440 root:1001 (fsGroup): readable by uid 1001 through group 1001
    pod = postgres_pod(major, *data, env=[{"name": "PGDATA", "value": pgdata}], secret_mode=0o440, **spec)
    apply(kubectl, namespace, pod)
    wait_pod_ready(kubectl, namespace, "pg", timeout=120)

    def sh(command):
        return kubectl.run("exec", "pg", "--", "bash", "-c", command, namespace=namespace).stdout.strip()

    def sql(query):
        return psql(kubectl, namespace, "pg", query, "n0n-r00t-secret").stdout.strip()

    def check_uid_and_data():
        assert sh("id -u; id -g") == f"1001\n{gid}"
        # the server itself (PID 1, exec'd by the entrypoint without gosu) runs as 1001
        assert sh("cat /proc/1/comm; awk '/^Uid:/ {print $2}' /proc/1/status") == "postgres\n1001"
        assert sh(f"stat -c '%u %a' {pgdata}") == "1001 700"
        assert sql("SHOW data_directory") == pgdata
        assert sql("SELECT version()").startswith(f"PostgreSQL {major}.")

    check_uid_and_data()
    assert sql("SELECT name FROM items") == "from-initdb-as-1001"
    assert sql("SELECT current_user") == "app"
    assert_password_required(kubectl, namespace, "pg", "n0n-r00t-secret")
    logs = kubectl.run("logs", "pg", namespace=namespace).stdout
    assert "uid 1001 has no passwd entry: running initdb under nss_wrapper" in logs
    sql("INSERT INTO items VALUES (2, 'before-restart')")

    if storage == "pvc":
        # a new pod on the same volume
        kubectl.run("delete", "pod", "pg", "--wait=true", namespace=namespace, timeout=120)
        apply(kubectl, namespace, pod)
        wait_pod_ready(kubectl, namespace, "pg", timeout=120)
    else:
        # the server crashes (immediate shutdown); the kubelet restarts the container in
        # the same pod, on the same emptyDir
        # (bash's kill: bookworm's minbase has no kill binary; the exec may lose the race
        # with the dying container, so its exit status is not checked)
        kubectl.run("exec", "pg", "--", "bash", "-c", "kill -QUIT 1", namespace=namespace, check=False)
        wait_container_restarted(kubectl, namespace, "pg")
        assert "running initdb" in kubectl.run("logs", "pg", "--previous", namespace=namespace).stdout
    logs = kubectl.run("logs", "pg", namespace=namespace).stdout
    assert "skipping initialization" in logs
    assert "running initdb" not in logs
    check_uid_and_data()
    assert sql("SELECT count(*) FROM items") == "2"
