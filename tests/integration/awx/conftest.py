"""Fixtures of the AWX tests; what they build on lives in awx_job.py."""
import tempfile
import uuid

import pytest
import yaml
from awx_job import EXAMPLE, ReceptorNode, api_server, kubeconfig_for_token, postgres_with_job_account, receptor_binary


@pytest.fixture
def job_account(run_playbook, kubectl):
    """A PostgreSQL namespace awx-pg-<hex> and the job's ServiceAccount bound there: (namespace, API server URL, token)."""
    with postgres_with_job_account(run_playbook, kubectl, "awx-pg-") as account:
        yield account


@pytest.fixture(scope="module")
def container_group(kubectl):
    """A container group as AWX runs one: a namespace for job pods, the group's own ServiceAccount
    (examples/awx/container-group-rbac.yml) and the kubeconfig of its token, and a receptor node with
    the work-kubernetes worker. Yields (node, namespace, kubeconfig text)."""
    namespace = "ee-awx-jobs-" + uuid.uuid4().hex[:6]
    rbac = yaml.safe_load((EXAMPLE / "container-group-rbac.yml").read_text())
    for doc in rbac["items"]:
        doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
    binary = receptor_binary()
    workdir = tempfile.TemporaryDirectory(prefix="appsnap-receptor-")
    node = None
    try:
        kubectl.run("create", "namespace", namespace)
        kubectl.run("apply", "-f", "-", input=yaml.safe_dump(rbac))
        token = kubectl.run("-n", namespace, "create", "token", "awx-container-group", "--duration=1h").stdout.strip()
        node = ReceptorNode(binary, workdir.name)
        yield node, namespace, kubeconfig_for_token(api_server(kubectl), token, namespace)
    finally:
        if node:
            node.stop()
        workdir.cleanup()
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)
