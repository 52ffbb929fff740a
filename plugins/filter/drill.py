# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the restore drill: its scratch namespace, the resource modifier of its restore, the record of a verified drill.

Each filter's documentation is in the YAML file named after it; the
functions are in module_utils (drill.py), shared with the modules and roles.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appsnap.velero.plugins.module_utils import drill
from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import filter_module

FILTERS = {
    "drill_scratch_namespace": drill.scratch_namespace,
    "drill_restore_modifier": drill.scratch_restore_modifier,
    "drill_verified_annotations": drill.verified_annotations,
}

FilterModule = filter_module(FILTERS)
