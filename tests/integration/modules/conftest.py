"""Fixtures: the collection's modules, run through the `ansible` CLI against the lab's Velero."""
import pytest
from velero_lab import ModuleRunner, apply, hooked_postgres, new_namespace


@pytest.fixture(scope="session")
def run_module(kubectl):
    return ModuleRunner(kubectl.kubeconfig)


@pytest.fixture(scope="module")
def pg_namespace(velero_ready):
    kubectl = velero_ready
    name = new_namespace(kubectl, "mod-pg")
    apply(kubectl, name, hooked_postgres())
    kubectl.run("rollout", "status", "statefulset/postgresql", "--timeout=300s", namespace=name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)
