# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic for Velero CRs: spec building, what a Backup covers (namespaces, labels, pods), summaries, expectations.

The phase rules live in velero_waiter, log parsing in velero_logs.

No cluster access here, so unit tests reach all of it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError, duration_seconds, label_selector, validate_duration

# Module option -> Backup spec field. The same table serves Schedule templates.
BACKUP_SPEC_FIELDS = (
    ("included_namespaces", "includedNamespaces"),
    ("excluded_namespaces", "excludedNamespaces"),
    ("included_resources", "includedResources"),
    ("excluded_resources", "excludedResources"),
    ("label_selector", "labelSelector"),
    ("ttl", "ttl"),
    ("storage_location", "storageLocation"),
    ("default_volumes_to_fs_backup", "defaultVolumesToFsBackup"),
    ("snapshot_volumes", "snapshotVolumes"),
    ("resource_policy", "resourcePolicy"),
    ("include_cluster_resources", "includeClusterResources"),
    ("volume_snapshot_locations", "volumeSnapshotLocations"),
    ("ordered_resources", "orderedResources"),
    ("hooks", "hooks"),
)

RESTORE_SPEC_FIELDS = (
    ("backup_name", "backupName"),
    ("schedule_name", "scheduleName"),
    ("included_namespaces", "includedNamespaces"),
    ("excluded_namespaces", "excludedNamespaces"),
    ("included_resources", "includedResources"),
    ("excluded_resources", "excludedResources"),
    ("label_selector", "labelSelector"),
    ("namespace_mapping", "namespaceMapping"),
    ("restore_pvs", "restorePVs"),
    ("existing_resource_policy", "existingResourcePolicy"),
    ("resource_modifier", "resourceModifier"),
    ("hooks", "hooks"),
)


def selector_string(selector):
    """A LabelSelector's matchLabels as the 'a=b,c=d' form the list API takes."""
    if not selector:
        return None
    if selector.get("matchExpressions"):
        raise InputError("Only matchLabels can be used to find existing objects; drop matchExpressions.")
    return ",".join("%s=%s" % (k, v) for k, v in sorted((selector.get("matchLabels") or {}).items()))


def selector_matches(selector, labels):
    """Whether ``labels`` satisfy a LabelSelector (matchLabels and matchExpressions), as the API server decides."""
    labels = labels or {}
    for key, value in ((selector or {}).get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in (selector or {}).get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In":
            matched = key in labels and labels[key] in values
        elif operator == "NotIn":
            matched = key not in labels or labels[key] not in values
        elif operator in ("Exists", "DoesNotExist"):
            matched = (key in labels) == (operator == "Exists")
        else:
            raise InputError("label_selector operator %r is not In, NotIn, Exists or DoesNotExist." % (operator,))
        if not matched:
            return False
    return True


_GLOB_CHARS = set("*?[{")


def _glob_regex(pattern):
    """Velero 1.18's namespace globs (*, ?, [abc], {a,b}) as an anchored regular expression."""
    out, depth, i = [], 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            body = body.replace("\\", "\\\\")
            out.append("[%s]" % ("^" + body[1:] if body.startswith("!") else body))
            i = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("^%s$" % "".join(out))


def namespace_covered(namespace, included=None, excluded=None):
    """Whether a Backup with these namespace filters covers ``namespace``: unset or ``*`` is every namespace."""
    if included and not any(_glob_regex(p).match(namespace) for p in included):
        return False
    return not any(_glob_regex(p).match(namespace) for p in excluded or ())


def literal_namespaces(included):
    """The namespaces to read one by one, or None when the filter takes every namespace or a glob."""
    if not included or any(_GLOB_CHARS & set(p) for p in included):
        return None
    return sorted(set(included))


_POD_RESOURCE_NAMES = ("pods", "pod", "po", "*")


def covers_pods(included_resources=None, excluded_resources=None):
    """Whether a Backup with these resource filters backs up pods, and so runs their hooks and file-system backups."""
    def names(resources):
        return set(r.strip().lower().rstrip(".") for r in resources or ())

    if included_resources and not names(included_resources) & set(_POD_RESOURCE_NAMES):
        return False
    return not names(excluded_resources) & set(_POD_RESOURCE_NAMES)


# Velero matches an orderedResources key against the resource's plural name from discovery, without its group
# ("deployments", not "Deployment" or "deployments.apps"); a key that matches nothing is silently ignored.
_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9]*$")
# An object of an ordered resource: "namespace/name", or "name" for a cluster-scoped one.
_ORDERED_OBJECT = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


def ordered_resources(value):
    """A Backup's orderedResources: resource name -> "ns/a,ns/b", from lists or comma-separated strings, checked."""
    result = {}
    for resource, objects in sorted((value or {}).items()):
        if not isinstance(resource, str) or not _RESOURCE_NAME.match(resource):
            raise InputError(
                "ordered_resources key %r is not a resource name: Velero compares the keys with the plural, lower-case "
                "resource name without its group (pods, persistentvolumeclaims, deployments) and ignores any other." % (resource,)
            )
        names = objects.split(",") if isinstance(objects, str) else objects
        if not isinstance(names, list) or not names:
            raise InputError("ordered_resources[%r] must be a non-empty list of namespace/name (or name) strings, got %r." % (resource, objects))
        for name in names:
            if not isinstance(name, str) or not _ORDERED_OBJECT.match(name.strip()):
                raise InputError(
                    "ordered_resources[%r] entry %r is not namespace/name (or, for a cluster-scoped resource, name)." % (resource, name)
                )
        result[resource] = ",".join(name.strip() for name in names)
    return result


def _spec_from(params, fields):
    spec = {}
    for option, field in fields:
        value = params.get(option)
        if value is None:
            continue
        if option == "label_selector":
            value = label_selector(value)
        elif option == "ttl":
            value = validate_duration(value, "ttl")
        elif option in ("resource_policy", "resource_modifier"):
            # Velero reads a resource policy (spec_hooks.fs_backup_policy builds one) and a restore's resource
            # modifiers from a ConfigMap in its own namespace.
            value = {"kind": "configmap", "name": value}
        elif option == "ordered_resources":
            value = ordered_resources(value)
        spec[field] = value
    return spec


def backup_spec(params):
    """A Backup's spec (or a Schedule's template) from the module options; spec_hooks.checked_backup_spec also checks its hooks."""
    return _spec_from(params, BACKUP_SPEC_FIELDS)


def restore_spec(params):
    spec = _spec_from(params, RESTORE_SPEC_FIELDS)
    if spec.get("existingResourcePolicy") not in (None, "none", "update"):
        raise InputError("existing_resource_policy must be 'none' or 'update', got %r." % (spec["existingResourcePolicy"],))
    return spec


# metav1.Duration fields come back normalised ("24h" is stored as "24h0m0s").
DURATION_FIELDS = ("ttl",)


def _same(key, wanted, actual):
    if key in DURATION_FIELDS and wanted is not None and actual is not None:
        try:
            return duration_seconds(wanted) == duration_seconds(actual)
        except InputError:
            return False
    return wanted == actual


def spec_differences(desired, actual):
    """Fields of desired whose value differs from actual (Velero may add defaults we did not ask for)."""
    return sorted(key for key, value in desired.items() if not _same(key, value, (actual or {}).get(key)))


def volume_entries(items):
    """Summaries of PodVolumeBackups or PodVolumeRestores."""
    entries = []
    for item in items or []:
        spec = item.get("spec") or {}
        status = item.get("status") or {}
        pod = spec.get("pod") or {}
        progress = status.get("progress") or {}
        entries.append(
            {
                "name": (item.get("metadata") or {}).get("name"),
                "pod": pod.get("name"),
                "pod_namespace": pod.get("namespace"),
                "volume": spec.get("volume"),
                "phase": status.get("phase") or "New",
                "bytes": int(progress.get("bytesDone") or progress.get("totalBytes") or 0),
                "total_bytes": int(progress.get("totalBytes") or 0),
                "snapshot_id": status.get("snapshotID") or spec.get("snapshotID") or "",
                "message": status.get("message") or "",
            }
        )
    return sorted(entries, key=lambda e: (e["pod_namespace"] or "", e["pod"] or "", e["volume"] or ""))


_NAME_PREFIX = re.compile(r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


def timestamped_name(prefix, when):
    """``<prefix>-<YYYYMMDDHHMMSS>`` (UTC), as Velero names a schedule's backups; ``when`` is a time.struct_time.

    A prefix over 200 characters is cut there (and of a trailing ``-`` or ``.``), so the name stays a valid object name.
    """
    if not isinstance(prefix, str) or not _NAME_PREFIX.match(prefix):
        raise InputError(
            "name_prefix must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, got %r." % (prefix,)
        )
    return "%s-%04d%02d%02d%02d%02d%02d" % ((prefix[:200].rstrip("-."),) + tuple(when[:6]))


def backup_name_of(obj):
    """The backup a Backup or Restore is about: a Backup's own name, a Restore's ``spec.backupName``."""
    obj = obj or {}
    if obj.get("kind") == "Restore":
        return (obj.get("spec") or {}).get("backupName")
    return (obj.get("metadata") or {}).get("name")


def summarize(obj, volume_items=None):
    """The summary fields every backup/restore module returns next to ``result``, ``backup_name`` the same key in all."""
    status = (obj or {}).get("status") or {}
    hook_status = status.get("hookStatus") or {}
    return {
        "backup_name": backup_name_of(obj),
        "phase": status.get("phase") or "New",
        "hooks_attempted": int(hook_status.get("hooksAttempted") or 0),
        "hooks_failed": int(hook_status.get("hooksFailed") or 0),
        # Not "warnings": Ansible reserves that result key for a list of messages.
        "warning_count": int(status.get("warnings") or 0),
        "error_count": int(status.get("errors") or 0),
        "volumes": volume_entries(volume_items),
    }


def parse_timestamp(value):
    if not value:
        return None
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def latest_completed(objects, phases=("Completed",)):
    """The object in one of ``phases`` with the newest completionTimestamp, or None."""
    candidates = [o for o in objects if ((o.get("status") or {}).get("phase")) in phases]
    if not candidates:
        return None
    return max(candidates, key=lambda o: ((o.get("status") or {}).get("completionTimestamp") or "", o["metadata"]["name"]))


def check_expectations(backup, volumes, storage_location, expect, now=None):
    """Every expectation that ``backup`` fails, as readable sentences. Empty means verified."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    name = backup["metadata"]["name"]
    summary = summarize(backup, None)
    problems = []
    phases = expect.get("phase") or ["Completed"]
    if summary["phase"] not in phases:
        problems.append("backup %s is in phase %s, expected %s" % (name, summary["phase"], " or ".join(phases)))
    if expect.get("hooks_failed_zero", True) and summary["hooks_failed"]:
        problems.append("%d of %d hook(s) failed" % (summary["hooks_failed"], summary["hooks_attempted"]))
    minimum = expect.get("min_hooks_attempted") or 0
    if summary["hooks_attempted"] < minimum:
        problems.append("%d hook(s) ran, expected at least %d" % (summary["hooks_attempted"], minimum))
    for wanted in expect.get("volumes") or []:
        matches = [
            v for v in volumes
            if v["volume"] == wanted["name"]
            and (not wanted.get("pod") or v["pod"] == wanted["pod"])
            and (not wanted.get("namespace") or v["pod_namespace"] == wanted["namespace"])
        ]
        if not matches:
            pod = "/".join(n for n in (wanted.get("namespace"), wanted.get("pod")) if n)
            where = "volume %s%s" % (wanted["name"], " of pod %s" % pod if wanted.get("pod") else " in namespace %s" % pod if pod else "")
            problems.append("%s was not backed up (no PodVolumeBackup); check the backup.velero.io/backup-volumes annotation" % where)
            continue
        for volume in matches:
            where = "volume %s of pod %s/%s" % (wanted["name"], volume["pod_namespace"], volume["pod"])
            if volume["phase"] != "Completed":
                problems.append("%s is %s: %s" % (where, volume["phase"], volume["message"] or "no message"))
            elif volume["bytes"] < (wanted.get("min_bytes") or 0):
                problems.append("%s holds %d bytes, expected at least %d" % (where, volume["bytes"], wanted["min_bytes"]))
    if expect.get("max_age"):
        completed = parse_timestamp((backup.get("status") or {}).get("completionTimestamp"))
        limit = duration_seconds(expect["max_age"])
        if completed is None:
            problems.append("backup %s has not completed, so its age is unknown" % name)
        elif (now - completed).total_seconds() > limit:
            problems.append("backup %s completed %ds ago, older than max_age %s" % (name, (now - completed).total_seconds(), expect["max_age"]))
    if expect.get("storage_location_available", True):
        phase = ((storage_location or {}).get("status") or {}).get("phase")
        if phase != "Available":
            location = (backup.get("spec") or {}).get("storageLocation") or "default"
            problems.append("storage location %s is %s, not Available" % (location, phase or "missing"))
    return problems
