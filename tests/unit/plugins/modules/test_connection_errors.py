# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Connection failures end in one line that names the fix, never a traceback.

Each case runs a real module (appsnap.velero.backup_info) through ansible with a
real kubeconfig that fails in one way: missing, not YAML, a port where nothing
listens, a TLS server whose certificate the client cannot verify. No cluster is
needed; a wrong token against the lab's API server is tested in
tests/integration/modules/test_preflight_failures.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import ssl
import subprocess
import threading

import pytest
import yaml

SETTINGS = "Set kubeconfig and context (in the roles appsnap_kubeconfig and appsnap_context; or host and api_key), or K8S_AUTH_KUBECONFIG and K8S_AUTH_CONTEXT."


def run_backup_info(tmp_path, *args, **env):
    """The module's result as JSON (ansible's one-line callback), and its whole output."""
    environ = dict((k, v) for k, v in os.environ.items() if k not in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG"))
    environ.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", HOME=str(tmp_path), **env)
    proc = subprocess.run(["ansible", "localhost", "-m", "appsnap.velero.backup_info", "-a", " ".join(("name=x",) + args)],
                          env=environ, capture_output=True, text=True, timeout=120, check=False)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result, proc.stdout + proc.stderr


def kubeconfig(tmp_path, server, name="kubeconfig"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "appsnap-not-a-token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path


def assert_one_clean_line(result, output, *wanted):
    assert result.get("failed") is True
    msg = result["msg"]
    assert "\n" not in msg and "Traceback" not in output, output
    assert msg.endswith(SETTINGS) or "validate_certs" in msg, msg
    for part in wanted:
        assert part in msg, msg
    assert "appsnap-not-a-token" not in output


def test_no_kubeconfig_anywhere(tmp_path):
    result, output = run_backup_info(tmp_path)
    assert_one_clean_line(result, output, "No kubeconfig given, none at ~/.kube/config, and not running in a pod.")


def test_a_kubeconfig_that_does_not_exist(tmp_path):
    result, output = run_backup_info(tmp_path, "kubeconfig=%s" % (tmp_path / "missing"))
    assert_one_clean_line(result, output, "The kubeconfig given does not exist.")


def test_the_environment_variable_counts_like_the_option(tmp_path):
    result, output = run_backup_info(tmp_path, K8S_AUTH_KUBECONFIG=str(tmp_path / "missing"))
    assert_one_clean_line(result, output, "The kubeconfig given does not exist.")


def test_a_kubeconfig_that_is_not_yaml(tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("apiVersion: v1\nclusters: [\n  - foo: :\n")
    result, output = run_backup_info(tmp_path, "kubeconfig=%s" % bad)
    assert_one_clean_line(result, output, "The kubeconfig is not valid YAML (")


def test_a_server_that_refuses(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result, output = run_backup_info(tmp_path, "kubeconfig=%s" % kubeconfig(tmp_path, "https://127.0.0.1:%d" % port))
    assert_one_clean_line(result, output, "Cannot reach the API server of the current context (", "Connection refused",
                          "Check that the cluster is up")


@pytest.fixture
def tls_server(tmp_path):
    """A TLS server on loopback with a self-signed certificate no client trusts."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(60)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(5)


def test_a_certificate_that_does_not_verify(tmp_path, tls_server):
    result, output = run_backup_info(tmp_path, "kubeconfig=%s" % kubeconfig(tmp_path, "https://127.0.0.1:%d" % tls_server))
    assert_one_clean_line(result, output, "TLS with the API server of the current context failed (", "ca_cert")


def test_module_defaults_of_the_group_reach_these_modules_and_kubernetes_core(tmp_path):
    """group/appsnap.velero.velero sets the connection once, for kubernetes.core.k8s_info too (extend_group)."""
    missing = tmp_path / "group-kubeconfig"
    playbook = tmp_path / "group.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "module_defaults": {"group/appsnap.velero.velero": {"kubeconfig": str(missing)}},
        "tasks": [
            {"name": "ours", "appsnap.velero.backup_info": {"name": "x"}, "ignore_errors": True},
            {"name": "theirs", "kubernetes.core.k8s_info": {"kind": "Pod"}, "ignore_errors": True},
        ],
    }]))
    environ = dict((k, v) for k, v in os.environ.items() if k not in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG"))
    environ.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", HOME=str(tmp_path))
    proc = subprocess.run(["ansible-playbook", str(playbook)], env=environ, capture_output=True, text=True, timeout=120, check=False)
    ours, theirs = [task["hosts"]["localhost"] for task in json.loads(proc.stdout)["plays"][0]["tasks"]]
    # Without the group default both would look for ~/.kube/config (absent under this HOME) instead.
    assert ours["msg"].startswith("The kubeconfig given does not exist."), ours["msg"]
    assert str(missing) in theirs["msg"], theirs["msg"]
