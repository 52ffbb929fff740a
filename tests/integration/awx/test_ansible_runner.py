"""backup.yml and restore.yml run as AWX runs them: ansible-runner, a private data dir, extravars,
no kubeconfig, and only K8S_AUTH_HOST, K8S_AUTH_API_KEY (a ServiceAccount token) and K8S_AUTH_SSL_CA_CERT;
the results they publish with set_stats are the job's artifacts."""
import shutil
import tempfile

from awx_job import CA, REPO, bearer_token_credential
from velero_lab import run_with_runner


def run_as_awx(playbook, extravars, host, token):
    home = tempfile.mkdtemp(prefix="appsnap-home-")  # no ~/.kube/config to fall back on
    try:
        envvars = {
            **bearer_token_credential(host, token, CA),
            "HOME": home,
        }
        return run_with_runner(playbook, extravars, envvars)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_backup_and_restore_with_only_a_service_account_token(job_account, kubectl, monkeypatch):
    for name in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    namespace, server, token = job_account
    backup = namespace + "-awx"
    status, failures, stdout, artifacts = run_as_awx("appsnap.velero.backup", {"snapshot_namespace": namespace, "snapshot_backup_name": backup}, server, token)
    assert status == "successful", failures
    assert token not in stdout
    # What AWX shows as the job's artifacts: the backup, its phase and what it captured.
    snapshot = artifacts["appsnap_snapshot"]
    assert (snapshot["backup"], snapshot["phase"], snapshot["namespaces"]) == (backup, "Completed", [namespace]), artifacts
    assert int(snapshot["bytes"]) > 0 and int(snapshot["bytes"]) == int(snapshot["dump_bytes_in_pod"]) and float(snapshot["duration"]) > 0
    assert "pods" not in snapshot

    kubectl.run("delete", "namespace", namespace, "--timeout=300s")
    status, failures, _stdout, artifacts = run_as_awx("appsnap.velero.restore", {"restore_namespace": namespace, "restore_backup_name": backup}, server, token)
    assert status == "successful", failures
    restore = artifacts["appsnap_restore"]
    assert (restore["backup"], restore["phase"], restore["namespaces"]) == (backup, "Completed", {namespace: namespace}), artifacts
    assert restore["name"].startswith(backup) and int(restore["bytes"]) == int(snapshot["bytes"]), artifacts
    assert "appsnap_snapshot" not in artifacts

    # Outside the RBAC: the job's account may not manage schedules.
    status, failures, _stdout, _artifacts = run_as_awx(str(REPO / "tests" / "integration" / "awx" / "files" / "schedule.yml"), {}, server, token)
    assert status == "failed"
    denied = [m for m in failures if m and "Permission denied: cannot" in m and "Schedule" in m]
    assert denied and "Grant the job's service account" in denied[0], failures
