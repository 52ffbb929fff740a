#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup
short_description: Run a Velero backup and wait for it, or delete one
version_added: 0.1.0
description:
  - Creates a Velero C(Backup) and waits for it with the Kubernetes watch API, as C(velero backup create --wait) does,
    then reports its hooks, its pod-volume backups and, on failure, the relevant lines of its log.
  - Before it writes anything, in check mode too, it checks that Velero is installed, that the storage location is
    Available, that the Velero server answers a ServerStatusRequest and is 1.18.3 or newer (see O(server_timeout)), that
    every pod with a backup hook in the backup's scope is Running and Ready, and that the node-agent is ready when
    file-system backup is needed (see O(preflight_pods)). It fails with a message that names the fix.
  - Idempotent by name. An existing terminal Backup is reported with C(changed=false) and not run again; a running one
    is waited for.
  - O(state=absent) deletes the backup and its data through a C(DeleteBackupRequest). Deleting only the Backup object
    leaves the data in the bucket, and Velero's sync brings the object back.
options:
  name:
    description:
      - The Backup's name. Without it (and without O(name_prefix)) a name is generated from C(appsnap-backup-), and
        every run creates a new Backup.
      - Required with O(state=absent).
    type: str
  name_prefix:
    description:
      - Name the Backup C(<name_prefix>-<YYYYMMDDHHMMSS>), the UTC time the task starts it, as Velero names a schedule's
        backups; every run creates a new Backup, named in RV(backup_name). A prefix over 200 characters is cut there.
      - Not together with O(name).
    type: str
  state:
    description: Whether the backup should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - appsnap.velero.velero
  - appsnap.velero.velero.kubernetes
  - appsnap.velero.velero.selection
  - appsnap.velero.velero.server
  - appsnap.velero.velero.backup_template
  - appsnap.velero.velero.backup_preflight
  - appsnap.velero.velero.wait
attributes:
  check_mode:
    support: full
    details: Creates the Backup with a server-side dry run and reports what would be done; the server is checked through its Deployment.
  diff_mode:
    support: none
author:
  - appsnap.velero contributors (@appsnap)
"""

EXAMPLES = r"""
- name: Back up the database namespace, running the pods' pg_dump hooks
  appsnap.velero.backup:
    name_prefix: db
    included_namespaces: [db]
    ttl: 168h
  register: db_backup

- name: Show what was captured
  ansible.builtin.debug:
    msg: "{{ db_backup.volumes | map(attribute='bytes') | sum }} bytes in {{ db_backup.duration }}s"

- name: Delete the backup and its data
  appsnap.velero.backup:
    name: "{{ db_backup.backup_name }}"
    state: absent
"""

RETURN = r"""
result:
  description: The Backup object as it ended (or, on timeout, as it was last seen).
  returned: always
  type: dict
  sample: {"kind": "Backup", "metadata": {"name": "db-1"}, "status": {"phase": "Completed"}}
backup_name:
  description:
    - The Backup's name (the one Velero generated when O(name) is unset), the key every module of this collection that creates or
      reads a backup returns it under.
  returned: always
  type: str
  sample: appsnap-backup-x7k2p
phase:
  description: The Backup's phase, V(Absent) or V(Deleted) with O(state=absent).
  returned: always
  type: str
  sample: Completed
duration:
  description: Seconds the task spent, waiting included.
  returned: always
  type: float
  sample: 12.5
hooks_attempted:
  description: Hooks Velero ran (C(status.hookStatus.hooksAttempted)).
  returned: when O(state=present)
  type: int
  sample: 1
hooks_failed:
  description: Hooks that failed (C(status.hookStatus.hooksFailed)).
  returned: when O(state=present)
  type: int
  sample: 0
warning_count:
  description: Velero's warning count (C(status.warnings)); named so because Ansible reserves C(warnings).
  returned: when O(state=present)
  type: int
  sample: 0
error_count:
  description: Velero's error count (C(status.errors)).
  returned: when O(state=present)
  type: int
  sample: 0
volumes:
  description: One entry per PodVolumeBackup.
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    name:
      description: The PodVolumeBackup's name.
      type: str
    pod:
      description: The pod whose volume was backed up.
      type: str
    pod_namespace:
      description: The pod's namespace.
      type: str
    volume:
      description: The pod volume's name.
      type: str
    phase:
      description: The PodVolumeBackup's phase.
      type: str
    bytes:
      description: Bytes backed up.
      type: int
    total_bytes:
      description: Bytes in the volume.
      type: int
    snapshot_id:
      description: The kopia snapshot id; empty when the volume was empty.
      type: str
    message:
      description: Velero's message, usually set on failure.
      type: str
log_lines:
  description: The error, hook and pod-volume lines of the Backup's log.
  returned: when the backup failed
  type: list
  elements: str
delete_request:
  description: The DeleteBackupRequest that was created.
  returned: when O(state=absent) and the task did not wait
  type: dict
"""

from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops
from ansible_collections.appsnap.velero.plugins.module_utils.velero.argspecs import (
    argspec,
    BACKUP_PREFLIGHT_ARG_SPEC,
    BACKUP_TEMPLATE_ARG_SPEC,
    SELECTION_ARG_SPEC,
    SERVER_ARG_SPEC,
    WAIT_ARG_SPEC,
)
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import new_module


def main():
    module = new_module(
        argspec(
            SELECTION_ARG_SPEC,
            SERVER_ARG_SPEC,
            BACKUP_TEMPLATE_ARG_SPEC,
            BACKUP_PREFLIGHT_ARG_SPEC,
            WAIT_ARG_SPEC,
            name=dict(type="str"),
            name_prefix=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
        required_if=[("state", "absent", ["name"])],
        mutually_exclusive=[("name", "name_prefix")],
    )
    velero_ops.execute(module, velero_ops.backup_state)


if __name__ == "__main__":
    main()
