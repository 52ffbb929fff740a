#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pg_hook
short_description: Hook a live PostgreSQL StatefulSet or Deployment for application-consistent Velero backups, or undo it
version_added: 0.1.0
description:
  - With O(state=present), adds to the pod template of a workload deployed without this collection - a backup volume
    (an C(emptyDir)) mounted in the PostgreSQL container and opted into Velero's file-system backup, the pg_dump pre-backup
    hook of P(appsnap.velero.pg_dump_hook#filter) and, with O(replay_on_restore), the replay post-restore hook. The same
    pipeline (P(appsnap.velero.pg_hooked#filter)) hooks the manifest the appsnap.velero.postgres role deploys.
  - The PostgreSQL container is O(container), else the one whose image's name contains C(postgres) and whose C(env) sets
    C(POSTGRES_PASSWORD) or C(POSTGRES_PASSWORD_FILE) (one of the two when no container has both, see
    P(appsnap.velero.matching_containers#filter)); when none or several match, the module fails, listing the containers.
  - The databases are O(databases), else the one the official image creates - C(POSTGRES_DB), else C(POSTGRES_USER), else
    C(postgres) - read from the container's environment, its Secrets and ConfigMaps included. Their values are never returned.
  - What was added is recorded in the pod template's C(appsnap.velero/hooked) annotation. A rerun first takes that away
    and hooks again, so it changes nothing when nothing changed; O(state=absent) takes it away and gives back the pod
    template exactly as it was.
  - Only what differs is sent, as a strategic merge patch of the pod template's annotations, volumes and mounts, so
    changes others make meanwhile are kept. The patch starts a rollout; the module waits for it (O(wait)).
  - Credentials never leave the container - the hook reads them from its environment when it runs.
options:
  kind:
    description: The workload's kind.
    type: str
    choices: [StatefulSet, Deployment]
    default: StatefulSet
  name:
    description: The workload's name.
    type: str
    required: true
  namespace:
    description: The workload's namespace.
    type: str
    required: true
  state:
    description: V(present) hooks the workload; V(absent) takes away what an earlier run added.
    type: str
    choices: [present, absent]
    default: present
  container:
    description: The PostgreSQL container. Defaults to the one that looks like PostgreSQL (see above).
    type: str
  databases:
    description:
      - The databases to dump - a list of names, or V(all) (every connectable non-template database when the hook runs).
      - Defaults to the database the image creates, read from the container's environment.
    type: raw
  backup_volume:
    description: The name of the backup volume added to the pod.
    type: str
    default: appsnap-backup
  mount_path:
    description: Where the backup volume is mounted in the PostgreSQL container.
    type: str
    default: /backup
  dump_path:
    description:
      - The dump file (or directory) for one database, under O(mount_path); C(globals.sql) and the index
        C(<stem>.databases) go beside it, and with several databases each goes to C(<stem>.<name><ext>) beside it.
      - Defaults to C(/backup/backup.sql), where the appsnap.velero.pg_replay role and the restore look by default.
    type: str
  dump_format:
    description: The dump's format, as P(appsnap.velero.pg_dump_hook#filter) takes it.
    type: str
    choices: [plain, plain-compressed, custom, directory]
    default: plain-compressed
  dump_jobs:
    description: Parallel pg_dump jobs; more than 1 needs O(dump_format=directory).
    type: int
    default: 1
  dump_timeout:
    description: Velero's timeout for the pre-backup hook, a Go duration; the dump ends itself before it.
    type: str
    default: 3m
  lock_wait_timeout:
    description: How long pg_dump waits for a table lock before it gives up (and the last good dump is kept).
    type: str
    default: 30s
  verify:
    description: What the dump's manifest records of each table - V(counts), V(checksums), or V(none).
    type: str
    choices: [counts, checksums, none]
    default: counts
  size_limit:
    description: The backup volume's C(sizeLimit), such as V(2Gi). Unset, the volume is as large as the node allows.
    type: str
  replay_on_restore:
    description: Also add the post-restore hook that replays the dump when Velero restores the pod.
    type: bool
    default: false
  replay_timeout:
    description: The replay hook's exec timeout, a Go duration.
    type: str
    default: 30m
  replay_wait_timeout:
    description: How long Velero waits for the restored container before the replay hook, a Go duration.
    type: str
    default: 10m
  wait:
    description: Wait for the rollout the patch starts (every replica updated and ready).
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait for the rollout.
    type: int
    default: 300
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - appsnap.velero.velero.kubernetes
attributes:
  check_mode:
    support: full
    details: The patch is sent as a server-side dry run, which validates it and changes nothing.
  diff_mode:
    support: full
    details: The workload's pod template annotations, volumes and mounts before and after.
author:
  - appsnap.velero contributors (@appsnap)
"""

EXAMPLES = r"""
- name: Hook the orders database, deployed with its own Helm chart
  appsnap.velero.pg_hook:
    namespace: shop
    name: orders-db

- name: Hook two databases of a Deployment, the replay on restore too
  appsnap.velero.pg_hook:
    namespace: shop
    kind: Deployment
    name: billing-db
    container: postgres
    databases: [billing, audit]
    replay_on_restore: true

- name: Take the hooks away again
  appsnap.velero.pg_hook:
    namespace: shop
    name: orders-db
    state: absent
"""

RETURN = r"""
workload:
  description: The workload, as C(Kind namespace/name).
  returned: always
  type: str
  sample: StatefulSet shop/orders-db
state:
  description: O(state).
  returned: always
  type: str
  sample: present
container:
  description: The PostgreSQL container the hooks run in; empty with O(state=absent).
  returned: always
  type: str
  sample: postgres
databases:
  description: The databases the hook dumps (a list of names, or V(all)); empty with O(state=absent).
  returned: always
  type: raw
  sample: [orders]
duration:
  description: Seconds the module took, the rollout included.
  returned: always
  type: float
  sample: 12.4
"""

from ansible_collections.appsnap.velero.plugins.module_utils.postgres import live_hook
from ansible_collections.appsnap.velero.plugins.module_utils.postgres.commands import DEFAULT_MOUNT_PATH, PG_DUMP_FORMATS
from ansible_collections.appsnap.velero.plugins.module_utils.postgres.manifest import DUMP_VERIFY
from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops
from ansible_collections.appsnap.velero.plugins.module_utils.velero.argspecs import application_argspec
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import new_module


def main():
    module = new_module(
        application_argspec(
            kind=dict(type="str", choices=list(live_hook.KINDS), default="StatefulSet"),
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            container=dict(type="str"),
            databases=dict(type="raw"),
            backup_volume=dict(type="str", default="appsnap-backup"),
            mount_path=dict(type="str", default=DEFAULT_MOUNT_PATH),
            dump_path=dict(type="str"),
            dump_format=dict(type="str", choices=list(PG_DUMP_FORMATS), default="plain-compressed"),
            dump_jobs=dict(type="int", default=1),
            dump_timeout=dict(type="str", default="3m"),
            lock_wait_timeout=dict(type="str", default="30s"),
            verify=dict(type="str", choices=list(DUMP_VERIFY), default="counts"),
            size_limit=dict(type="str"),
            replay_on_restore=dict(type="bool", default=False),
            replay_timeout=dict(type="str", default="30m"),
            replay_wait_timeout=dict(type="str", default="10m"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    velero_ops.execute(module, lambda velero, params: live_hook.hook_workload(velero, params, diff=module._diff))


if __name__ == "__main__":
    main()
