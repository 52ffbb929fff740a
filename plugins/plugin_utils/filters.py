# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every filter file shares: module_utils functions as filters, their InputError as AnsibleFilterError.

The filters live in one file per family under plugins/filter/ (hooks,
postgres, targets, drill); each file maps filter names to module_utils
functions and builds its FilterModule with filter_module(). The
documentation of each filter is in plugins/filter/<name>.yml.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import importlib

from ansible.errors import AnsibleFilterError
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError

# The filter files, one per family.
FAMILIES = ("hooks", "postgres", "targets", "drill")


def _filter_errors(name, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            raise AnsibleFilterError("appsnap.velero.%s: %s" % (name, exc))

    return wrapper


def filter_module(filters):
    """A FilterModule class whose filters are ``filters`` (name -> function), errors turned into AnsibleFilterError."""

    class FilterModule(object):
        def filters(self):
            return dict((name, _filter_errors(name, func)) for name, func in filters.items())

    return FilterModule


def all_filters():
    """Every filter of the collection, name -> wrapped function (for tests, benchmarks and tests/run)."""
    found = {}
    for family in FAMILIES:
        module = importlib.import_module("ansible_collections.appsnap.velero.plugins.filter." + family)
        found.update(module.FilterModule().filters())
    return found
