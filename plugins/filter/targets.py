# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that find what the roles work on: a workload's pods, one target per running pod, the namespaces a backup holds.

Each filter's documentation is in the YAML file named after it; the
functions are in module_utils (targets.py), shared with the modules and roles.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appsnap.velero.plugins.module_utils import targets
from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import filter_module

FILTERS = {
    "pod_selector": targets.pod_selector,
    "pod_targets": targets.pod_targets,
    "namespace_labels": targets.namespace_labels,
    "namespace_selector": targets.namespace_selector,
}

FilterModule = filter_module(FILTERS)
