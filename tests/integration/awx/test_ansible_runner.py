"""backup.yml and restore.yml run as AWX runs them: ansible-runner, a private data dir, extravars,
no kubeconfig, and only K8S_AUTH_HOST, K8S_AUTH_API_KEY (a ServiceAccount token) and K8S_AUTH_SSL_CA_CERT."""
import os
import shutil
import tempfile

import ansible_runner
from awx_job import CA, REPO, bearer_token_credential


def run_as_awx(playbook, extravars, host, token):
    data_dir = tempfile.mkdtemp(prefix="appsnap-runner-")
    home = tempfile.mkdtemp(prefix="appsnap-home-")  # no ~/.kube/config to fall back on
    try:
        envvars = {
            **bearer_token_credential(host, token, CA),
            "HOME": home,
            "ANSIBLE_COLLECTIONS_PATH": os.environ["ANSIBLE_COLLECTIONS_PATH"],
        }
        result = ansible_runner.run(private_data_dir=data_dir, playbook=playbook, extravars=extravars, envvars=envvars, quiet=True)
        failures = [e["event_data"]["res"].get("msg") for e in result.events if e.get("event") == "runner_on_failed"]
        stdout = result.stdout.read()
        return result.status, failures, stdout
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def test_backup_and_restore_with_only_a_service_account_token(job_account, kubectl, monkeypatch):
    for name in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    namespace, server, token = job_account
    backup = namespace + "-awx"
    status, failures, stdout = run_as_awx("appsnap.velero.backup", {"snapshot_namespace": namespace, "snapshot_backup_name": backup}, server, token)
    assert status == "successful", failures
    assert token not in stdout

    kubectl.run("delete", "namespace", namespace, "--timeout=300s")
    status, failures, _stdout = run_as_awx("appsnap.velero.restore", {"restore_namespace": namespace, "restore_backup_name": backup}, server, token)
    assert status == "successful", failures

    # Outside the RBAC: the job's account may not manage schedules.
    status, failures, _stdout = run_as_awx(str(REPO / "tests" / "integration" / "awx" / "files" / "schedule.yml"), {}, server, token)
    assert status == "failed"
    denied = [m for m in failures if m and "Permission denied: cannot" in m and "Schedule" in m]
    assert denied and "Grant the job's service account" in denied[0], failures
