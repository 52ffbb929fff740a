# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that write Velero's backup and restore hooks: on a workload's pods, in a Backup's spec, and the record of a hooked live workload.

Each filter's documentation is in the YAML file named after it; the
functions are in module_utils (hooks/pod.py, hooks/pipeline.py, hooks/spec.py, hooks/record.py), shared with the modules and roles.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pipeline as hook_pipeline
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import record as hook_record
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import spec as spec_hooks
from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import filter_module

FILTERS = {
    "backup_hooks": pod_hooks.backup_hooks,
    "backup_volume": pod_hooks.backup_volume,
    "restore_hooks": pod_hooks.restore_hooks,
    "pg_hooked": hook_pipeline.pg_hooked,
    "backup_spec_hooks": spec_hooks.backup_spec_hooks,
    "fs_backup_policy": spec_hooks.fs_backup_policy,
    "record_hooks": hook_record.record_hooks,
    "remove_hooks": hook_record.remove_hooks,
    "hooks_patch": hook_record.hooks_patch,
}

FilterModule = filter_module(FILTERS)
