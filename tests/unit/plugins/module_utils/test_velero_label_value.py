# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The value Velero writes in its backup-name and restore-name labels, so that our selectors find its objects."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import label_value

# A backup of five namespaces made by the snapshot role on the lab (Velero 1.18.3), and the velero.io/backup-name
# label Velero put on its PodVolumeBackups.
LONG = "fleet-bench-fleet-8ce1-00-fleet-bench-fleet-8ce1-01-fleet-bench-fleet-8ce1-02-fleet-bench-fleet-8ce1-03-fleet-bench-fleet-8ce1-04-20261130132041"
LABELLED = "fleet-bench-fleet-8ce1-00-fleet-bench-fleet-8ce1-01-fleet65a4b5"


def test_a_long_name_becomes_the_label_velero_wrote():
    assert label_value(LONG) == LABELLED
    assert len(label_value(LONG)) == 63


@pytest.mark.parametrize("name", ["shop-20261130132041", "x" * 63])
def test_a_name_that_fits_is_the_label(name):
    assert label_value(name) == name


def test_names_that_share_their_first_57_characters_get_different_labels():
    assert label_value("a" * 57 + "-one-backup") != label_value("a" * 57 + "-another-one")
