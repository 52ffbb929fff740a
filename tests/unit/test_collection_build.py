# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The built collection: what a user installs from the tarball."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import tarfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def built_members(tmp_path):
    subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), ROOT],
                   check=True, capture_output=True, text=True)
    (tarball,) = tmp_path.glob("appsnap-velero-*.tar.gz")
    with tarfile.open(tarball) as tar:
        return set(tar.getnames())


def test_tarball_ships_the_license_and_no_lab_only_entry_points(tmp_path):
    members = built_members(tmp_path)
    assert "LICENSE" in members
    assert "plugins/modules/backup.py" in members
    # Entry points that need lab/, which is not shipped.
    for lab_only in ("cycle", "tests/run", "tests/lib.sh", "tests/matrix", "docs/build.sh", "lab/lab"):
        assert lab_only not in members, lab_only
    assert not [m for m in members if m.startswith(("lab/", ".ci/"))]


def test_license_is_the_gpl_galaxy_declares():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    assert galaxy["license"] == ["GPL-3.0-or-later"]
    with open(os.path.join(ROOT, "LICENSE")) as handle:
        assert "GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007" in handle.read()
    # No placeholder URLs: a field is real or absent.
    assert not [k for k, v in galaxy.items() if isinstance(v, str) and "example.invalid" in v]
