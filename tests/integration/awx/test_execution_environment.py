"""`ansible-builder create` turns meta/execution-environment.yml into a build context."""
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_ansible_builder_create(tmp_path):
    proc = subprocess.run(["ansible-builder", "create", "-f", str(REPO / "meta" / "execution-environment.yml"), "--context", str(tmp_path / "context")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / "context" / "Dockerfile").read_text()
    assert "quay.io/ansible/awx-ee:24.6.1" in containerfile
    build = tmp_path / "context" / "_build"
    assert "kubernetes>=24.2.0" in (build / "requirements.txt").read_text()
    assert "kubernetes.core" in (build / "requirements.yml").read_text()
