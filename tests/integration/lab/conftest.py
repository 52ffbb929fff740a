"""Fixtures of the lab cluster tests; lab access (kubectl, skip-or-fail) is in tests/integration/conftest.py."""
import time
import uuid

import pytest


@pytest.fixture
def namespace(kubectl):
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    name = "lab-test-" + uuid.uuid4().hex[:8]
    kubectl.run("create", "namespace", name)
    # kube-controller-manager creates the default ServiceAccount asynchronously;
    # pods are rejected until it exists
    deadline = time.time() + 90
    while kubectl.run("get", "serviceaccount", "default", check=False, namespace=name).returncode != 0:
        if time.time() > deadline:
            pytest.fail(f"no default ServiceAccount in namespace {name} after 90s")
        time.sleep(0.5)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)
