# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that build the PostgreSQL commands the hooks and roles run, and read a live PostgreSQL workload.

Each filter's documentation is in the YAML file named after it; the
functions are in module_utils (postgres/commands.py, postgres/dump.py, postgres/replay.py, postgres/workload.py), shared with the modules and roles.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands as pg_commands
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import replay as pg_replay
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import workload as workload_env
from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import filter_module

FILTERS = {
    "pg_dump_hook": pg_dump.pg_dump_hook,
    "pg_shell": pg_commands.pg_shell,
    "pg_query": pg_commands.pg_query,
    "pg_dump_files": pg_commands.dump_files,
    "pg_replay_command": pg_replay.pg_replay_command,
    "pg_replay_hook": pg_replay.pg_replay_hook,
    "matching_containers": workload_env.matching_containers,
    "env_sources": workload_env.env_sources,
    "container_env": workload_env.container_env,
}

FilterModule = filter_module(FILTERS)
