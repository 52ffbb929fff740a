"""Access to the lab cluster built by lab/lab, shared by every integration test directory.

The tests talk to the lab through our own kubectl and the lab's admin
kubeconfig. When the lab is not reachable they are skipped, unless
APPSNAP_REQUIRE_LAB=1, in which case they fail.

Environment:
  APPSNAP_LAB_KUBECONFIG  kubeconfig (default /var/lib/appsnap-lab/admin.kubeconfig)
  APPSNAP_LAB_KUBECTL     kubectl binary (default: the one lab/lab built)
  APPSNAP_CACHE           cache dir of lab/lab (default ~/.cache/appsnap)
  APPSNAP_REQUIRE_LAB     1 = fail instead of skip when the lab is unreachable
"""
import json
import os
import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
KUBECONFIG = os.environ.get("APPSNAP_LAB_KUBECONFIG", "/var/lib/appsnap-lab/admin.kubeconfig")
REQUIRE = os.environ.get("APPSNAP_REQUIRE_LAB") == "1"


def _find_kubectl():
    if os.environ.get("APPSNAP_LAB_KUBECTL"):
        return os.environ["APPSNAP_LAB_KUBECTL"]
    cache = pathlib.Path(os.environ.get("APPSNAP_CACHE", pathlib.Path.home() / ".cache" / "appsnap"))
    gomod = REPO / "lab" / "k8s" / "go.mod"
    if gomod.exists():
        m = re.search(r"k8s\.io/kubernetes (v1\.\d+\.\d+)", gomod.read_text())
        if m:
            candidate = cache / "bin" / f"k8s-{m.group(1)}" / "kubectl"
            if candidate.exists():
                return str(candidate)
    return None


class Kubectl:
    def __init__(self, binary, kubeconfig):
        self.binary = binary
        self.kubeconfig = kubeconfig

    def run(self, *args, input=None, check=True, timeout=180, namespace=None):
        cmd = [self.binary, "--kubeconfig", self.kubeconfig]
        if namespace:
            cmd += ["--namespace", namespace]
        cmd += list(args)
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def json(self, *args, namespace=None):
        return json.loads(self.run(*args, "-o", "json", namespace=namespace).stdout)


def _unreachable(reason):
    if REQUIRE:
        pytest.fail(f"lab cluster required (APPSNAP_REQUIRE_LAB=1) but {reason}", pytrace=False)
    pytest.skip(f"lab cluster not reachable: {reason}")


@pytest.fixture(scope="session")
def kubectl():
    binary = _find_kubectl()
    if not binary:
        _unreachable("lab kubectl not found (run lab/lab up)")
    if not os.path.exists(KUBECONFIG):
        _unreachable(f"kubeconfig {KUBECONFIG} missing (run lab/lab up)")
    k = Kubectl(binary, KUBECONFIG)
    try:
        proc = k.run("get", "--raw", "/readyz", check=False, timeout=20)
    except (subprocess.TimeoutExpired, OSError) as exc:
        _unreachable(f"kubectl get --raw /readyz: {exc}")
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        _unreachable(f"kubectl get --raw /readyz: rc={proc.returncode} {proc.stdout.strip()} {proc.stderr.strip()}")
    return k


@pytest.fixture(scope="session")
def velero_ready(kubectl):
    """Velero as lab/lab up leaves it: deployment available, BSL default Available."""
    kubectl.run("-n", "velero", "rollout", "status", "deploy/velero", "--timeout=180s")
    kubectl.run("-n", "velero", "wait", "--for=jsonpath={.status.phase}=Available", "bsl/default", "--timeout=180s")
    return kubectl


@pytest.fixture(scope="session")
def run_playbook(velero_ready):
    from velero_lab import PlaybookRunner

    return PlaybookRunner(velero_ready.kubeconfig)
