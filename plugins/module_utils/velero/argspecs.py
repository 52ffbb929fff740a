# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The modules' argument specs: the option groups they share, and argspec() that assembles them.

Each group is documented by the doc fragment of the same name in plugins/doc_fragments/velero.py
(VELERO_COMMON_ARG_SPEC by its DOCUMENTATION); the auth options are kubernetes.core's, through k8s_shim.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import AUTH_ARG_SPEC

# Every module's own options (doc fragment appsnap.velero.velero).
VELERO_COMMON_ARG_SPEC = {
    "velero_namespace": {"type": "str", "default": "velero"},
}

# Which objects a Backup, Schedule or Restore covers (doc fragment appsnap.velero.velero.selection).
SELECTION_ARG_SPEC = {
    "labels": {"type": "dict"},
    "included_namespaces": {"type": "list", "elements": "str"},
    "excluded_namespaces": {"type": "list", "elements": "str"},
    "included_resources": {"type": "list", "elements": "str"},
    "excluded_resources": {"type": "list", "elements": "str"},
    "label_selector": {"type": "raw"},
    "hooks": {"type": "dict"},
}

# The Velero server the pre-flight check talks to (doc fragment appsnap.velero.velero.server).
SERVER_ARG_SPEC = {
    "server_timeout": {"type": "int", "default": 20},
    "velero_min_version": {"type": "str"},
}

# The rest of a Backup's spec, shared by backup and schedule (doc fragment appsnap.velero.velero.backup_template).
BACKUP_TEMPLATE_ARG_SPEC = {
    "ttl": {"type": "str"},
    "storage_location": {"type": "str"},
    "default_volumes_to_fs_backup": {"type": "bool"},
    "snapshot_volumes": {"type": "bool"},
    "resource_policy": {"type": "str"},
    "include_cluster_resources": {"type": "bool"},
    "volume_snapshot_locations": {"type": "list", "elements": "str"},
    "ordered_resources": {"type": "dict"},
}

# The checks of what a Backup covers, shared by backup and schedule (doc fragment appsnap.velero.velero.backup_preflight).
BACKUP_PREFLIGHT_ARG_SPEC = {
    "preflight_pods": {"type": "bool", "default": True},
}

# Waiting for a Backup or Restore (doc fragment appsnap.velero.velero.wait).
WAIT_ARG_SPEC = {
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 1800},
    "fail_on_partial": {"type": "bool", "default": True},
}


def argspec(*shared, **module_options):
    """kubernetes.core's auth options (with their K8S_AUTH_* fallbacks), ours, the ``shared`` groups, then the module's own."""
    return application_argspec(VELERO_COMMON_ARG_SPEC, *shared, **module_options)


def application_argspec(*shared, **module_options):
    """As argspec, without velero_namespace: for a module that changes only the application's objects (pg_hook)."""
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    for group in shared:
        spec.update(copy.deepcopy(group))
    spec.update(module_options)
    return spec
