"""Fixtures of the lab cluster tests; lab access (kubectl, skip-or-fail) is in tests/integration/conftest.py."""
import uuid

import pytest


@pytest.fixture
def namespace(kubectl):
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    name = "lab-test-" + uuid.uuid4().hex[:8]
    kubectl.run("create", "namespace", name)
    # the admission controller creates the default ServiceAccount asynchronously
    kubectl.run("wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default",
                "--timeout=60s", namespace=name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)
