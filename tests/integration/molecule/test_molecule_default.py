"""`molecule test` of the default scenario: the full cycle on the lab, and verify.yml's integrity checks."""
import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_molecule_default_scenario(velero_ready):
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=velero_ready.kubeconfig, ANSIBLE_FORCE_COLOR="0", NO_COLOR="1")
    proc = subprocess.run(["molecule", "test", "-s", "default"], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    for step in ("converge", "verify"):
        assert "%s: Executed: Successful" % step in output or ("%s" % step in output and "Executed: Successful" in output), output[-2000:]
