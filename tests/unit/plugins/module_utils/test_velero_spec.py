# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure Velero logic: spec building, summaries and expectations; the phase rules (velero_waiter) and log parsing (velero_logs)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
import time

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.velero import logs as velero_logs
from ansible_collections.appsnap.velero.plugins.module_utils.velero import waiter as velero_waiter
from ansible_collections.appsnap.velero.plugins.module_utils.velero import spec as vs
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError

NOW = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("phase", ["Completed", "PartiallyFailed", "Failed", "FailedValidation"])
def test_terminal_phases(phase):
    assert velero_waiter.is_terminal(phase)


@pytest.mark.parametrize("phase", [None, "", "New", "Queued", "ReadyToStart", "InProgress", "WaitingForPluginOperations",
                                   "WaitingForPluginOperationsPartiallyFailed", "Finalizing", "FinalizingPartiallyFailed",
                                   "Deleting", "SomethingNew"])
def test_every_other_phase_is_still_running(phase):
    assert not velero_waiter.is_terminal(phase)


def test_backup_spec_maps_options_and_drops_unset():
    spec = vs.backup_spec({
        "included_namespaces": ["db"], "excluded_resources": ["events"], "label_selector": "app=pg, tier=db",
        "ttl": "72h", "storage_location": "default", "default_volumes_to_fs_backup": False, "snapshot_volumes": None,
        "hooks": {"resources": []}, "name": "ignored",
    })
    assert spec == {
        "includedNamespaces": ["db"], "excludedResources": ["events"],
        "labelSelector": {"matchLabels": {"app": "pg", "tier": "db"}}, "ttl": "72h", "storageLocation": "default",
        "defaultVolumesToFsBackup": False, "hooks": {"resources": []},
    }


def test_label_selector_forms():
    assert vs.label_selector({"app": "pg"}) == {"matchLabels": {"app": "pg"}}
    full = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["pg"]}]}
    assert vs.label_selector(full) == full
    assert vs.selector_string({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    with pytest.raises(InputError, match="key=value"):
        vs.label_selector("app in (pg)")


def test_bad_ttl_and_policy_named():
    with pytest.raises(InputError, match="'720s'"):
        vs.backup_spec({"ttl": "720"})
    with pytest.raises(InputError, match="'none' or 'update'"):
        vs.restore_spec({"existing_resource_policy": "replace"})


def test_restore_spec():
    assert vs.restore_spec({"backup_name": "b1", "namespace_mapping": {"db": "db2"}, "restore_pvs": True, "existing_resource_policy": "update"}) == {
        "backupName": "b1", "namespaceMapping": {"db": "db2"}, "restorePVs": True, "existingResourcePolicy": "update",
    }


PVB = {
    "metadata": {"name": "b1-abc"},
    "spec": {"pod": {"name": "pg-0", "namespace": "db"}, "volume": "postgresql-backup"},
    "status": {"phase": "Completed", "snapshotID": "k123", "progress": {"totalBytes": 911, "bytesDone": 911}},
}


def backup(phase="Completed", attempted=1, failed=0, errors=0, completed="2026-11-26T11:30:00Z"):
    return {
        "metadata": {"name": "b1"},
        "spec": {"storageLocation": "default"},
        "status": {"phase": phase, "hookStatus": {"hooksAttempted": attempted, "hooksFailed": failed}, "errors": errors, "completionTimestamp": completed},
    }


def test_summarize_defaults_missing_counts_to_zero():
    summary = vs.summarize({"status": {"phase": "Completed"}}, [PVB])
    assert summary == {
        "backup_name": None, "phase": "Completed", "hooks_attempted": 0, "hooks_failed": 0, "warning_count": 0, "error_count": 0,
        "volumes": [{"name": "b1-abc", "pod": "pg-0", "pod_namespace": "db", "volume": "postgresql-backup", "phase": "Completed",
                     "bytes": 911, "total_bytes": 911, "snapshot_id": "k123", "message": ""}],
    }


def test_backup_name_is_the_backups_own_or_the_one_a_restore_restores():
    assert vs.summarize(backup())["backup_name"] == "b1"
    assert vs.summarize({"kind": "Backup", "metadata": {"name": "db-1"}})["backup_name"] == "db-1"
    assert vs.summarize({"kind": "Restore", "metadata": {"name": "db-1-r"}, "spec": {"backupName": "db-1"}})["backup_name"] == "db-1"


def test_failure_reason():
    assert velero_waiter.failure_reason(vs.summarize(backup()), True) is None
    assert "PartiallyFailed" in velero_waiter.failure_reason(vs.summarize(backup("PartiallyFailed", failed=1, errors=1)), True)
    assert velero_waiter.failure_reason(vs.summarize(backup("PartiallyFailed")), False) is None
    assert "FailedValidation" in velero_waiter.failure_reason(vs.summarize(backup("FailedValidation")), False)


AVAILABLE = {"status": {"phase": "Available"}}


def test_expectations_met():
    volumes = vs.volume_entries([PVB])
    expect = {"min_hooks_attempted": 1, "volumes": [{"name": "postgresql-backup", "min_bytes": 1}], "max_age": "1h"}
    assert vs.check_expectations(backup(), volumes, AVAILABLE, expect, now=NOW) == []


def test_expectations_lists_every_problem():
    volumes = vs.volume_entries([dict(PVB, status={"phase": "Failed", "message": "kopia: no space"})])
    expect = {
        "min_hooks_attempted": 2,
        "volumes": [{"name": "postgresql-backup", "min_bytes": 1}, {"name": "data", "min_bytes": 1}],
        "max_age": "10m",
    }
    problems = vs.check_expectations(backup("PartiallyFailed", failed=1), volumes, {"status": {"phase": "Unavailable"}}, expect, now=NOW)
    assert problems == [
        "backup b1 is in phase PartiallyFailed, expected Completed",
        "1 of 1 hook(s) failed",
        "1 hook(s) ran, expected at least 2",
        "volume postgresql-backup of pod db/pg-0 is Failed: kopia: no space",
        "volume data was not backed up (no PodVolumeBackup); check the backup.velero.io/backup-volumes annotation",
        "backup b1 completed 1800s ago, older than max_age 10m",
        "storage location default is Unavailable, not Available",
    ]


def test_expectation_min_bytes():
    volumes = vs.volume_entries([PVB])
    problems = vs.check_expectations(backup(), volumes, AVAILABLE, {"volumes": [{"name": "postgresql-backup", "min_bytes": 4096}]}, now=NOW)
    assert problems == ["volume postgresql-backup of pod db/pg-0 holds 911 bytes, expected at least 4096"]


def test_expectation_of_one_pod_in_one_namespace():
    volumes = vs.volume_entries([PVB, dict(PVB, spec={"pod": {"name": "pg-0", "namespace": "shop"}, "volume": "postgresql-backup"}, status={})])
    expect = {"volumes": [{"name": "postgresql-backup", "pod": "pg-0", "namespace": "db"}]}
    assert vs.check_expectations(backup(), volumes, AVAILABLE, expect, now=NOW) == []
    expect = {"volumes": [{"name": "postgresql-backup", "pod": "pg-0", "namespace": "shop"}]}
    assert vs.check_expectations(backup(), volumes, AVAILABLE, expect, now=NOW) == [
        "volume postgresql-backup of pod shop/pg-0 is New: no message"]
    expect = {"volumes": [{"name": "postgresql-backup", "namespace": "web"}]}
    assert vs.check_expectations(backup(), volumes, AVAILABLE, expect, now=NOW) == [
        "volume postgresql-backup in namespace web was not backed up (no PodVolumeBackup); check the backup.velero.io/backup-volumes annotation"]


def test_latest_completed_ignores_other_phases():
    objs = [
        {"metadata": {"name": "a"}, "status": {"phase": "Completed", "completionTimestamp": "2026-11-26T10:00:00Z"}},
        {"metadata": {"name": "b"}, "status": {"phase": "Failed", "completionTimestamp": "2026-11-26T11:00:00Z"}},
        {"metadata": {"name": "c"}, "status": {"phase": "Completed", "completionTimestamp": "2026-11-26T10:30:00Z"}},
        {"metadata": {"name": "d"}, "status": {"phase": "InProgress"}},
    ]
    assert vs.latest_completed(objs)["metadata"]["name"] == "c"
    assert vs.latest_completed([]) is None


def test_duration_seconds():
    assert vs.duration_seconds("1h30m") == 5400
    assert vs.duration_seconds("250ms") == 0.25


LOG = "\n".join([
    'time="2026-11-26T11:00:00Z" level=info msg="Backing up item" backup=velero/b1 logSource="pkg/backup/item_backupper.go:180"',
    'time="2026-11-26T11:00:01Z" level=info msg="running exec hook" backup=velero/b1 hookCommand="[/bin/bash -c pg_dump]" hookName=<from-annotation>',
    'time="2026-11-26T11:00:02Z" level=error msg="Error executing hook" backup=velero/b1 error="command terminated with exit code 1" '
    'hookName=<from-annotation> hookPhase=pre',
    'time="2026-11-26T11:00:03Z" level=warning msg="Timed out waiting for pod volume backup" backup=velero/b1',
    'time="2026-11-26T11:00:04Z" level=warning msg="unrelated warning" backup=velero/b1',
    'time="2026-11-26T11:00:05Z" level=info msg="stdout: " backup=velero/b1 hookCommand="[/bin/bash -c long script]"',
    'time="2026-11-26T11:00:05Z" level=info msg="stderr: pg_dump: error: password authentication failed for user \\"postgres\\"\\n" '
    'backup=velero/b1 hookCommand="[/bin/bash -c long script]" logSource="internal/hook/x.go:1"',
    'time="2026-11-26T11:00:05Z" level=info msg="stderr: " backup=velero/b1',
])


def test_relevant_log_lines_keep_errors_hook_stderr_and_volume_warnings():
    lines = velero_logs.relevant_log_lines(LOG)
    assert len(lines) == 3
    assert "Error executing hook" in lines[0] and "exit code 1" in lines[0] and "logSource" not in lines[0]
    assert "pod volume backup" in lines[1]
    assert lines[2] == 'level=info msg="stderr: pg_dump: error: password authentication failed for user "postgres"" backup=velero/b1'
    assert "hookCommand" not in " ".join(lines)


def test_parse_log_line_unquotes():
    fields = velero_logs.parse_log_line(LOG.splitlines()[2])
    assert fields["level"] == "error"
    assert fields["error"] == "command terminated with exit code 1"
    assert fields["hookPhase"] == "pre"


def test_spec_differences_ignores_server_defaults_and_duration_spelling():
    desired = {"ttl": "24h", "includedNamespaces": ["db"]}
    actual = {"ttl": "24h0m0s", "includedNamespaces": ["db"], "csiSnapshotTimeout": "10m0s", "hooks": {}}
    assert vs.spec_differences(desired, actual) == []
    assert vs.spec_differences(dict(desired, ttl="48h"), actual) == ["ttl"]
    assert vs.spec_differences({"includedNamespaces": ["db", "x"]}, actual) == ["includedNamespaces"]


def test_ordered_resources_from_lists_or_strings():
    spec = vs.backup_spec({
        "ordered_resources": {"pods": ["app/b", " app/a "], "persistentvolumes": "pv-1,pv-2"},
        "include_cluster_resources": False,
        "volume_snapshot_locations": ["aws-east"],
    })
    assert spec == {
        "orderedResources": {"persistentvolumes": "pv-1,pv-2", "pods": "app/b,app/a"},
        "includeClusterResources": False,
        "volumeSnapshotLocations": ["aws-east"],
    }


@pytest.mark.parametrize("value, words", [
    ({"Pod": "app/a"}, "plural, lower-case resource name"),
    ({"deployments.apps": "app/a"}, "without its group"),
    ({"pods": []}, "non-empty list"),
    ({"pods": "app/a,,app/b"}, "entry '' is not namespace/name"),
    ({"pods": ["app/a/b"]}, "entry 'app/a/b'"),
    ({"pods": [3]}, "entry 3"),
])
def test_ordered_resources_that_velero_would_ignore_or_misread(value, words):
    with pytest.raises(InputError, match=re.escape(words)):
        vs.ordered_resources(value)


def test_a_name_prefix_gets_the_utc_time_as_velero_names_a_schedules_backups():
    when = time.strptime("2026-12-04 19:05:09", "%Y-%m-%d %H:%M:%S")
    assert vs.timestamped_name("shop-stock", when) == "shop-stock-20261204190509"
    # Cut at 200 characters, and of a '-' or '.' the cut leaves at the end.
    long_prefix = "a" * 199 + "-b" + "c" * 60
    assert vs.timestamped_name(long_prefix, when) == "a" * 199 + "-20261204190509"
    for bad in ("Shop", "-shop", "shop_db", "", None):
        with pytest.raises(InputError, match="name_prefix must be lower-case letters"):
            vs.timestamped_name(bad, when)
