# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that add Velero backup/restore hooks and backup volumes to workload manifests.

The documentation of each filter is in the YAML file named after it.
The logic lives in module_utils/hooks.py so that modules can share it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.appsnap.velero.plugins.module_utils import hooks


def _filter_errors(func):
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except hooks.HookSpecError as exc:
            raise AnsibleFilterError("appsnap.velero.%s: %s" % (func.__name__, exc))

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@_filter_errors
def backup_hooks(manifest, pre=None, post=None, backup_volumes=None, exclude_volumes=None, workload_name=None, workload_kind=None):
    return hooks.backup_hooks(manifest, pre, post, backup_volumes, exclude_volumes, workload_name, workload_kind)


@_filter_errors
def backup_volume(manifest, name, mount_path, container=None, size_limit=None, medium=None, workload_name=None, workload_kind=None):
    return hooks.backup_volume(manifest, name, mount_path, container, size_limit, medium, workload_name, workload_kind)


@_filter_errors
def restore_hooks(manifest, post=None, init=None, workload_name=None, workload_kind=None):
    return hooks.restore_hooks(manifest, post, init, workload_name, workload_kind)


@_filter_errors
def pg_dump_hook(
    database,
    path="/backup/backup.sql",
    user_env="POSTGRES_USER",
    password_env="POSTGRES_PASSWORD",
    host="127.0.0.1",
    port=5432,
    format="plain",
    jobs=1,
    timeout="3m",
    on_error="Fail",
    container=None,
):
    return hooks.pg_dump_hook(database, path, user_env, password_env, host, port, format, jobs, timeout, on_error, container)


@_filter_errors
def pg_shell(script, user_env="POSTGRES_USER", password_env="POSTGRES_PASSWORD", host="127.0.0.1", port=5432):
    return hooks.pg_shell(script, user_env, password_env, host, port)


class FilterModule(object):
    def filters(self):
        return {
            "backup_hooks": backup_hooks,
            "backup_volume": backup_volume,
            "restore_hooks": restore_hooks,
            "pg_dump_hook": pg_dump_hook,
            "pg_shell": pg_shell,
        }
