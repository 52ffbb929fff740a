# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a backup and restore cycle may need to do, and whether the caller may: SelfSubjectAccessReviews.

``CYCLE`` lists the permissions the modules and roles use, where they use them; rbac/appsnap-velero-job.yaml grants
exactly these (tests/unit/plugins/module_utils/test_velero_access.py holds the two together). ``missing`` asks the
API server about each, as the caller, without side effects, and returns those it denies.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (verb, group, resource, name, where): "velero" is Velero's namespace, "cluster" the cluster scope, "app" each
# namespace the cycle backs up or restores.
CYCLE = (
    ("create", "velero.io", "backups", None, "velero"),
    ("create", "velero.io", "restores", None, "velero"),
    ("watch", "velero.io", "backups", None, "velero"),
    ("list", "velero.io", "backupstoragelocations", None, "velero"),
    ("list", "velero.io", "podvolumebackups", None, "velero"),
    ("create", "velero.io", "serverstatusrequests", None, "velero"),
    ("create", "velero.io", "downloadrequests", None, "velero"),
    ("get", "apps", "deployments", "velero", "velero"),
    ("get", "apps", "daemonsets", "node-agent", "velero"),
    ("get", "", "namespaces", None, "cluster"),
    ("list", "", "pods", None, "app"),
    ("create", "", "pods/exec", None, "app"),
    ("list", "apps", "statefulsets", None, "app"),
)


def scoped(velero_namespace, namespaces):
    """Each permission of CYCLE with its namespace: (verb, group, resource, name, namespace or None)."""
    where = {"velero": [velero_namespace], "cluster": [None], "app": list(namespaces or [])}
    return [(verb, group, resource, name, namespace) for verb, group, resource, name, scope in CYCLE for namespace in where[scope]]


def review(verb, group, resource, name=None, namespace=None):
    """The SelfSubjectAccessReview asking whether the caller may ``verb`` the ``resource`` ('pods/exec': a subresource)."""
    resource, _sep, subresource = resource.partition("/")
    attributes = {"verb": verb, "group": group, "resource": resource}
    for key, value in (("subresource", subresource), ("name", name), ("namespace", namespace)):
        if value:
            attributes[key] = value
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}}


def describe(permission):
    """'create pods/exec in namespace app' for a permission of scoped()."""
    verb, group, resource, name, namespace = permission
    what = "%s%s%s" % (resource, "." + group if group else "", "/" + name if name else "")
    return "%s %s %s" % (verb, what, "in namespace %s" % namespace if namespace else "cluster-wide")


def missing(client, permissions):
    """The permissions the API server denies the caller, each as describe() says it."""
    return [describe(p) for p in permissions if not client.allowed(review(*p[:3], name=p[3], namespace=p[4]))]
