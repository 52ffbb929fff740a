"""Fixtures: the collection's modules, run through the `ansible` CLI against the lab's Velero."""
import pytest
from velero_lab import ModuleRunner, apply, hooked_postgres, new_namespace


@pytest.fixture(scope="session")
def run_module(kubectl):
    return ModuleRunner(kubectl.kubeconfig)


@pytest.fixture(scope="session")
def velero_ready(kubectl):
    """Velero as lab/lab up leaves it: deployment available, BSL default Available."""
    kubectl.run("-n", "velero", "rollout", "status", "deploy/velero", "--timeout=180s")
    kubectl.run("-n", "velero", "wait", "--for=jsonpath={.status.phase}=Available", "bsl/default", "--timeout=180s")
    return kubectl


@pytest.fixture(scope="module")
def pg_namespace(velero_ready):
    kubectl = velero_ready
    name = new_namespace(kubectl, "mod-pg")
    apply(kubectl, name, hooked_postgres())
    kubectl.run("rollout", "status", "statefulset/postgresql", "--timeout=300s", namespace=name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)
