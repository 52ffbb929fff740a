"""Each pre-flight failure, produced for real, fails before any write with a message that names the fix."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import yaml
from velero_lab import apply, fs_backup_pod, hook_pod, new_namespace, token_kubeconfig, wait_until


def test_missing_storage_location(run_module, velero_ready):
    result = run_module("backup", {"name": "pf-" + uuid.uuid4().hex[:6], "storage_location": "no-such-location"})
    assert result["failed"] is True
    assert "BackupStorageLocation 'no-such-location' does not exist" in result["msg"] and "default" in result["msg"]


def test_unavailable_storage_location(run_module, velero_ready):
    kubectl = velero_ready
    default = kubectl.json("-n", "velero", "get", "bsl", "default")
    spec = dict(default["spec"], default=False)
    spec["objectStorage"] = dict(spec["objectStorage"], bucket="appsnap-no-such-bucket")
    name = "pf-missing-bucket"
    bsl = {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": {"name": name, "namespace": "velero"}, "spec": spec}
    kubectl.run("apply", "-f", "-", input=json.dumps(bsl))
    try:
        kubectl.run("-n", "velero", "wait", "--for=jsonpath={.status.phase}=Unavailable", "bsl/" + name, "--timeout=180s")
        backup = "pf-" + uuid.uuid4().hex[:6]
        result = run_module("backup", {"name": backup, "storage_location": name})
        assert result["failed"] is True
        assert "BackupStorageLocation 'pf-missing-bucket' is Unavailable" in result["msg"] and "bucket" in result["msg"]
        assert kubectl.run("-n", "velero", "get", "backup", backup, check=False).returncode != 0
    finally:
        kubectl.run("-n", "velero", "delete", "bsl", name, check=False)


def test_velero_server_down(run_module, velero_ready):
    kubectl = velero_ready
    kubectl.run("-n", "velero", "scale", "deploy/velero", "--replicas=0")
    try:
        wait_until(lambda: not kubectl.json("-n", "velero", "get", "pods", "-l", "deploy=velero")["items"], 120, "velero pod gone")
        backup = "pf-" + uuid.uuid4().hex[:6]
        started = time.monotonic()
        result = run_module("backup", {"name": backup, "server_timeout": 5})
        assert result["failed"] is True
        assert "The Velero server is not answering" in result["msg"] and "kubectl -n velero logs deploy/velero" in result["msg"]
        assert time.monotonic() - started < 60
        assert kubectl.run("-n", "velero", "get", "backup", backup, check=False).returncode != 0
        check = run_module("backup", {"name": backup}, check=True)
        assert check["failed"] is True and "no available replica" in check["msg"]
    finally:
        kubectl.run("-n", "velero", "scale", "deploy/velero", "--replicas=1")
        kubectl.run("-n", "velero", "rollout", "status", "deploy/velero", "--timeout=180s")
        kubectl.run("-n", "velero", "wait", "--for=jsonpath={.status.phase}=Available", "bsl/default", "--timeout=180s")


def _fails_before_any_backup(run_module, kubectl, namespace):
    """Back up ``namespace`` in check mode and for real: both fail, and no Backup of it exists. Returns both messages."""
    name = "pf-" + uuid.uuid4().hex[:6]
    results = [run_module("backup", {"name": name, "included_namespaces": [namespace]}, check=check) for check in (True, False)]
    for result in results:
        assert result["failed"] is True, result
    assert kubectl.run("-n", "velero", "get", "backup", name, check=False).returncode != 0
    items = kubectl.json("-n", "velero", "get", "backups")["items"]
    assert not [b for b in items if namespace in ((b.get("spec") or {}).get("includedNamespaces") or [])]
    return [result["msg"] for result in results]


def test_hooked_pod_not_ready(run_module, velero_ready):
    kubectl = velero_ready
    namespace = new_namespace(kubectl, "pf-hook")
    try:
        pod = hook_pod("app", ["/bin/true"])
        pod["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["/bin/false"]}, "periodSeconds": 1}
        apply(kubectl, namespace, pod)
        kubectl.run("wait", "--for=jsonpath={.status.phase}=Running", "pod/app", "--timeout=120s", namespace=namespace)
        for msg in _fails_before_any_backup(run_module, kubectl, namespace):
            assert "pod %s/app (pre hook) is Running, Ready=False (ContainersNotReady" % namespace in msg, msg
            assert "kubectl -n %s wait --for=condition=Ready pod/app" % namespace in msg and "excluded_namespaces" in msg, msg
        # Out of the backup's scope, or with the pod checks off, the pod no longer stops it.
        for other in ({"label_selector": "app=not-this-pod"}, {"excluded_namespaces": [namespace]}, {"preflight_pods": False}):
            result = run_module("backup", dict(other, included_namespaces=[namespace]), check=True)
            assert result.get("failed") is not True, (other, result.get("msg"))
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def _node_agent_status(kubectl):
    return kubectl.json("-n", "velero", "get", "daemonset", "node-agent")


def _node_agent_unscheduled(kubectl):
    daemonset = _node_agent_status(kubectl)
    status = daemonset.get("status") or {}
    observed = status.get("observedGeneration") == daemonset["metadata"]["generation"]
    return observed and not status.get("desiredNumberScheduled") and not status.get("numberReady")


def _node_agent_ready(kubectl):
    status = _node_agent_status(kubectl).get("status") or {}
    return status.get("desiredNumberScheduled", 0) >= 1 and status.get("numberReady") == status.get("desiredNumberScheduled")


def test_node_agent_not_ready(run_module, velero_ready):
    kubectl = velero_ready
    namespace = new_namespace(kubectl, "pf-fsb")
    original = _node_agent_status(kubectl)["spec"]["template"]["spec"].get("nodeSelector")
    key = "appsnap.velero/no-such-node"
    try:
        apply(kubectl, namespace, fs_backup_pod("app"))
        kubectl.run("-n", "velero", "patch", "daemonset", "node-agent", "--type=merge",
                    "-p", json.dumps({"spec": {"template": {"spec": {"nodeSelector": {key: "true"}}}}}))
        wait_until(lambda: _node_agent_unscheduled(kubectl), 120, "node-agent scheduled nowhere")
        for msg in _fails_before_any_backup(run_module, kubectl, namespace):
            assert "needs file-system backup (pod %s/app (data) opted in with backup.velero.io/backup-volumes)" % namespace in msg, msg
            assert "node-agent DaemonSet velero/node-agent is not ready" in msg and "desiredNumberScheduled 0" in msg, msg
            assert "rollout status daemonset/node-agent" in msg, msg
        # default_volumes_to_fs_backup needs it too, without reading pods; and so does a schedule.
        empty = run_module("backup", {"included_namespaces": [namespace], "default_volumes_to_fs_backup": True, "preflight_pods": False}, check=True)
        assert empty["failed"] is True and "default_volumes_to_fs_backup is true" in empty["msg"], empty
        schedule = run_module("schedule", {"name": "pf-fsb", "schedule": "0 3 * * *", "included_namespaces": [namespace]}, check=True)
        assert schedule["failed"] is True and "node-agent DaemonSet velero/node-agent is not ready" in schedule["msg"], schedule
    finally:
        if original is None:
            kubectl.run("-n", "velero", "patch", "daemonset", "node-agent", "--type=json",
                        "-p", json.dumps([{"op": "remove", "path": "/spec/template/spec/nodeSelector"}]), check=False)
        else:
            kubectl.run("-n", "velero", "patch", "daemonset", "node-agent", "--type=merge",
                        "-p", json.dumps({"spec": {"template": {"spec": {"nodeSelector": {key: None}}}}}), check=False)
        kubectl.run("-n", "velero", "rollout", "status", "daemonset/node-agent", "--timeout=180s")
        wait_until(lambda: _node_agent_ready(kubectl), 180, "node-agent ready again")
        assert _node_agent_status(kubectl)["spec"]["template"]["spec"].get("nodeSelector") == original
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def cluster_without_velero(kubectl):
    """A throwaway API server: the lab's own binary and certificates, an empty etcd prefix, so no velero.io CRDs."""
    lab_apiserver = subprocess.run(["pgrep", "-f", "-o", "kube-apiserver --"], capture_output=True, text=True, check=False).stdout.split()
    if not lab_apiserver:
        pytest.fail("the lab's kube-apiserver is not running")
    with open("/proc/%s/cmdline" % lab_apiserver[0], "rb") as handle:
        argv = [a.decode() for a in handle.read().split(b"\0") if a]
    port = _free_port()
    prefix = "/appsnap-throwaway-%s" % uuid.uuid4().hex[:8]
    drop = ("--secure-port=", "--bind-address=", "--etcd-prefix=")
    argv = [a for a in argv if not a.startswith(drop)] + ["--secure-port=%d" % port, "--bind-address=127.0.0.1", "--etcd-prefix=" + prefix]
    workdir = tempfile.mkdtemp(prefix="appsnap-throwaway-")
    log = open(os.path.join(workdir, "apiserver.log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        with open(kubectl.kubeconfig) as handle:
            config = yaml.safe_load(handle)
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = "https://127.0.0.1:%d" % port
            # The serving certificate names the node address, not loopback.
            cluster["cluster"]["tls-server-name"] = "kubernetes"
        kubeconfig = os.path.join(workdir, "kubeconfig")
        with open(kubeconfig, "w") as handle:
            yaml.safe_dump(config, handle)
        wait_until(lambda: subprocess.run([kubectl.binary, "--kubeconfig", kubeconfig, "get", "--raw", "/readyz"],
                                          capture_output=True, check=False).returncode == 0, 90, "throwaway apiserver ready")
        yield kubeconfig
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_velero_not_installed(run_module, cluster_without_velero):
    result = run_module("backup", {"name": "pf-none"}, env={"K8S_AUTH_KUBECONFIG": cluster_without_velero})
    assert result["failed"] is True
    assert result["msg"].startswith("Velero is not installed") and "velero install" in result["msg"]
    info = run_module("backup_info", {"name": "pf-none"}, env={"K8S_AUTH_KUBECONFIG": cluster_without_velero})
    assert info["failed"] is True and "Velero is not installed" in info["msg"]


def test_a_token_the_server_rejects(run_module, velero_ready, tmp_path):
    """The lab's API server, a made-up bearer token: one line about the credentials, the token nowhere."""
    token = "appsnap-wrong-" + uuid.uuid4().hex
    path = token_kubeconfig(velero_ready.kubeconfig, token, tmp_path / "wrong-token.kubeconfig")
    result = run_module("backup_info", {"name": "pf-any"}, env={"K8S_AUTH_KUBECONFIG": path})
    assert result["failed"] is True
    assert result["msg"].startswith("The API server rejected the credentials (401 Unauthorized)"), result["msg"]
    assert "\n" not in result["msg"] and token not in json.dumps(result)


def test_velero_min_version_against_the_lab_server(run_module, velero_ready):
    """Raised above the lab's 1.18.3 it fails before any write; lowered below the floor it warns and runs."""
    kubectl = velero_ready
    backup = "pf-" + uuid.uuid4().hex[:6]
    result = run_module("backup", {"name": backup, "velero_min_version": "1.99.0", "included_namespaces": ["default"]})
    assert result["failed"] is True
    assert "is Velero v1.18.3, older than 1.99.0, the velero_min_version set" in result["msg"], result["msg"]
    assert kubectl.run("-n", "velero", "get", "backup", backup, check=False).returncode != 0
    lowered = run_module("backup", {"name": backup, "velero_min_version": "1.16.0", "included_namespaces": ["default"]}, check=True)
    assert lowered.get("failed") is not True and lowered["changed"] is True, lowered
    assert any("velero_min_version 1.16.0 accepts Velero older than 1.18.3" in w for w in lowered["warnings"]), lowered
