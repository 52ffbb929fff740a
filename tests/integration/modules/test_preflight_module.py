"""appsnap.velero.preflight and the preflight playbook on the lab, and the roles' shared appsnap_kubeconfig/appsnap_context.

The job account is rbac/appsnap-velero-job.yaml's ServiceAccount with a real token: bound in one namespace, not in
another, the access check names exactly what it may not do in the other.
"""
import json
import re

import pytest
from velero_lab import REPO, bind_job_account, lab_versions, new_namespace, token_kubeconfig


def test_a_ready_cluster_passes_every_check(run_module, velero_ready):
    for check_mode in (False, True):
        result = run_module("preflight", {"namespaces": ["default"]}, check=check_mode)
        assert result.get("failed") is not True, result
        assert [(c["check"], c["ok"]) for c in result["checks"]] == [
            ("connection", True), ("velero", True), ("node_agent", True), ("namespaces", True), ("access", True)]
        assert result["velero_version"] == lab_versions()["VELERO_VERSION"], result
        kubernetes = re.search(r"k8s\.io/kubernetes (v\S+)", (REPO / "lab" / "k8s" / "go.mod").read_text()).group(1)
        assert result["kubernetes_version"] == kubernetes and result["changed"] is False


@pytest.fixture(scope="module")
def job_kubeconfig(velero_ready, tmp_path_factory):
    """A namespace the job's account is bound in, one it is not, and a kubeconfig with the account's token."""
    kubectl = velero_ready
    bound, unbound = new_namespace(kubectl, "pf-bound"), new_namespace(kubectl, "pf-unbound")
    token = bind_job_account(kubectl, bound, duration="10m")
    path = token_kubeconfig(kubectl.kubeconfig, token, tmp_path_factory.mktemp("job") / "job.kubeconfig")
    yield bound, unbound, path, token
    for namespace in (bound, unbound):
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_job_account_is_told_what_it_may_not_do(run_module, job_kubeconfig):
    bound, unbound, path, token = job_kubeconfig
    result = run_module("preflight", {"namespaces": [bound, unbound]}, env={"K8S_AUTH_KUBECONFIG": path})
    assert result["failed"] is True
    checks = {c["check"]: c for c in result["checks"]}
    assert checks["velero"]["ok"] and checks["node_agent"]["ok"] and checks["namespaces"]["ok"], checks
    denied = checks["access"]["detail"]
    for permission in ("list pods", "create pods/exec", "list statefulsets.apps"):
        assert "%s in namespace %s" % (permission, unbound) in denied, denied
    assert bound not in denied and "velero.io" not in denied, denied
    assert result["msg"] == "The cluster is not ready: access: " + denied
    assert token not in json.dumps(result)
    ok = run_module("preflight", {"namespaces": [bound]}, env={"K8S_AUTH_KUBECONFIG": path})
    assert ok.get("failed") is not True, ok


def test_the_playbook_reports_each_check(run_playbook, velero_ready):
    rc, tasks, _out = run_playbook("appsnap.velero.preflight", {"preflight_namespaces": ["default", "pf-no-such-namespace"]})
    assert rc != 0
    failed = [result for _name, result in tasks if result.get("failed")][0]
    assert failed["msg"] == "The cluster is not ready: namespaces: namespace pf-no-such-namespace does not exist; check the names (kubectl get namespaces)."
    rc, tasks, _out = run_playbook("appsnap.velero.preflight", {"preflight_namespaces": ["default"]})
    assert rc == 0 and tasks[-1][1]["msg"][0].startswith("connection: Kubernetes v1.")


def test_roles_reach_the_cluster_of_appsnap_kubeconfig_and_context(run_playbook, velero_ready, tmp_path):
    """The environment names no usable kubeconfig: appsnap_kubeconfig alone takes the role's modules and
    kubernetes.core's k8s_info to the lab; a wrong appsnap_context stops the role at its first step, in one line."""
    env = {"K8S_AUTH_KUBECONFIG": "", "KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)}
    extra = {"appsnap_kubeconfig": velero_ready.kubeconfig, "pg_replay_namespace": "default", "pg_replay_pod": "pf-no-such-pod"}
    rc, tasks, _out = run_playbook("appsnap.velero.replay", extra, env=env)
    failed = [(name, result) for name, result in tasks if result.get("failed")]
    assert rc != 0 and failed[0][0].endswith("Check that every namespace has the named pod"), failed
    rc, tasks, _out = run_playbook("appsnap.velero.replay", dict(extra, appsnap_context="pf-no-such-context"), env=env)
    name, result = [(name, result) for name, result in tasks if result.get("failed")][0]
    assert name.endswith("Check that the cluster answers"), name
    assert "pf-no-such-context" in result["msg"] and "appsnap_context" in result["msg"] and "\n" not in result["msg"], result["msg"]
