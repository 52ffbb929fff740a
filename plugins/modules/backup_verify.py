#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup_verify
short_description: Check a Velero backup against expectations
version_added: 0.1.0
description:
  - Checks the phase, the hooks, the pod volumes that were backed up and their size, the backup's age and its storage
    location, and fails with the full list of the expectations that are not met.
  - With O(drilled=true) and O(max_age), it is the freshness check of restores that proved themselves - schedule it as an alert
    (C(playbooks/freshness.yml)). Only backups that a restore drill (P(appsnap.velero.drill#role)) verified count, and it fails when
    the newest of them completed longer than O(max_age) ago, or when there is none, naming the drill as the fix.
options:
  name:
    description: The Backup to check. Without it, the newest Completed Backup of O(schedule) or O(label_selector).
    type: str
  schedule:
    description: Check the newest Completed Backup of this Schedule.
    type: str
  label_selector:
    description: Check the newest Completed Backup with these labels.
    type: raw
  phase:
    description: Acceptable phases.
    type: list
    elements: str
    default: [Completed]
  hooks_failed_zero:
    description: Expect no failed hook.
    type: bool
    default: true
  min_hooks_attempted:
    description: Expect at least this many hooks to have run.
    type: int
    default: 0
  volumes:
    description: Pod volumes that must have been backed up.
    type: list
    elements: dict
    suboptions:
      name:
        description: The pod volume's name.
        type: str
        required: true
      pod:
        description: Only this pod's volume.
        type: str
      namespace:
        description: Only the volume of a pod in this namespace, where several namespaces have a pod of that name.
        type: str
      min_bytes:
        description: The least number of bytes backed up.
        type: int
        default: 1
  max_age:
    description: The oldest acceptable completion, a Go duration such as V(26h).
    type: str
  storage_location_available:
    description: Expect the backup's storage location to be Available.
    type: bool
    default: true
  drilled:
    description:
      - Expect a restore drill to have verified the backup - the C(appsnap.velero/verified-at) annotation the drill role writes on
        it after a replay that matched the dump's manifest.
      - Without O(name), check the newest Completed Backup of O(schedule) or O(label_selector) that a drill verified, so that
        O(max_age) is the age of the newest backup known to restore.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - appsnap.velero.velero
  - appsnap.velero.velero.kubernetes
attributes:
  check_mode:
    support: full
    details: Read-only.
  diff_mode:
    support: none
author:
  - appsnap.velero contributors (@appsnap)
"""

EXAMPLES = r"""
- name: Alert when no backup of namespace db that a restore drill verified is younger than 26 hours
  appsnap.velero.backup_verify:
    label_selector: "{{ 'db' | appsnap.velero.namespace_selector }}"
    drilled: true
    max_age: 26h

- name: The pg_dump hook ran and the dump volume was captured
  appsnap.velero.backup_verify:
    name: "{{ db_backup.result.metadata.name }}"
    min_hooks_attempted: 1
    volumes:
      - name: postgresql-backup
        min_bytes: 1
    max_age: 1h
"""

RETURN = r"""
verified:
  description: Whether every expectation was met.
  returned: always
  type: bool
problems:
  description: The expectations that were not met, as sentences.
  returned: always
  type: list
  elements: str
  sample: ["volume postgresql-backup was not backed up (no PodVolumeBackup)"]
name:
  description: The Backup that was checked.
  returned: when a backup was found
  type: str
backup_name:
  description: The Backup that was checked, under the key every module of this collection returns it.
  returned: when a backup was found
  type: str
phase:
  description: Its phase.
  returned: when a backup was found
  type: str
hooks_attempted:
  description: Hooks Velero ran.
  returned: when a backup was found
  type: int
hooks_failed:
  description: Hooks that failed.
  returned: when a backup was found
  type: int
warning_count:
  description: Velero's warning count (C(status.warnings)); named so because Ansible reserves C(warnings).
  returned: when a backup was found
  type: int
error_count:
  description: Velero's error count (C(status.errors)).
  returned: when a backup was found
  type: int
volumes:
  description: The backup's PodVolumeBackups, with the keys of the volumes returned by M(appsnap.velero.backup).
  returned: when a backup was found
  type: list
  elements: dict
result:
  description: The Backup object.
  returned: when a backup was found
  type: dict
drill_verified_at:
  description: When a restore drill verified the backup (its C(appsnap.velero/verified-at) annotation), or null.
  returned: success
  type: str
  sample: "2026-11-30T13:20:05Z"
"""

from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops
from ansible_collections.appsnap.velero.plugins.module_utils.velero.argspecs import argspec
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import new_module


def main():
    module = new_module(
        argspec(
            name=dict(type="str"),
            schedule=dict(type="str"),
            label_selector=dict(type="raw"),
            phase=dict(type="list", elements="str", default=["Completed"]),
            hooks_failed_zero=dict(type="bool", default=True),
            min_hooks_attempted=dict(type="int", default=0),
            volumes=dict(
                type="list",
                elements="dict",
                options=dict(name=dict(type="str", required=True), pod=dict(type="str"), namespace=dict(type="str"), min_bytes=dict(type="int", default=1)),
            ),
            max_age=dict(type="str"),
            storage_location_available=dict(type="bool", default=True),
            drilled=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
        required_one_of=[("name", "schedule", "label_selector")],
        mutually_exclusive=[("name", "schedule", "label_selector")],
    )
    velero_ops.execute(module, velero_ops.backup_verify)


if __name__ == "__main__":
    main()
