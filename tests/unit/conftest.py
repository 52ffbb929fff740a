# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures: the seed manifests and a generator of workloads."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def load_fixture(*parts):
    with open(os.path.join(FIXTURES, *parts)) as handle:
        return yaml.safe_load(handle)


@pytest.fixture
def seed_statefulset():
    return load_fixture("seed", "postgres-deployment.yaml")


@pytest.fixture
def seed_pgdump_statefulset():
    return load_fixture("seed", "postgres-deployment-pgdump.yaml")


@pytest.fixture
def seed_service():
    return load_fixture("seed", "postgres-service.yaml")
