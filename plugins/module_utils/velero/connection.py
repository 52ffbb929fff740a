# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a failed connection to the Kubernetes API means, in one line that names the fix.

The kubernetes client fails in many shapes before it has said a word to the
API server: a kubeconfig that does not exist or does not parse, a server that
refuses or cannot be reached, a certificate that does not verify, credentials
the server rejects. ``explain`` turns each into one sentence; the client
(client.py) raises it as a VeleroError. Nothing here reads or prints a token.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# What every connection message ends with: where the connection settings come from.
SETTINGS = "Set kubeconfig and context (in the roles appsnap_kubeconfig and appsnap_context; or host and api_key), or K8S_AUTH_KUBECONFIG and K8S_AUTH_CONTEXT."


def _chain(exc):
    """``exc`` and the exceptions it was raised from or wraps (urllib3 keeps the cause in ``reason``)."""
    seen = []
    while exc is not None and exc not in seen and len(seen) < 10:
        seen.append(exc)
        reason = getattr(exc, "reason", None)
        exc = reason if isinstance(reason, BaseException) else exc.__cause__ or exc.__context__
    return seen


def _named(chain, *names):
    """The innermost exception of ``chain`` whose class (or a base class) has one of ``names``."""
    for exc in reversed(chain):
        if {cls.__name__ for cls in type(exc).__mro__} & set(names):
            return exc
    return None


def _first_line(exc):
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].rstrip(".")


def _server(params):
    return params.get("host") or "the API server of %s" % (
        "context %s" % params["context"] if params.get("context") else "the current context")


def kubeconfig_problem(params, environ=None):
    """A message when the kubeconfig named (or the default one) is missing, else None."""
    environ = os.environ if environ is None else environ
    # kubernetes.core reads K8S_AUTH_* itself when an option is not set.
    kubeconfig = params.get("kubeconfig") or environ.get("K8S_AUTH_KUBECONFIG")
    if isinstance(kubeconfig, dict) or params.get("host") or environ.get("K8S_AUTH_HOST"):
        return None
    if kubeconfig:
        if not os.path.exists(os.path.expanduser(kubeconfig)):
            # The path is not quoted: kubeconfig is a no_log option, so Ansible would mask it anyway.
            return "The kubeconfig given does not exist. %s" % SETTINGS
        return None
    default = environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]
    in_cluster = environ.get("KUBERNETES_SERVICE_HOST")
    if not in_cluster and not os.path.exists(os.path.expanduser(default)):
        return "No kubeconfig given, none at %s, and not running in a pod. %s" % (default, SETTINGS)
    return None


def explain(exc, params):
    """One line naming the fix for a connection failure ``exc``, or None when ``exc`` is not one."""
    chain = _chain(exc)
    status = getattr(exc, "status", None)
    if status == 401:
        return ("The API server rejected the credentials (401 Unauthorized): the token or client certificate of the "
                "kubeconfig/context (or api_key) is wrong or expired. %s" % SETTINGS)
    tls = _named(chain, "SSLError", "SSLCertVerificationError", "CertificateError")
    if tls is not None:
        return ("TLS with %s failed (%s). Give the cluster's CA with ca_cert (K8S_AUTH_SSL_CA_CERT), or "
                "validate_certs: false for a test cluster." % (_server(params), _first_line(tls)))
    refused = _named(chain, "ConnectionRefusedError", "NewConnectionError", "MaxRetryError", "ConnectTimeoutError",
                     "ConnectionError", "gaierror")
    if refused is not None:
        return ("Cannot reach %s (%s). Check that the cluster is up and that the kubeconfig/context (or host) "
                "point at it. %s" % (_server(params), _first_line(refused), SETTINGS))
    parse = _named(chain, "YAMLError", "ScannerError", "ParserError")
    if parse is not None:
        return "The kubeconfig is not valid YAML (%s). %s" % (_first_line(parse), SETTINGS)
    config = _named(chain, "ConfigException", "CoreException")
    if config is not None:
        return "The kubeconfig does not give a usable cluster (%s). %s" % (_first_line(config), SETTINGS)
    return None
