#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: schedule
short_description: Create, update, pause or delete a Velero backup schedule
version_added: 0.1.0
description:
  - Manages a Velero C(Schedule) from a cron expression and the same backup options as M(appsnap.velero.backup).
  - Idempotent; only the fields given here are compared, since Velero adds defaults of its own. C(--diff) shows the change.
  - Before it creates a schedule, in check mode too, it runs the pre-flight checks of M(appsnap.velero.backup) except the
    readiness of hooked pods (Velero installed, the storage location Available, a server of version 1.18.3 or newer, and a
    ready node-agent when file-system backup is needed; see O(preflight_pods)).
options:
  name:
    description: The Schedule's name.
    type: str
    required: true
  state:
    description: Whether the schedule should exist.
    type: str
    choices: [present, absent]
    default: present
  schedule:
    description: A cron expression such as V(0 3 * * *), or V(@every 6h). Required with O(state=present).
    type: str
  paused:
    description: Pause the schedule.
    type: bool
    default: false
  skip_immediately:
    description: Do not run a backup as soon as the schedule is created or unpaused.
    type: bool
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - appsnap.velero.velero
  - appsnap.velero.velero.kubernetes
  - appsnap.velero.velero.selection
  - appsnap.velero.velero.server
  - appsnap.velero.velero.backup_template
  - appsnap.velero.velero.backup_preflight
attributes:
  check_mode:
    support: full
    details: Writes with a server-side dry run.
  diff_mode:
    support: full
author:
  - appsnap.velero contributors (@appsnap)
"""

EXAMPLES = r"""
- name: Back up the database namespace every night, keeping a week
  appsnap.velero.schedule:
    name: nightly-db
    schedule: "0 3 * * *"
    included_namespaces: [db]
    ttl: 168h

- name: Pause it during maintenance
  appsnap.velero.schedule:
    name: nightly-db
    schedule: "0 3 * * *"
    included_namespaces: [db]
    ttl: 168h
    paused: true
"""

RETURN = r"""
result:
  description: The Schedule object, or null when it is absent.
  returned: always
  type: dict
"""

from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops
from ansible_collections.appsnap.velero.plugins.module_utils.velero.argspecs import (
    argspec,
    BACKUP_PREFLIGHT_ARG_SPEC,
    BACKUP_TEMPLATE_ARG_SPEC,
    SELECTION_ARG_SPEC,
    SERVER_ARG_SPEC,
)
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import new_module


def main():
    module = new_module(
        argspec(
            SELECTION_ARG_SPEC,
            SERVER_ARG_SPEC,
            BACKUP_TEMPLATE_ARG_SPEC,
            BACKUP_PREFLIGHT_ARG_SPEC,
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            schedule=dict(type="str"),
            paused=dict(type="bool", default=False),
            skip_immediately=dict(type="bool"),
        ),
        supports_check_mode=True,
        required_if=[("state", "present", ["schedule"])],
    )
    velero_ops.execute(module, velero_ops.schedule_state)


if __name__ == "__main__":
    main()
