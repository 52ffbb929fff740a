"""The modules against real Velero on the lab: backup, info, verify, restore, schedule, delete.

Tests in this file run in order and share the Postgres namespace and its first backup.
"""
import uuid

import pytest

from velero_lab import apply, hook_pod, new_namespace

STATE = {}


def backup_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def test_backup_check_mode_writes_nothing(run_module, pg_namespace, kubectl):
    name = backup_name("check")
    result = run_module("backup", {"name": name, "included_namespaces": [pg_namespace]}, check=True)
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["result"]["metadata"]["name"] == name
    assert kubectl.run("-n", "velero", "get", "backup", name, check=False).returncode != 0


def test_backup_runs_pg_dump_hook_and_captures_dump_volume(run_module, pg_namespace, kubectl):
    name = backup_name("pg")
    result = run_module("backup", {"name": name, "included_namespaces": [pg_namespace], "ttl": "2h"})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True
    assert result["phase"] == "Completed"
    assert result["hooks_attempted"] >= 1 and result["hooks_failed"] == 0
    dump = [v for v in result["volumes"] if v["volume"] == "postgresql-backup"]
    assert len(dump) == 1 and dump[0]["phase"] == "Completed" and dump[0]["bytes"] > 0 and dump[0]["snapshot_id"]
    assert result["duration"] > 0
    assert result["backup_name"] == name
    # The volume holds what the hook wrote: the database's dump, the server's globals, the dump's index and manifest beside it.
    sizes = kubectl.run("exec", "postgresql-0", "--", "stat", "-c", "%s", "/backup/backup.sql", "/backup/globals.sql", "/backup/backup.databases",
                        "/backup/backup.manifest.json", namespace=pg_namespace).stdout.split()
    assert sum(int(size) for size in sizes) == dump[0]["bytes"]
    STATE["backup"] = name


def test_backup_rerun_is_idempotent(run_module, pg_namespace):
    result = run_module("backup", {"name": STATE["backup"], "included_namespaces": [pg_namespace], "ttl": "2h"})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False and result["phase"] == "Completed"


def test_backup_info_by_name_latest_and_logs(run_module):
    by_name = run_module("backup_info", {"name": STATE["backup"], "logs": True})
    assert [b["name"] for b in by_name["backups"]] == [STATE["backup"]]
    assert by_name["backup_name"] == STATE["backup"] == by_name["backups"][0]["backup_name"]
    entry = by_name["backups"][0]
    assert entry["hooks_attempted"] >= 1 and any(v["volume"] == "postgresql-backup" for v in entry["volumes"])
    assert "level=info" in entry["log"] and STATE["backup"] in entry["log"]
    missing = run_module("backup_info", {"name": "no-such-backup-" + uuid.uuid4().hex[:6]})
    assert missing.get("failed") is not True and missing["backups"] == [] and missing["backup_name"] is None
    latest = run_module("backup_info", {"label_selector": "velero.io/storage-location=default", "latest": True})
    assert len(latest["backups"]) == 1 and latest["backups"][0]["phase"] == "Completed"


def test_backup_verify_passes_and_lists_every_unmet_expectation(run_module):
    good = run_module("backup_verify", {"name": STATE["backup"], "min_hooks_attempted": 1, "max_age": "1h",
                                        "volumes": [{"name": "postgresql-backup", "min_bytes": 1}]})
    assert good.get("failed") is not True, good.get("msg")
    assert good["verified"] is True and good["problems"] == [] and good["backup_name"] == STATE["backup"]
    bad = run_module("backup_verify", {"name": STATE["backup"], "min_hooks_attempted": 5, "max_age": "1ms",
                                       "volumes": [{"name": "postgresql-backup", "min_bytes": 10 ** 12}, {"name": "not-there"}]})
    assert bad["failed"] is True and bad["verified"] is False and bad["backup_name"] == STATE["backup"]
    assert len(bad["problems"]) == 4, bad["problems"]
    assert "expected at least 5" in bad["msg"] and "not-there was not backed up" in bad["msg"] and "older than max_age" in bad["msg"]


@pytest.mark.parametrize("case,command,timeout,expected", [
    ("fails", ["/bin/sh", "-c", "echo dump-failed-on-purpose >&2; exit 3"], "30s", "exit code 3"),
    ("times-out", ["/bin/sh", "-c", "sleep 60"], "2s", "timed out"),
])
def test_failing_hook_is_reported_with_its_log_lines(run_module, velero_ready, case, command, timeout, expected):
    kubectl = velero_ready
    namespace = new_namespace(kubectl, "mod-hook-" + case)
    try:
        apply(kubectl, namespace, hook_pod("app", command, timeout))
        kubectl.run("wait", "--for=condition=Ready", "pod/app", "--timeout=120s", namespace=namespace)
        result = run_module("backup", {"name": backup_name("hook-" + case), "included_namespaces": [namespace]})
        assert result["failed"] is True
        assert result["phase"] == "PartiallyFailed" and result["hooks_failed"] == 1
        assert "PartiallyFailed" in result["msg"] and expected in result["msg"], result["msg"]
        assert any(expected in line for line in result["log_lines"]), result["log_lines"]
        tolerant = run_module("backup", {"name": result["result"]["metadata"]["name"], "fail_on_partial": False})
        assert tolerant.get("failed") is not True and tolerant["changed"] is False
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def test_restore_refuses_partial_backup_and_missing_backup(run_module):
    missing = run_module("restore", {"backup_name": "no-such-" + uuid.uuid4().hex[:6]})
    assert missing["failed"] is True and "does not exist" in missing["msg"]


def test_restore_into_deleted_namespace_brings_back_the_dump(run_module, pg_namespace, kubectl):
    before = kubectl.run("exec", "postgresql-0", "--", "md5sum", "/backup/backup.sql", namespace=pg_namespace).stdout.split()[0]
    kubectl.run("delete", "namespace", pg_namespace, "--timeout=180s")
    check = run_module("restore", {"backup_name": STATE["backup"]}, check=True)
    assert check.get("failed") is not True, check.get("msg")
    assert check["changed"] is True
    name = backup_name("restore")
    result = run_module("restore", {"name": name, "backup_name": STATE["backup"]})
    assert result.get("failed") is not True, result.get("msg")
    assert result["phase"] == "Completed" and result["backup_name"] == STATE["backup"]
    restored = [v for v in result["volumes"] if v["volume"] == "postgresql-backup"]
    assert len(restored) == 1 and restored[0]["phase"] == "Completed"
    again = run_module("restore", {"name": name, "backup_name": STATE["backup"]})
    assert again["changed"] is False
    kubectl.run("wait", "--for=condition=Ready", "pod/postgresql-0", "--timeout=300s", namespace=pg_namespace)
    after = kubectl.run("exec", "postgresql-0", "--", "md5sum", "/backup/backup.sql", namespace=pg_namespace).stdout.split()[0]
    assert after == before


def test_schedule_create_idempotent_update_pause_delete(run_module, pg_namespace, kubectl):
    name = backup_name("sched")
    args = {"name": name, "schedule": "0 3 * * *", "included_namespaces": [pg_namespace], "ttl": "24h", "skip_immediately": True}
    check = run_module("schedule", args, check=True, diff=True)
    assert check["changed"] is True and kubectl.run("-n", "velero", "get", "schedule", name, check=False).returncode != 0
    created = run_module("schedule", args)
    assert created.get("failed") is not True, created.get("msg")
    assert created["changed"] is True
    assert run_module("schedule", args)["changed"] is False
    updated = run_module("schedule", dict(args, ttl="48h", paused=True), diff=True)
    assert updated["changed"] is True
    assert updated["diff"]["before"]["template"]["ttl"] == "24h" and updated["diff"]["after"]["template"]["ttl"] == "48h"
    spec = kubectl.json("-n", "velero", "get", "schedule", name)["spec"]
    assert spec["paused"] is True and spec["template"]["ttl"] == "48h"
    assert run_module("schedule", dict(args, ttl="48h", paused=True))["changed"] is False
    assert run_module("schedule", {"name": name, "state": "absent"})["changed"] is True
    assert run_module("schedule", {"name": name, "state": "absent"})["changed"] is False


def test_backup_absent_deletes_through_delete_backup_request(run_module, kubectl):
    result = run_module("backup", {"name": STATE["backup"], "state": "absent", "wait_timeout": 300})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True and result["phase"] == "Deleted"
    assert kubectl.run("-n", "velero", "get", "backup", STATE["backup"], check=False).returncode != 0
    assert run_module("backup", {"name": STATE["backup"], "state": "absent"})["changed"] is False
