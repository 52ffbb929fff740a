#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: preflight
short_description: Check that a cluster can run this collection's backups and restores, and say what is missing
version_added: 0.1.0
description:
  - Connects to the Kubernetes API. A kubeconfig that is missing or does not parse, a server that cannot be reached, a
    certificate that does not verify and credentials the server rejects each end the module with one line that names
    the fix.
  - Then runs every check asked for and reports each in RV(checks); it fails when one fails, naming all that did.
  - V(velero) - the Velero CRDs, the BackupStorageLocation (O(storage_location), else the default one) Available, and the
    server answering a ServerStatusRequest with a supported version (see O(server_timeout)).
  - V(node_agent) - the C(node-agent) DaemonSet that runs file-system backups exists and every pod of it is ready.
  - V(namespaces) - each of O(namespaces) exists.
  - V(access) - the caller may do what a backup and restore cycle does (SelfSubjectAccessReviews, which change
    nothing) in O(velero_namespace) and in each of O(namespaces); the message lists every permission denied.
    C(rbac/appsnap-velero-job.yaml) in the collection grants exactly these to a job's service account.
  - The roles run it with O(velero=false), O(node_agent=false) and O(access=false) as their first step, so that a
    wrong kubeconfig or context fails there in one line. C(ansible-playbook appsnap.velero.preflight) runs every check.
options:
  namespaces:
    description: The application namespaces a backup or restore will cover.
    type: list
    elements: str
    default: []
  storage_location:
    description: The BackupStorageLocation to check. Defaults to the one marked default.
    type: str
  velero:
    description: Check Velero itself.
    type: bool
    default: true
  node_agent:
    description: Check the node-agent.
    type: bool
    default: true
  access:
    description: Check the caller's permissions.
    type: bool
    default: true
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - appsnap.velero.velero
  - appsnap.velero.velero.kubernetes
  - appsnap.velero.velero.server
attributes:
  check_mode:
    support: full
    details: >-
      Nothing is kept in either mode (the ServerStatusRequest is deleted, access reviews are not stored); in check mode the
      server's version is the tag of the C(velero) Deployment's image, as in M(appsnap.velero.backup).
  diff_mode:
    support: none
author:
  - appsnap.velero contributors (@appsnap)
"""

EXAMPLES = r"""
- name: Check the cluster before the first backup
  appsnap.velero.preflight:
    namespaces: [shop]
  register: ready

- name: Check only that the kubeconfig and context reach a cluster
  appsnap.velero.preflight:
    kubeconfig: ~/.kube/prod.yaml
    context: prod
    velero: false
    node_agent: false
    access: false
"""

RETURN = r"""
checks:
  description: Each check that ran, in order; also when the module fails.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: V(connection), V(velero), V(node_agent), V(namespaces) or V(access).
      type: str
    ok:
      description: Whether it passed.
      type: bool
    detail:
      description: What it found, or why it failed and the fix.
      type: str
  sample:
    - {check: connection, ok: true, detail: Kubernetes v1.34.4}
    - {check: velero, ok: true, detail: "Velero v1.18.3, BackupStorageLocation default Available"}
kubernetes_version:
  description: The API server's version.
  returned: always
  type: str
  sample: v1.34.4
velero_version:
  description: The Velero server's version, when the V(velero) check got that far.
  returned: always
  type: str
  sample: v1.18.3
"""

from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops
from ansible_collections.appsnap.velero.plugins.module_utils.velero.argspecs import argspec, SERVER_ARG_SPEC
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import new_module


def main():
    module = new_module(
        argspec(
            SERVER_ARG_SPEC,
            namespaces=dict(type="list", elements="str", default=[]),
            storage_location=dict(type="str"),
            velero=dict(type="bool", default=True),
            node_agent=dict(type="bool", default=True),
            access=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    velero_ops.execute(module, velero_ops.cluster_preflight)


if __name__ == "__main__":
    main()
