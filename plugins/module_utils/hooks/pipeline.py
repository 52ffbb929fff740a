# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PostgreSQL hook pipeline, written once: backup volume, pg_dump pre-backup hook, optional replay post-restore hook.

The postgres role applies it (filter pg_hooked) to the manifest it deploys, the pg_hook role to a live workload.
The volume is opted into file-system backup (backup.velero.io/backup-volumes), which is how the snapshot role finds
it again (targets.pod_targets). Pure functions; nothing here talks to a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import replay as pg_replay
from ansible_collections.appsnap.velero.plugins.module_utils.postgres.commands import DEFAULT_DUMP_PATH
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError


def pg_hooked(
    manifests, databases, volume, mount_path, path, format="plain", jobs=1, timeout="3m", lock_wait_timeout="30s", verify="counts",
    container=None, size_limit=None, replay=False, replay_timeout="30m", replay_wait_timeout="10m", workload_name=None, workload_kind=None,
):
    """``manifests`` with the backup volume ``volume`` mounted at ``mount_path``, the pg_dump hook of ``databases`` to ``path``
    and, when ``replay``, the post-restore replay hook. ``path`` (empty: DEFAULT_DUMP_PATH) must be under ``mount_path``.
    """
    path = path or DEFAULT_DUMP_PATH
    root = (mount_path or "").rstrip("/")
    if not isinstance(path, str) or not path.startswith(root + "/"):
        raise InputError(
            "The dump path %r is not under the backup volume's mount path %r; the dump must be in the backup volume, or Velero "
            "does not copy it. Put the dump path under the mount path." % (path, mount_path)
        )
    where = {"workload_name": workload_name, "workload_kind": workload_kind}
    dump = {"path": path, "format": format, "jobs": jobs, "container": container}
    hooked = pod_hooks.backup_volume(manifests, volume, mount_path, container=container, size_limit=size_limit or None, **where)
    pre = pg_dump.pg_dump_hook(databases, timeout=timeout, lock_wait_timeout=lock_wait_timeout, verify=verify, **dump)
    hooked = pod_hooks.backup_hooks(hooked, pre=pre, backup_volumes=[volume], **where)
    if replay:
        post = pg_replay.pg_replay_hook(databases, exec_timeout=replay_timeout, wait_timeout=replay_wait_timeout, **dump)
        hooked = pod_hooks.restore_hooks(hooked, post=post, **where)
    return hooked
