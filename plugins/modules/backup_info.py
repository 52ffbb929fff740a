#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup_info
short_description: Read Velero backups with their pod-volume backups and hook status
version_added: 0.1.0
description:
  - Returns one Backup by name, or the Backups matching a label selector or made by a schedule, each with its
    PodVolumeBackups and hook counts.
  - Never fails because nothing was found; RV(backups) is then empty.
options:
  name:
    description: The Backup's name.
    type: str
  label_selector:
    description: Only Backups with these labels, as V(key=value,...) or a dict.
    type: raw
  schedule:
    description: Only Backups made by this Schedule.
    type: str
  latest:
    description: Return only the newest Completed Backup of the selection.
    type: bool
    default: false
  logs:
    description: Add each Backup's log, fetched through a DownloadRequest.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - appsnap.velero.velero
  - appsnap.velero.velero.kubernetes
attributes:
  check_mode:
    support: full
    details: Read-only, except the short-lived DownloadRequest that O(logs=true) creates, which is skipped in check mode.
  diff_mode:
    support: none
author:
  - appsnap.velero contributors (@appsnap)
"""

EXAMPLES = r"""
- name: The newest completed backup of the nightly schedule
  appsnap.velero.backup_info:
    schedule: nightly
    latest: true
  register: nightly

- name: One backup with its log
  appsnap.velero.backup_info:
    name: db-20261126
    logs: true
"""

RETURN = r"""
backup_name:
  description: The name of the first of RV(backups) (the newest), or V(null) when none was found.
  returned: always
  type: str
  sample: db-20261126
backups:
  description: The Backups found, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The Backup's name.
      type: str
    backup_name:
      description: The Backup's name again, under the key the other modules return it.
      type: str
    result:
      description: The Backup object.
      type: dict
    phase:
      description: Its phase.
      type: str
    hooks_attempted:
      description: Hooks Velero ran.
      type: int
    hooks_failed:
      description: Hooks that failed.
      type: int
    warning_count:
      description: Velero's warning count (C(status.warnings)); named so because Ansible reserves C(warnings).
      type: int
    error_count:
      description: Velero's error count (C(status.errors)).
      type: int
    volumes:
      description: Its PodVolumeBackups, with the keys of the volumes returned by M(appsnap.velero.backup).
      type: list
      elements: dict
    log:
      description: The Backup's log.
      type: str
      returned: when O(logs=true) and not in check mode
"""

from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops
from ansible_collections.appsnap.velero.plugins.module_utils.velero.argspecs import argspec
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import new_module


def main():
    module = new_module(
        argspec(
            name=dict(type="str"),
            label_selector=dict(type="raw"),
            schedule=dict(type="str"),
            latest=dict(type="bool", default=False),
            logs=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
        mutually_exclusive=[("name", "label_selector"), ("name", "schedule")],
    )
    velero_ops.execute(module, velero_ops.backup_info)


if __name__ == "__main__":
    main()
