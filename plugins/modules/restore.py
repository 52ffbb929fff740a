#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: restore
short_description: Restore a Velero backup and wait for it
version_added: 0.1.0
description:
  - Creates a Velero C(Restore) from a named Backup, from the newest Completed Backup of a Schedule, or from the newest
    Completed Backup matching a label selector, and waits for it with the watch API.
  - Refuses a Backup that is not Completed unless O(allow_partial=true).
  - Returns the PodVolumeRestores. Velero restores file-system-backup data only into pods it creates, so restore into a
    namespace that was deleted first, or map it to a new one with O(namespace_mapping).
  - Idempotent by name, like M(appsnap.velero.backup).
  - With O(state=ended) it ends the unfinished Restore O(name) instead - see O(state).
  - Before it creates the Restore, in check mode too, it checks that Velero is installed, that the default storage
    location is Available and that the Velero server answers and is 1.18.3 or newer (see O(server_timeout)).
options:
  name:
    description: The Restore's name. Without it a name is generated from the backup's name.
    type: str
  backup_name:
    description: The Backup to restore.
    type: str
  schedule_name:
    description: Restore the newest Completed Backup of this Schedule.
    type: str
  backup_label_selector:
    description: Restore the newest Completed Backup with these labels, V(key=value,...) or a dict.
    type: raw
  allow_partial:
    description: Allow restoring a PartiallyFailed Backup.
    type: bool
    default: false
  namespace_mapping:
    description: Restore namespace C(key) into namespace C(value).
    type: dict
  restore_pvs:
    description: Restore persistent volumes from snapshots.
    type: bool
  existing_resource_policy:
    description: What to do with objects that already exist.
    type: str
    choices: [none, update]
  state:
    description:
      - V(present) restores a backup.
      - V(ended) ends the unfinished Restore O(name), for example one whose pods are being deleted - its
        PodVolumeRestores that are not done are marked Failed with O(end_reason), again while the Restore goes on (a pod
        created meanwhile brings a new one), until Velero ends the Restore, within O(wait_timeout). Velero runs one
        Restore at a time, and one whose pods are gone waits for their volumes until its pod-volume timeout (4 hours by
        default), holding up every other restore. A Restore already ended is left as it is (C(changed) false).
        In check mode nothing is marked; RV(ended) lists what would be.
    type: str
    choices: [present, ended]
    default: present
  end_reason:
    description: With O(state=ended), the message the PodVolumeRestores are marked Failed with.
    type: str
    default: ended by appsnap.velero.restore (state ended)
  resource_modifier:
    description:
      - A ConfigMap in the Velero namespace holding Velero resource modifiers (C(version) V(v1) and C(resourceModifierRules),
        under one data key), which Velero applies to each object before it creates it. The restore drill's
        (P(appsnap.velero.drill#role), P(appsnap.velero.drill_restore_modifier#filter)) clears the C(spec.volumeName) of
        restored PersistentVolumeClaims.
      - Refused before the Restore is created when the ConfigMap does not exist or holds other than one data key, which
        Velero would fail the restore's validation for.
    type: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - appsnap.velero.velero
  - appsnap.velero.velero.kubernetes
  - appsnap.velero.velero.selection
  - appsnap.velero.velero.server
  - appsnap.velero.velero.wait
attributes:
  check_mode:
    support: full
    details: Creates the Restore with a server-side dry run.
  diff_mode:
    support: none
author:
  - appsnap.velero contributors (@appsnap)
"""

EXAMPLES = r"""
- name: Restore the newest nightly backup of the database namespace
  appsnap.velero.restore:
    schedule_name: nightly
    included_namespaces: [db]
  register: restored

- name: End a restore whose namespace is about to be deleted
  appsnap.velero.restore:
    name: db-copy-restore
    state: ended
    end_reason: the copy is being deleted
    wait_timeout: 120

- name: Restore a named backup into a copy of the namespace
  appsnap.velero.restore:
    backup_name: db-20261126
    namespace_mapping:
      db: db-copy
"""

RETURN = r"""
result:
  description: The Restore object as it ended.
  returned: always
  type: dict
backup_name:
  description: The Backup that was restored - O(backup_name), or the newest one O(schedule_name) or O(backup_label_selector) selected.
  returned: when O(state=present) and it succeeds
  type: str
backup:
  description: That Backup object, as read before the restore (its C(status) has the backup's start and completion times).
  returned: when O(state=present) and it succeeds
  type: dict
phase:
  description: The Restore's phase.
  returned: always
  type: str
duration:
  description: Seconds the task spent.
  returned: always
  type: float
hooks_attempted:
  description: Restore hooks Velero ran.
  returned: when O(state=present)
  type: int
hooks_failed:
  description: Restore hooks that failed.
  returned: when O(state=present)
  type: int
warning_count:
  description: Velero's warning count (C(status.warnings)); named so because Ansible reserves C(warnings).
  returned: when O(state=present)
  type: int
error_count:
  description: Velero's error count (C(status.errors)).
  returned: when O(state=present)
  type: int
volumes:
  description: One entry per PodVolumeRestore, with the keys of the volumes returned by M(appsnap.velero.backup).
  returned: when O(state=present)
  type: list
  elements: dict
ended:
  description: With O(state=ended), the PodVolumeRestores it marked Failed (in check mode, those it would mark).
  returned: when O(state=ended)
  type: list
  elements: str
log_lines:
  description: The error, hook and pod-volume lines of the Restore's log.
  returned: when the restore failed
  type: list
  elements: str
"""

from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops
from ansible_collections.appsnap.velero.plugins.module_utils.velero.argspecs import argspec, SELECTION_ARG_SPEC, SERVER_ARG_SPEC, WAIT_ARG_SPEC
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import new_module


def main():
    module = new_module(
        argspec(
            SELECTION_ARG_SPEC,
            SERVER_ARG_SPEC,
            WAIT_ARG_SPEC,
            name=dict(type="str"),
            backup_name=dict(type="str"),
            schedule_name=dict(type="str"),
            backup_label_selector=dict(type="raw"),
            allow_partial=dict(type="bool", default=False),
            namespace_mapping=dict(type="dict"),
            restore_pvs=dict(type="bool"),
            existing_resource_policy=dict(type="str", choices=["none", "update"]),
            resource_modifier=dict(type="str"),
            state=dict(type="str", choices=["present", "ended"], default="present"),
            end_reason=dict(type="str", default="ended by appsnap.velero.restore (state ended)"),
        ),
        supports_check_mode=True,
        required_if=[("state", "present", ("backup_name", "schedule_name", "backup_label_selector"), True), ("state", "ended", ("name",))],
        mutually_exclusive=[("backup_name", "schedule_name", "backup_label_selector")],
    )
    velero_ops.execute(module, velero_ops.restore_state)


if __name__ == "__main__":
    main()
