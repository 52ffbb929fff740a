# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The restore drill's pure parts: the scratch namespace, the resource modifier, the record on the Backup, and the
freshness check (backup_verify drilled) over a dict of Backups; tests/integration/playbooks/test_drill.py runs them on the lab."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
import yaml
from ansible_collections.appsnap.velero.plugins.module_utils import drill
from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroError

from test_velero_preflight import FakeClient

NOW = datetime.datetime(2026, 11, 30, 12, 0, 0, tzinfo=datetime.timezone.utc)


def test_scratch_namespace_derived_given_and_refused():
    assert drill.scratch_namespace("shop") == "shop-drill"
    assert drill.scratch_namespace("shop", "copy") == "copy"
    long_name = "a" * 60 + "-bc"
    assert drill.scratch_namespace(long_name) == "a" * 57 + "-drill" and len(drill.scratch_namespace(long_name)) == 63
    with pytest.raises(InputError, match="is the source namespace.*'shop-drill'"):
        drill.scratch_namespace("shop", "shop")
    with pytest.raises(InputError, match="drill_scratch_namespace 'Shop_Copy' is not a valid DNS-1123 label.*'shop-copy'"):
        drill.scratch_namespace("shop", "Shop_Copy")
    with pytest.raises(InputError, match="drill_namespace"):
        drill.scratch_namespace("")


def test_restore_modifier_clears_volume_name_of_claims_only():
    config_map = drill.scratch_restore_modifier("appsnap-drill-scratch-pvcs")
    assert config_map["kind"] == "ConfigMap" and list(config_map["data"]) == ["modifiers.yaml"]
    rules = yaml.safe_load(config_map["data"]["modifiers.yaml"])
    assert rules["version"] == "v1"
    assert rules["resourceModifierRules"] == [
        {"conditions": {"groupResource": "persistentvolumeclaims"}, "mergePatches": [{"patchData": '{"spec": {"volumeName": null}}'}]}
    ]
    with pytest.raises(InputError):
        drill.scratch_restore_modifier("Bad Name")


def test_verified_annotations_round_trip_and_hold_no_secret():
    annotations = drill.verified_annotations({"tables": 5, "rows": "100511", "pods": [{"error": "x"}]}, "shop-drill", now=NOW)
    assert annotations == {
        "appsnap.velero/verified-at": "2026-11-30T12:00:00Z", "appsnap.velero/verified-tables": "5",
        "appsnap.velero/verified-rows": "100511", "appsnap.velero/verified-in": "shop-drill",
    }
    assert drill.verified_at({"metadata": {"annotations": annotations}}) == NOW
    assert drill.verified_at({"metadata": {"annotations": {drill.VERIFIED_AT: "yesterday"}}}) is None
    assert drill.verified_at({"metadata": {}}) is None
    with pytest.raises(InputError, match="pg_replay_result.verified"):
        drill.verified_annotations({"rows": 1}, "shop-drill")


def backup(name, completed, verified=None, phase="Completed"):
    annotations = {drill.VERIFIED_AT: verified} if verified else {}
    return {"kind": "Backup", "metadata": {"name": name, "namespace": "velero", "annotations": annotations, "labels": {}},
            "spec": {}, "status": {"phase": phase, "completionTimestamp": completed}}


class Velero(object):
    def __init__(self, backups):
        location = {"kind": "BackupStorageLocation", "metadata": {"name": "default"}, "spec": {"default": True}, "status": {"phase": "Available"}}
        self.client = FakeClient(list(backups) + [location])
        self.client.pod_volume_backups = lambda name: []


def verify(backups, **params):
    base = dict(name=None, schedule=None, label_selector="appsnap.velero/namespace=shop", phase=["Completed"], hooks_failed_zero=True,
                min_hooks_attempted=0, volumes=None, max_age=None, storage_location_available=True, drilled=True)
    return velero_ops.backup_verify(Velero(backups), dict(base, **params))


def test_freshness_takes_the_newest_drilled_backup_not_the_newest():
    recent = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
    stamp = recent.strftime(drill.TIMESTAMP_FORMAT)
    older = (recent - datetime.timedelta(hours=30)).strftime(drill.TIMESTAMP_FORMAT)
    backups = [backup("b-old", older, verified=stamp), backup("b-drilled", stamp, verified=stamp), backup("b-newest", stamp.replace("Z", "Z"), None)]
    backups[2]["status"]["completionTimestamp"] = (recent + datetime.timedelta(hours=1)).strftime(drill.TIMESTAMP_FORMAT)
    result = verify(backups, max_age="26h")
    assert result["verified"] is True and result["name"] == "b-drilled" and result["drill_verified_at"] == stamp
    with pytest.raises(VeleroError, match=r"b-drilled failed verification: backup b-drilled completed \d+s ago, older than max_age 1h.*appsnap.velero.drill"):
        verify(backups, max_age="1h")


def test_freshness_without_a_drilled_backup_names_the_drill():
    with pytest.raises(VeleroError, match="no Completed backup of label selector .* was verified by a restore drill .the newest Completed one is b1.*"
                                          "Run ansible-playbook appsnap.velero.drill"):
        verify([backup("b1", "2026-11-30T10:00:00Z")], max_age="26h")
    with pytest.raises(VeleroError, match="backup b1 was not verified by a restore drill.*drill_backup_name=b1"):
        verify([backup("b1", "2026-11-30T10:00:00Z")], name="b1", label_selector=None)
