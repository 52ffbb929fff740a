"""AWX's execution plane for the AWX tests, one home for each part:

- the job's account: rbac/appsnap-velero-job.yaml bound to a freshly deployed PostgreSQL namespace, and the
  environment AWX's "OpenShift or Kubernetes API Bearer Token" credential type injects (K8S_AUTH_*);
- a receptor node (lab/awx/receptor.sh) with the `work-kubernetes` worker AWX configures for container groups
  (worktype kubernetes-runtime-auth, the kubeconfig and pod spec passed with each work unit);
- a container-group job: `ansible-runner transmit` of a private data dir holding the example AWX project
  (examples/awx/project), submitted as a work unit with the container group's pod spec
  (examples/awx/container-group-pod.yml), its result stream fed to `ansible-runner process`; the job pod's
  logs and exit read from Kubernetes before the unit is released (which deletes the pod), as AWX does.
"""
import base64
import contextlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import ansible_runner
import yaml
from receptorctl.socket_interface import ReceptorControl
from velero_lab import bind_job_account

REPO = pathlib.Path(__file__).resolve().parents[3]
CA = "/var/lib/appsnap-lab/pki/ca.crt"
EXAMPLE = REPO / "examples" / "awx"
WORKTYPE = "kubernetes-runtime-auth"  # the name AWX gives its container-group worker
# Where the job's CA file is in the job pod: AWX writes credential files into the private data dir,
# which ansible-runner worker unpacks at /runner.
CA_IN_POD = "/runner/env/k8s_auth_ca.crt"


@contextlib.contextmanager
def postgres_with_job_account(run_playbook, kubectl, prefix):
    """Deploy PostgreSQL into a new namespace <prefix><hex>, bind the job's RBAC there; yields (namespace, API server URL, token)."""
    namespace = prefix + uuid.uuid4().hex[:6]
    deploy_vars = {"postgres_namespace": namespace, "postgres_password": "awx-" + uuid.uuid4().hex,
                   "postgres_image": "localhost/appsnap/postgres:15", "postgres_image_pull_policy": "Never"}
    try:
        rc, _tasks, _out = run_playbook("appsnap.velero.deploy", deploy_vars)
        assert rc == 0
        token = bind_job_account(kubectl, namespace)
        yield namespace, api_server(kubectl), token
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def api_server(kubectl):
    """The lab API's URL (the node IP, which pods reach too)."""
    return yaml.safe_load(open(kubectl.kubeconfig))["clusters"][0]["cluster"]["server"]


def bearer_token_credential(host, token, ca_path):
    """The environment AWX's "OpenShift or Kubernetes API Bearer Token" credential type injects into a job."""
    return {"K8S_AUTH_HOST": host, "K8S_AUTH_API_KEY": token, "K8S_AUTH_SSL_CA_CERT": ca_path, "K8S_AUTH_VERIFY_SSL": "True"}


def ee_image():
    """The EE image's tarball (lab/images/ee.sh: built by tests/run before `lab/lab up` imports it; cached) and its reference."""
    proc = subprocess.run([str(REPO / "lab" / "images" / "ee.sh")], capture_output=True, text=True, check=False, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    return proc.stdout.strip().splitlines()[-1], "localhost/appsnap/ee:" + version


def receptor_binary():
    proc = subprocess.run([str(REPO / "lab" / "awx" / "receptor.sh")], capture_output=True, text=True, check=False, timeout=1800)
    assert proc.returncode == 0, "lab/awx/receptor.sh failed:\n" + proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def kubeconfig_for_token(server, token, namespace):
    """The kubeconfig AWX hands receptor for a container group whose credential is a ServiceAccount token."""
    ca = base64.b64encode(pathlib.Path(CA).read_bytes()).decode()
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "job",
        "clusters": [{"name": "lab", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": "container-group", "user": {"token": token}}],
        "contexts": [{"name": "job", "context": {"cluster": "lab", "user": "container-group", "namespace": namespace}}],
    })


class ReceptorNode:
    """One receptor process: a local node, its control socket, and the `work-kubernetes` worker AWX uses."""

    def __init__(self, binary, workdir):
        self.workdir = pathlib.Path(workdir)
        self.node_id = "appsnap-awx-" + uuid.uuid4().hex[:6]
        self.socket = str(self.workdir / "receptor.sock")
        config = [
            {"node": {"id": self.node_id, "datadir": str(self.workdir / "data")}},
            {"local-only": {}},  # one node, no mesh: receptor refuses to start without a backend otherwise
            {"log-level": "info"},
            {"control-service": {"service": "control", "filename": self.socket}},
            {"work-kubernetes": {"worktype": WORKTYPE, "authmethod": "runtime", "allowruntimeauth": True,
                                 "allowruntimepod": True, "allowruntimeparams": True}},
        ]
        (self.workdir / "receptor.conf").write_text(yaml.safe_dump(config))
        self.log = open(self.workdir / "receptor.log", "w")
        self.proc = subprocess.Popen([binary, "--config", str(self.workdir / "receptor.conf")], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (self._answers() and "Initialization complete" in (self.workdir / "receptor.log").read_text()):
            assert self.proc.poll() is None, "receptor exited %s: %s" % (self.proc.returncode, (self.workdir / "receptor.log").read_text())
            assert time.monotonic() < deadline, "receptor's control socket did not answer in 30s"
            time.sleep(0.2)

    def _answers(self):
        if not os.path.exists(self.socket):
            return False
        with contextlib.suppress(OSError):
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(self.socket)
                return True
        return False

    def control(self):
        return ReceptorControl(self.socket)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class ContainerGroupJob:
    """What a container-group job left: the processed runner result, its events, and the pod as Kubernetes saw it."""

    def __init__(self, runner, events, unit_status, pod, pod_log):
        self.status = runner.status
        self.events = events
        self.stdout = "\n".join(e.get("stdout", "") for e in events)
        self.unit_status = unit_status
        self.pod = pod
        self.pod_log = pod_log

    @property
    def exit_code(self):
        [worker] = [c for c in self.pod["status"]["containerStatuses"] if c["name"] == "worker"]
        return worker["state"]["terminated"]["exitCode"]

    def task_results(self, task_name):
        return [e["event_data"]["res"] for e in self.events
                if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == task_name]

    def failure_messages(self):
        return [e["event_data"]["res"].get("msg") for e in self.events if e.get("event") == "runner_on_failed"]

    def artifact_data(self):
        """set_stats data, as AWX reads it: the playbook_on_stats event's artifact_data."""
        stats = [e for e in self.events if e.get("event") == "playbook_on_stats"]
        assert stats, "no playbook_on_stats event in the processed stream"
        return stats[-1]["event_data"].get("artifact_data", {})


def pod_spec(namespace):
    """The example container group pod spec, in the job namespace."""
    spec = yaml.safe_load((EXAMPLE / "container-group-pod.yml").read_text())
    spec["metadata"]["namespace"] = namespace
    return spec


def run_container_group_job(node, kubectl, *, namespace, kubeconfig, playbook, extravars, credential, ca_pem, extra_files=()):
    """transmit -> receptor work unit (job pod) -> process, as AWX runs a job template on a container group.
    The project is the example AWX project, plus extra_files (paths copied to the project root)."""
    pdd = pathlib.Path(tempfile.mkdtemp(prefix="appsnap-awx-job-"))
    try:
        shutil.copytree(EXAMPLE / "project", pdd / "project")
        for path in extra_files:
            shutil.copy(path, pdd / "project")
        (pdd / "env").mkdir()
        (pdd / "env" / "k8s_auth_ca.crt").write_text(ca_pem)
        ident = uuid.uuid4().hex[:8]
        stream = pdd.parent / (pdd.name + ".transmit")
        with open(stream, "wb") as out:
            ansible_runner.run(private_data_dir=str(pdd), playbook=playbook, extravars=extravars, envvars=credential,
                               ident=ident, streamer="transmit", _output=out, quiet=True)
        ctl = node.control()
        params = {"secret_kube_pod": yaml.safe_dump(pod_spec(namespace)), "secret_kube_config": kubeconfig, "pod_pending_timeout": "3m"}
        with open(stream, "rb") as payload:
            unit_id = ctl.submit_work(WORKTYPE, payload, node=node.node_id, params=params)["unitid"]
        try:
            result_sock, result_file = node.control().get_work_results(unit_id, return_socket=True, return_sockfile=True)
            processed = pdd.parent / (pdd.name + ".process")
            runner = ansible_runner.run(private_data_dir=str(processed), streamer="process", _input=result_file, quiet=True)
            result_sock.close()
            # the events as `ansible-runner process` wrote them to its artifacts dir, in order
            [job_events] = processed.glob("artifacts/job_events")
            events = sorted((json.loads(f.read_text()) for f in job_events.glob("*.json")), key=lambda e: e["counter"])
            unit_status = _work_status(node, unit_id)
            pod_name = unit_status.get("ExtraData", {}).get("PodName")
            assert pod_name, unit_status
            pod = _terminated_pod(kubectl, namespace, pod_name)
            pod_log = kubectl.run("logs", pod_name, "-c", "worker", namespace=namespace).stdout
        finally:
            ctl = node.control()
            ctl.simple_command("work release %s" % unit_id)
            ctl.close()
        return ContainerGroupJob(runner, events, unit_status, pod, pod_log)
    finally:
        shutil.rmtree(pdd, ignore_errors=True)
        for suffix in (".transmit", ".process"):
            path = pdd.parent / (pdd.name + suffix)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


def _work_status(node, unit_id):
    ctl = node.control()
    try:
        return ctl.simple_command("work status %s" % unit_id)
    finally:
        ctl.close()


def _terminated_pod(kubectl, namespace, name, timeout=60):
    """The job pod once its worker container terminated and the pod's phase says so (the stream ends a moment before)."""
    deadline = time.monotonic() + timeout
    while True:
        pod = json.loads(kubectl.run("get", "pod", name, "-o", "json", namespace=namespace).stdout)
        workers = [c for c in pod["status"].get("containerStatuses", []) if c["name"] == "worker"]
        if workers and workers[0]["state"].get("terminated") and pod["status"]["phase"] in ("Succeeded", "Failed"):
            return pod
        assert time.monotonic() < deadline, "job pod %s/%s did not terminate: %s" % (namespace, name, pod["status"])
        time.sleep(1)
