"""Helpers for running the collection's modules for real against the lab's Velero."""
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid

import yaml

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = pathlib.Path(os.environ.get("APPSNAP_CACHE", pathlib.Path.home() / ".cache" / "appsnap"))
SEED = HERE / "lab" / "fixtures" / "postgres-deployment.yaml"
BUSYBOX = "localhost/appsnap/busybox:1.35"


def ansible_env(kubeconfig):
    """The environment the ansible CLIs run with in these tests: the lab's kubeconfig, JSON output."""
    return dict(
        os.environ,
        K8S_AUTH_KUBECONFIG=kubeconfig,
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
    )


def lab_versions():
    """The versions lab/velero/versions.env pins (VELERO_VERSION, ...)."""
    pairs = (line.split("=", 1) for line in (REPO / "lab" / "velero" / "versions.env").read_text().splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def find_velero():
    """The velero CLI the lab built ($VELERO overrides), or None."""
    path = os.environ.get("VELERO") or str(CACHE / "bin" / ("velero-" + lab_versions()["VELERO_VERSION"]) / "velero")
    return path if os.access(path, os.X_OK) else None


def bind_job_account(kubectl, namespace, duration="1h"):
    """rbac/appsnap-velero-job.yaml applied with its application namespace set to ``namespace``; returns a token of its
    ServiceAccount, valid for ``duration``."""
    rbac = yaml.safe_load((REPO / "rbac" / "appsnap-velero-job.yaml").read_text())
    for doc in rbac["items"]:
        if doc["metadata"].get("namespace") == "appsnap-pg":
            doc["metadata"]["namespace"] = namespace
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(rbac))
    return kubectl.run("-n", "velero", "create", "token", "appsnap-velero-job", "--duration=" + duration).stdout.strip()


def token_kubeconfig(admin_kubeconfig, token, path):
    """A kubeconfig at ``path`` for the lab's API server (from ``admin_kubeconfig``) with a bearer ``token``; returns the path."""
    cluster = yaml.safe_load(pathlib.Path(admin_kubeconfig).read_text())["clusters"][0]
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "token",
              "clusters": [cluster], "users": [{"name": "token", "user": {"token": token}}],
              "contexts": [{"name": "token", "context": {"cluster": cluster["name"], "user": "token"}}]}
    pathlib.Path(path).write_text(yaml.safe_dump(config))
    return str(path)


class ModuleRunner:
    """`ansible localhost -m <module>` with the json callback; returns the module's result dict."""

    def __init__(self, kubeconfig):
        self.env = ansible_env(kubeconfig)

    def __call__(self, module, args, check=False, diff=False, env=None, timeout=900):
        argv = ["ansible", "localhost", "-c", "local", "-m", "appsnap.velero." + module, "-a", json.dumps(args)]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        proc = subprocess.run(argv, env=dict(self.env, **(env or {})), capture_output=True, text=True, timeout=timeout, check=False)
        try:
            output = json.loads(proc.stdout)
            return output["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("ansible produced no JSON result (rc=%d)\nstdout: %s\nstderr: %s" % (proc.returncode, proc.stdout, proc.stderr))


def hooked_postgres():
    """The seed's StatefulSet, hooked by this collection's own filters."""
    # Imported here: pytest-ansible makes the collection importable only after conftest files load.
    from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump
    from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks

    seed = yaml.safe_load(SEED.read_text())
    with_volume = pod_hooks.backup_volume(seed, "postgresql-backup", "/backup")
    return pod_hooks.backup_hooks(with_volume, pre=pg_dump.pg_dump_hook("postgres"), backup_volumes=["postgresql-backup"])


def apply(kubectl, namespace, obj):
    kubectl.run("apply", "-f", "-", input=json.dumps(obj), namespace=namespace)


def new_namespace(kubectl, prefix):
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:6])
    kubectl.run("create", "namespace", name)
    kubectl.run("wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default", "--timeout=60s", namespace=name)
    return name


def busybox_pod(name):
    """A busybox pod that sleeps, from the lab's local image."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": BUSYBOX, "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", "sleep 3600"]}],
        },
    }


def hook_pod(name, command, timeout="30s"):
    """A busybox pod whose pre-backup hook runs ``command``."""
    from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks

    return pod_hooks.backup_hooks(busybox_pod(name), pre={"command": command, "timeout": timeout, "on_error": "Fail"})


def fs_backup_pod(name, volume="data"):
    """A busybox pod with an emptyDir opted into file-system backup (backup.velero.io/backup-volumes)."""
    from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks

    return pod_hooks.backup_volume(busybox_pod(name), volume, "/" + volume)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


class PlaybookRunner:
    """`ansible-playbook` with the json callback; returns (rc, [(task name, result)], stdout)."""

    def __init__(self, kubeconfig):
        self.env = ansible_env(kubeconfig)

    def __call__(self, playbook, extra_vars, check=False, env=None, timeout=1800, verbose=False):
        """With ``verbose``, runs at -vvv and returns standard output and standard error together as the third item."""
        argv = ["ansible-playbook", playbook, "-e", json.dumps(extra_vars)]
        if check:
            argv.append("--check")
        if verbose:
            argv.append("-vvv")
        proc = subprocess.run(argv, env=dict(self.env, **(env or {})), capture_output=True, text=True, timeout=timeout, check=False)
        try:
            output = json.loads(proc.stdout[proc.stdout.index("{"):] if verbose and "{" in proc.stdout else proc.stdout)
        except ValueError:
            raise AssertionError("ansible-playbook produced no JSON (rc=%d)\nstdout: %s\nstderr: %s" % (proc.returncode, proc.stdout, proc.stderr))
        tasks = [(task["task"]["name"], task["hosts"].get("localhost", {})) for play in output["plays"] for task in play["tasks"]]
        return proc.returncode, tasks, (proc.stdout + proc.stderr if verbose else proc.stdout)


def failed_task(tasks):
    """The (name, result) of the first failed task, or None."""
    return next(((name, result) for name, result in tasks if result.get("failed")), None)


def describe_failure(tasks):
    """A readable line about the first failed task, for assertion messages."""
    failure = failed_task(tasks)
    return "no task failed" if failure is None else "%s: %s" % (failure[0], failure[1].get("msg"))


def last_result(tasks, name):
    """The result of the last task called ``name`` (role tasks carry a "<role> : " prefix)."""
    return [result for task, result in tasks if task == name or task.endswith(" : " + name)][-1]


def run_with_runner(playbook, extravars, envvars):
    """A playbook as AWX runs it: ansible-runner with a private data dir and extravars.

    Returns (status, failure messages, stdout, artifacts): the artifacts are what the play published with
    ansible.builtin.set_stats (per_host false), the ``artifact_data`` of the stats event AWX stores as the job's artifacts.
    """
    import ansible_runner

    data_dir = tempfile.mkdtemp(prefix="appsnap-runner-")
    try:
        envvars = dict(envvars, ANSIBLE_COLLECTIONS_PATH=os.environ["ANSIBLE_COLLECTIONS_PATH"])
        result = ansible_runner.run(private_data_dir=data_dir, playbook=playbook, extravars=extravars, envvars=envvars, quiet=True)
        failures = [e["event_data"]["res"].get("msg") for e in result.events if e.get("event") == "runner_on_failed"]
        stats = [e["event_data"] for e in result.events if e.get("event") == "playbook_on_stats"]
        artifacts = stats[-1].get("artifact_data") or {} if stats else {}
        return result.status, failures, result.stdout.read(), artifacts
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def running_pod(kubectl, namespace, name):
    """The one pod of the workload once the old ones are gone (a Deployment's rollout leaves them terminating)."""
    pods = []

    def one_ready_pod():
        pods[:] = kubectl.json("get", "pods", "-l", "app=" + name, namespace=namespace)["items"]
        return len(pods) == 1 and all(c.get("ready") for c in pods[0].get("status", {}).get("containerStatuses") or [{}])

    wait_until(one_ready_pod, 180, "one ready pod of " + name)
    return pods[0]


def in_pod(kubectl, namespace, pod, container, script):
    """Run ``script`` in the container as the collection's roles do: credentials from POSTGRES_* or their _FILE, in the pod."""
    from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands as pg_commands

    argv = shlex.split(pg_commands.pg_shell(script))
    return kubectl.run("exec", pod, "-c", container, "--", *argv, namespace=namespace).stdout


def checksums(kubectl, namespace, pod, container, database):
    """Every user table's rows and md5 (the collection's shared checksums query), as a dict."""
    from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands as pg_commands

    return json.loads(in_pod(kubectl, namespace, pod, container, pg_commands.pg_query(database, "checksums")))
