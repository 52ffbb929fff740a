# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""pg_hooked: the hook pipeline written once, the same as its steps applied one by one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pipeline
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import record as hook_record
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import replay as pg_replay
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError

PATH = "/data/orders.sql"


def _workload():
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "orders-db", "namespace": "shop"},
        "spec": {"template": {"metadata": {"annotations": {"team": "shop"}}, "spec": {"containers": [
            {"name": "metrics", "image": "exporter:1"}, {"name": "postgres", "image": "postgres:17"}]}}},
    }


def _annotations(obj):
    return obj["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("replay", [False, True])
def test_pg_hooked_is_the_steps_in_order(replay):
    hooked = pipeline.pg_hooked(_workload(), ["orders"], "postgresql-backup", "/data", PATH, format="custom", container="postgres",
                                size_limit="1Gi", replay=replay, verify="checksums")
    dump = {"path": PATH, "format": "custom", "jobs": 1, "container": "postgres"}
    expected = pod_hooks.backup_volume(_workload(), "postgresql-backup", "/data", container="postgres", size_limit="1Gi")
    expected = pod_hooks.backup_hooks(expected, pre=pg_dump.pg_dump_hook(["orders"], verify="checksums", **dump),
                                      backup_volumes=["postgresql-backup"])
    if replay:
        expected = pod_hooks.restore_hooks(expected, post=pg_replay.pg_replay_hook(["orders"], **dump))
    assert hooked == expected
    assert ("post.hook.restore.velero.io/command" in _annotations(hooked)) is replay


def test_pg_hooked_is_idempotent_and_recorded_exactly():
    before = _workload()
    hooked = pipeline.pg_hooked(before, "all", "postgresql-backup", "/data/", PATH, container="postgres")
    assert pipeline.pg_hooked(hooked, "all", "postgresql-backup", "/data/", PATH, container="postgres") == hooked
    recorded = hook_record.record_hooks(hooked, before)
    assert "pre.hook.backup.velero.io/command" in json.loads(_annotations(recorded)[hook_record.HOOKED_ANNOTATION])["annotations"]
    assert hook_record.remove_hooks(recorded) == before


def test_pg_hooked_selects_the_workload_in_a_list():
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "orders-db"}}
    hooked = pipeline.pg_hooked([_workload(), service], "orders", "b", "/data", PATH, workload_kind="StatefulSet")
    assert hooked[1] == service and "pre.hook.backup.velero.io/command" in _annotations(hooked[0])
    # No container named: Velero's default, the pod's first container, mounts the volume.
    assert hooked[0]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] == [{"name": "b", "mountPath": "/data"}]


@pytest.mark.parametrize("path", ["/backup/orders.sql", "/database.sql", "/data", None])
def test_a_dump_outside_the_volume_is_refused_naming_the_fix(path):
    with pytest.raises(InputError, match="not under the backup volume's mount path '/data'.*Put the dump path under the mount path"):
        pipeline.pg_hooked(_workload(), "orders", "b", "/data", path)
