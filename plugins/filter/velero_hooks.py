# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that add Velero backup/restore hooks and backup volumes to workload manifests.

The documentation of each filter is in the YAML file named after it. The
filters are module_utils/hooks.py's functions, so modules share the logic;
this file only turns their errors into AnsibleFilterError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.appsnap.velero.plugins.module_utils import hooks

FILTERS = ("backup_hooks", "backup_volume", "restore_hooks", "pg_dump_hook", "pg_shell", "pg_replay_command", "pg_replay_hook")


def _filter_errors(name, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except hooks.HookSpecError as exc:
            raise AnsibleFilterError("appsnap.velero.%s: %s" % (name, exc))

    return wrapper


class FilterModule(object):
    def filters(self):
        return dict((name, _filter_errors(name, getattr(hooks, name))) for name in FILTERS)
