# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that add Velero hooks to workload manifests and build the PostgreSQL commands they run.

The documentation of each filter is in the YAML file named after it. The
filters are module_utils functions (pod_hooks.py for the manifests,
workload_env.py and hook_record.py for hooking a live workload,
spec_hooks.py for Velero's Backup-spec hooks and their resource policy,
targets.py for the namespaces and pods the roles work on, drill.py for the restore drill,
pg_dump.py, pg_replay.py and pg_commands.py for PostgreSQL), so modules and
roles share the logic; this file only turns their InputError into
AnsibleFilterError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.appsnap.velero.plugins.module_utils import (
    drill,
    hook_record,
    pg_commands,
    pg_dump,
    pg_replay,
    pod_hooks,
    spec_hooks,
    targets,
    workload_env,
)
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError

FILTERS = {
    "backup_hooks": pod_hooks.backup_hooks,
    "backup_volume": pod_hooks.backup_volume,
    "restore_hooks": pod_hooks.restore_hooks,
    "backup_spec_hooks": spec_hooks.backup_spec_hooks,
    "fs_backup_policy": spec_hooks.fs_backup_policy,
    "record_hooks": hook_record.record_hooks,
    "remove_hooks": hook_record.remove_hooks,
    "hooks_patch": hook_record.hooks_patch,
    "matching_containers": workload_env.matching_containers,
    "env_sources": workload_env.env_sources,
    "container_env": workload_env.container_env,
    "pod_selector": targets.pod_selector,
    "pod_targets": targets.pod_targets,
    "namespace_labels": targets.namespace_labels,
    "namespace_selector": targets.namespace_selector,
    "pg_dump_hook": pg_dump.pg_dump_hook,
    "pg_shell": pg_commands.pg_shell,
    "pg_query": pg_commands.pg_query,
    "pg_replay_command": pg_replay.pg_replay_command,
    "pg_replay_hook": pg_replay.pg_replay_hook,
    "drill_scratch_namespace": drill.scratch_namespace,
    "drill_restore_modifier": drill.scratch_restore_modifier,
    "drill_verified_annotations": drill.verified_annotations,
}


def _filter_errors(name, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            raise AnsibleFilterError("appsnap.velero.%s: %s" % (name, exc))

    return wrapper


class FilterModule(object):
    def filters(self):
        return dict((name, _filter_errors(name, func)) for name, func in FILTERS.items())
