# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the modules do, one function each; the modules only parse options and report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.appsnap.velero.plugins.module_utils import drill
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import spec as spec_hooks
from ansible_collections.appsnap.velero.plugins.module_utils.velero import access as velero_access
from ansible_collections.appsnap.velero.plugins.module_utils.velero import preflight as velero_preflight
from ansible_collections.appsnap.velero.plugins.module_utils.velero import spec as velero_spec
from ansible_collections.appsnap.velero.plugins.module_utils.velero import waiter as velero_waiter
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroClient, VeleroError, label_value
from ansible_collections.appsnap.velero.plugins.module_utils.velero.logs import VeleroLogs

# Velero's logs are named after the kind they belong to.
LOG_KIND = {"Backup": "BackupLog", "Restore": "RestoreLog"}


class Velero(object):
    """What an operation works with: the client, and the waiter, pre-flight and logs built on it."""

    def __init__(self, module):
        self.module = module
        self.client = VeleroClient(module)
        self.waiter = velero_waiter.VeleroWaiter(self.client)
        self.preflight = velero_preflight.Preflight(self.client, self.waiter, module.warn)
        self.workload_preflight = velero_preflight.WorkloadPreflight(self.client, module.warn)
        self.logs = VeleroLogs(self.client, self.waiter)


def execute(module, operation):
    """Every module's run: ``operation(velero, params)``, its errors as fail_json, its result as exit_json."""
    try:
        result = operation(Velero(module), module.params)
    except VeleroError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    except InputError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


def _since(started):
    return round(time.monotonic() - started, 3)


def _volumes(velero, kind, name):
    if kind == "Backup":
        return velero.client.pod_volume_backups(name)
    return velero.client.pod_volume_restores(name)


def report(velero, kind, obj, started, fail_on_partial, changed):
    """The module result for a terminal Backup/Restore; raises VeleroError when it failed."""
    name = obj["metadata"]["name"]
    summary = velero_spec.summarize(obj, _volumes(velero, kind, name))
    result = dict(summary, result=obj, changed=changed, duration=_since(started))
    reason = velero_waiter.failure_reason(summary, fail_on_partial)
    if reason:
        lines = velero.logs.failure_log_lines(LOG_KIND[kind], name)
        failure_reason = (obj.get("status") or {}).get("failureReason")
        detail = "; ".join(x for x in [failure_reason] + list((obj.get("status") or {}).get("validationErrors") or []) if x)
        volume_errors = ["%s/%s %s: %s" % (v["pod"], v["volume"], v["phase"], v["message"]) for v in summary["volumes"] if v["phase"] != "Completed"]
        msg = "%s %s %s%s." % (kind, name, reason, " (%s)" % detail if detail else "")
        if volume_errors:
            msg += " Pod volumes: " + " | ".join(volume_errors) + "."
        if lines:
            msg += " Log: " + " | ".join(lines)
        result["log_lines"] = lines
        raise VeleroError(msg, **result)
    return result


def create_and_wait(velero, kind, definition, params, started, adopt=True):
    """Create (or, with ``adopt``, take an existing same-named) Backup/Restore and wait for it: the shared backup/restore flow."""
    name = definition["metadata"].get("name")
    existing = velero.client.get(kind, name) if name and adopt else None
    if existing is not None:
        differences = velero_spec.spec_differences(definition["spec"], existing.get("spec"))
        if differences:
            velero.module.warn(
                "%s %s already exists with different %s; Velero objects are immutable, so it is reported as it is. "
                "Use a new name to run with the new settings." % (kind, name, ", ".join(differences))
            )
        if not params["wait"]:
            return _unwaited(existing, started, changed=False)
        if not velero_waiter.is_terminal((existing.get("status") or {}).get("phase")):
            existing = velero.waiter.wait_terminal(kind, name, params["wait_timeout"])
        return report(velero, kind, existing, started, params["fail_on_partial"], changed=False)

    location = definition["spec"].get("storageLocation") if kind == "Backup" else None
    velero.preflight.run(location, server_timeout=params["server_timeout"], min_version=params["velero_min_version"])
    if kind == "Backup":
        velero.workload_preflight.run(definition["spec"], read_pods=params["preflight_pods"])
    elif definition["spec"].get("resourceModifier"):
        velero.workload_preflight.config_map_document(
            "resource_modifier", definition["spec"]["resourceModifier"]["name"], "Create it in the Velero namespace or drop resource_modifier."
        )
    created = velero.client.create(copy.deepcopy(definition))
    if velero.client.check_mode or not params["wait"]:
        return _unwaited(created, started, changed=True)
    done = velero.waiter.wait_terminal(kind, created["metadata"]["name"], params["wait_timeout"])
    return report(velero, kind, done, started, params["fail_on_partial"], changed=True)


def _unwaited(obj, started, changed):
    """The result for an object that was not waited for (wait=false, or check mode's dry-run object)."""
    return dict(velero_spec.summarize(obj, None), result=obj, changed=changed, duration=_since(started))


def _metadata(params, prefix):
    metadata = {"labels": params.get("labels") or {}}
    if params.get("name"):
        metadata["name"] = params["name"]
    elif params.get("name_prefix"):
        metadata["name"] = velero_spec.timestamped_name(params["name_prefix"], time.gmtime())
    else:
        metadata["generateName"] = prefix
    return metadata


def backup_present(velero, params):
    started = time.monotonic()
    definition = {"kind": "Backup", "metadata": _metadata(params, "appsnap-backup-"), "spec": spec_hooks.checked_backup_spec(params)}
    # A name made from name_prefix is new: one taken already (two runs in one second) fails, it is never adopted.
    return create_and_wait(velero, "Backup", definition, params, started, adopt=not params.get("name_prefix"))


def backup_state(velero, params):
    if params["state"] == "absent":
        return backup_absent(velero, params)
    return backup_present(velero, params)


def backup_absent(velero, params):
    """Delete through a DeleteBackupRequest: deleting the CR alone leaves the data, and sync brings the CR back."""
    started = time.monotonic()
    name = params["name"]
    backup = velero.client.get("Backup", name)
    if backup is None:
        return {"changed": False, "result": None, "backup_name": name, "phase": "Absent", "duration": _since(started)}
    request = velero.client.create(
        {
            "kind": "DeleteBackupRequest",
            "metadata": {"generateName": "%s-" % name[:200], "labels": {"velero.io/backup-name": label_value(name)}},
            "spec": {"backupName": name},
        }
    )
    if velero.client.check_mode or not params["wait"]:
        return {"changed": True, "result": backup, "backup_name": name, "phase": "Deleting", "duration": _since(started), "delete_request": request}
    if not velero.waiter.wait_deleted("Backup", name, params["wait_timeout"]):
        status = (velero.client.get("DeleteBackupRequest", request["metadata"]["name"]) or {}).get("status") or {}
        errors = "; ".join(status.get("errors") or []) or "no errors yet"
        raise VeleroError(
            "Backup %s was not deleted within %ds; DeleteBackupRequest %s is %s: %s"
            % (name, params["wait_timeout"], request["metadata"]["name"], status.get("phase") or "New", errors),
            result=backup,
        )
    return {"changed": True, "result": backup, "backup_name": name, "phase": "Deleted", "duration": _since(started)}


def find_backups(velero, name=None, label_selector=None, schedule=None):
    if name:
        backup = velero.client.get("Backup", name)
        return [backup] if backup else []
    selectors = []
    if label_selector:
        selectors.append(velero_spec.selector_string(velero_spec.label_selector(label_selector)))
    if schedule:
        selectors.append("velero.io/schedule-name=%s" % schedule)
    return velero.client.list("Backup", label_selector=",".join(s for s in selectors if s) or None)


def backup_details(velero, backup, logs=False):
    name = backup["metadata"]["name"]
    details = dict(velero_spec.summarize(backup, velero.client.pod_volume_backups(name)), name=name, result=backup)
    if logs:
        details["log"] = velero.logs.download("BackupLog", name)
    return details


def _check(checks, name, run):
    """Run one check of cluster_preflight; record it as passed (with what it returns) or failed (with its message)."""
    try:
        detail = run()
        checks.append({"check": name, "ok": True, "detail": detail})
    except VeleroError as exc:
        checks.append({"check": name, "ok": False, "detail": exc.msg})


def cluster_preflight(velero, params):
    """Every check of the preflight module, each reported; fails naming all that failed."""
    client, checks = velero.client, []
    kubernetes = client.server_version()
    checks.append({"check": "connection", "ok": True, "detail": "Kubernetes %s" % kubernetes})
    namespaces = params["namespaces"] or []
    if params["velero"]:
        def velero_ready():
            bsl = velero.preflight.run(params["storage_location"], server_timeout=params["server_timeout"], min_version=params["velero_min_version"])
            return "Velero %s, BackupStorageLocation %s Available" % (velero.preflight.velero_version, bsl["metadata"]["name"])

        _check(checks, "velero", velero_ready)
    if params["node_agent"]:
        _check(checks, "node_agent", lambda: velero.workload_preflight.check_node_agent("file-system backup of the dump volumes") or "ready")
    if namespaces:
        def namespaces_exist():
            absent = [n for n in namespaces if client.get("Namespace", n, api_version="v1") is None]
            if absent:
                raise VeleroError("namespace %s does not exist; check the names (kubectl get namespaces)." % ", ".join(absent))
            return ", ".join(namespaces)

        _check(checks, "namespaces", namespaces_exist)
    if params["access"]:
        def access():
            denied = velero_access.missing(client, velero_access.scoped(client.namespace, namespaces))
            if denied:
                raise VeleroError(
                    "the caller may not %s. Grant them, as rbac/appsnap-velero-job.yaml does for a job's service account."
                    % "; ".join(denied)
                )
            return "every permission of a backup and restore cycle"

        _check(checks, "access", access)
    failed = [c for c in checks if not c["ok"]]
    result = {"changed": False, "checks": checks, "kubernetes_version": kubernetes, "velero_version": velero.preflight.velero_version}
    if failed:
        raise VeleroError("The cluster is not ready: %s" % " ".join("%s: %s" % (c["check"], c["detail"]) for c in failed), **result)
    return result


def backup_info(velero, params):
    backups = find_backups(velero, params["name"], params["label_selector"], params["schedule"])
    if params["latest"]:
        newest = velero_spec.latest_completed(backups)
        backups = [newest] if newest else []
    backups.sort(key=lambda b: (b.get("metadata") or {}).get("creationTimestamp") or "", reverse=True)
    # Fetching a log creates a DownloadRequest, so check mode goes without.
    with_logs = params["logs"] and not velero.client.check_mode
    found = [backup_details(velero, b, logs=with_logs) for b in backups]
    return {"changed": False, "backups": found, "backup_name": found[0]["name"] if found else None}


def backup_verify(velero, params):
    """Check one backup against every expectation; fail with the full list of those not met."""
    drilled = params.get("drilled")
    try:
        if params["name"]:
            backup = velero.client.get("Backup", params["name"])
        else:
            backup = latest_backup(velero, schedule=params["schedule"], label_selector=params["label_selector"], drilled=drilled)
        if backup is None:
            wanted = params["name"] or "a Completed backup of %s" % (params["schedule"] or params["label_selector"])
            raise VeleroError("Verification failed: %s does not exist." % wanted, problems=["%s does not exist" % wanted])
        details = backup_details(velero, backup)
        location_name = (backup.get("spec") or {}).get("storageLocation") or velero.client.default_storage_location()
        location = velero.client.get("BackupStorageLocation", location_name)
        problems = velero_spec.check_expectations(backup, details["volumes"], location, params)
        if drilled and drill.verified_at(backup) is None:
            problems.append("backup %s was not verified by a restore drill (no %s annotation); run ansible-playbook appsnap.velero.drill "
                            "-e drill_backup_name=%s" % (details["name"], drill.VERIFIED_AT, details["name"]))
    except (VeleroError, InputError) as exc:
        result = getattr(exc, "result", {})
        result.setdefault("problems", [str(exc)])
        raise VeleroError(getattr(exc, "msg", str(exc)), verified=False, **result)
    verified_at = drill.verified_at(backup)
    result = dict(details, changed=False, verified=not problems, problems=problems,
                  drill_verified_at=verified_at.strftime(drill.TIMESTAMP_FORMAT) if verified_at else None)
    if problems:
        fix = (" Run the restore drill (ansible-playbook appsnap.velero.drill) on a newer backup, and check that backups still run."
               if drilled and verified_at is not None else "")
        raise VeleroError("Backup %s failed verification: %s.%s" % (details["name"], "; ".join(problems), fix), **result)
    return result


def latest_backup(velero, name=None, schedule=None, label_selector=None, phases=("Completed",), drilled=False):
    """The newest backup in one of ``phases`` of the selection; with ``drilled``, only those a restore drill verified.

    With ``drilled`` and none verified, a VeleroError naming the drill as the fix."""
    candidates = find_backups(velero, name, label_selector, schedule)
    if drilled:
        newest = velero_spec.latest_completed(candidates, phases)
        candidates = [b for b in candidates if drill.verified_at(b) is not None]
        if not candidates:
            selection = "schedule %s" % schedule if schedule else "label selector %s" % label_selector
            wanted = "no Completed backup of %s was verified by a restore drill" % selection
            hint = (" (the newest Completed one is %s)" % newest["metadata"]["name"]) if newest else ""
            raise VeleroError(
                "Verification failed: %s%s. Run ansible-playbook appsnap.velero.drill on it, and schedule the drill." % (wanted, hint),
                problems=[wanted],
            )
    return velero_spec.latest_completed(candidates, phases)


def restore_present(velero, params):
    started = time.monotonic()
    source = None
    if params.get("backup_name"):
        source = velero.client.get("Backup", params["backup_name"])
        if source is None:
            raise VeleroError(
                "Backup %s does not exist in namespace %s; list them with appsnap.velero.backup_info." % (params["backup_name"], velero.client.namespace)
            )
    else:
        phases = ("Completed", "PartiallyFailed") if params["allow_partial"] else ("Completed",)
        source = latest_backup(velero, schedule=params.get("schedule_name"), label_selector=params.get("backup_label_selector"), phases=phases)
        if source is None:
            if params.get("schedule_name"):
                wanted = "schedule %s" % params["schedule_name"]
            else:
                wanted = "label selector %s" % params.get("backup_label_selector")
            raise VeleroError(
                "No %sbackup matches %s in namespace %s; run a backup first (ansible-playbook appsnap.velero.backup, or wait for the "
                "schedule's first run), or name one with backup_name." % ("" if params["allow_partial"] else "completed ", wanted, velero.client.namespace)
            )
    phase = (source.get("status") or {}).get("phase")
    if phase != "Completed" and not (params["allow_partial"] and phase == "PartiallyFailed"):
        raise VeleroError(
            "Backup %s is %s, not Completed; restoring it could bring back incomplete data. Set allow_partial: true to restore a "
            "PartiallyFailed backup anyway." % (source["metadata"]["name"], phase or "New")
        )
    restore_params = dict(params, backup_name=source["metadata"]["name"], schedule_name=None)
    definition = {"kind": "Restore", "metadata": _metadata(params, "%s-" % source["metadata"]["name"][:200]), "spec": velero_spec.restore_spec(restore_params)}
    result = create_and_wait(velero, "Restore", definition, params, started)
    result["backup_name"] = source["metadata"]["name"]
    result["backup"] = source
    return result


# A PodVolumeRestore in one of these phases no longer holds up its Restore.
POD_VOLUME_DONE = ("Completed", "Failed", "Canceled")


def restore_state(velero, params):
    """state present: restore a backup; state ended: end an unfinished Restore (restore_ended)."""
    return restore_ended(velero, params) if params["state"] == "ended" else restore_present(velero, params)


def restore_ended(velero, params):
    """End the unfinished Restore ``name``: mark each of its PodVolumeRestores that is not done Failed, with ``end_reason``,
    until Velero ends it (a pod created meanwhile brings a new one, so the marking repeats), within ``wait_timeout``.

    Velero runs one Restore at a time, and one whose pods are gone waits for their pod-volume restores until its
    pod-volume timeout (4 hours by default), holding up every other restore.
    """
    started, name, client = time.monotonic(), params["name"], velero.client
    ended = []
    while True:
        restore = client.get("Restore", name)
        if restore is None:
            raise VeleroError("Restore %s does not exist in namespace %s." % (name, client.namespace))
        phase = (restore.get("status") or {}).get("phase") or "New"
        if velero_waiter.is_terminal(phase):
            return {"changed": bool(ended), "result": restore, "phase": phase, "ended": ended, "duration": _since(started)}
        waiting = [v["metadata"]["name"] for v in client.pod_volume_restores(name) if (v.get("status") or {}).get("phase") not in POD_VOLUME_DONE]
        if client.check_mode:
            return {"changed": bool(waiting), "result": restore, "phase": phase, "ended": waiting, "duration": _since(started)}
        if time.monotonic() - started > params["wait_timeout"]:
            raise VeleroError(
                "Restore %s is still %s after %ds; Velero runs one Restore at a time, so others wait behind it. Look at it "
                "(velero restore describe %s) and at its PodVolumeRestores (kubectl -n %s get podvolumerestores -l velero.io/restore-name=%s)."
                % (name, phase, params["wait_timeout"], name, client.namespace, label_value(name)),
                result=restore, phase=phase, ended=ended,
            )
        for volume in waiting:
            client.patch("PodVolumeRestore", volume, {"status": {"phase": "Failed", "message": params["end_reason"]}})
            if volume not in ended:
                ended.append(volume)
        time.sleep(2)


def schedule_state(velero, params):
    """Create, update, pause or delete a Schedule; the before/after diff is returned under --diff."""
    result = _schedule_state(velero, params)
    if not velero.module._diff:
        result.pop("diff")
    return result


def _schedule_state(velero, params):
    name = params["name"]
    existing = velero.client.get("Schedule", name)
    if params["state"] == "absent":
        if existing is None:
            return {"changed": False, "result": None, "diff": {"before": {}, "after": {}}}
        velero.client.delete("Schedule", name)
        return {"changed": True, "result": existing, "diff": {"before": existing.get("spec"), "after": {}}}
    desired = {"schedule": params["schedule"], "template": spec_hooks.checked_backup_spec(params), "paused": bool(params["paused"])}
    # Velero consumes skipImmediately (resets it to false) once it has skipped, so it is
    # sent when the schedule starts running (created or unpaused) and never compared.
    skip = {} if params.get("skip_immediately") is None else {"skipImmediately": params["skip_immediately"]}
    if existing is None:
        velero.preflight.run(desired["template"].get("storageLocation"), server_timeout=params["server_timeout"], min_version=params["velero_min_version"])
        # A hooked pod that is not ready now may be by the first run, so a schedule checks only the node-agent.
        velero.workload_preflight.run(desired["template"], read_pods=params["preflight_pods"], hooks=False)
        created = velero.client.create({"kind": "Schedule", "metadata": {"name": name, "labels": params.get("labels") or {}}, "spec": dict(desired, **skip)})
        return {"changed": True, "result": created, "diff": {"before": {}, "after": desired}}
    spec = existing.get("spec") or {}
    # Compare only what we set: Velero and the API server add defaults of their own.
    before = {key: spec.get(key) for key in desired}
    before["paused"] = bool(before.get("paused"))
    before["template"] = {key: (spec.get("template") or {}).get(key) for key in desired["template"]}
    patch = {key: desired[key] for key in desired if key != "template" and before.get(key) != desired[key]}
    if velero_spec.spec_differences(desired["template"], spec.get("template")):
        patch["template"] = desired["template"]
    if not patch:
        return {"changed": False, "result": existing, "diff": {"before": before, "after": before}}
    if patch.get("paused") is False:
        patch.update(skip)
    patched = velero.client.patch("Schedule", name, {"spec": patch})
    return {"changed": True, "result": patched, "diff": {"before": before, "after": desired}}
