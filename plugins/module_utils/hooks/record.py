# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hooking a live workload in place: the record of what appsnap.velero added, its exact removal, and the patch.

The pg_hook role applies pod_hooks' filters to a workload read from the cluster; record_hooks writes what they
added into one pod-template annotation, remove_hooks undoes exactly that, and hooks_patch turns the result into a
strategic merge patch. Pure functions; nothing here talks to a cluster or imports Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.appsnap.velero.plugins.module_utils.hooks.pod import (
    BACKUP_VOLUMES_ANNOTATION,
    BACKUP_VOLUMES_EXCLUDES_ANNOTATION,
    POD_TEMPLATE_PATHS,
    as_plain,
    merge_csv,
    name_of,
    one_workload,
    pod_annotations,
    pod_template,
    transform_workloads,
)
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError


# The pod-template annotation that records what appsnap.velero added, so that remove_hooks takes
# exactly that away. Its value is JSON (keys sorted, so the same hooks give the same text):
#   "annotations": {key: the value before, or null when there was none}  every annotation written
#   "lists": {backup-volumes or -excludes annotation: {"previous": value or null,
#             "added": [names], "removed": [names]}}                        entries, not whole values
#   "volumes": {name: the volume before, or null when it was added}
#   "mounts": {container: {mountPath: the mount before, or null when it was added}}
HOOKED_ANNOTATION = "appsnap.velero/hooked"
_LIST_ANNOTATIONS = (BACKUP_VOLUMES_ANNOTATION, BACKUP_VOLUMES_EXCLUDES_ANNOTATION)
_RECORD_KEYS = ("annotations", "lists", "volumes", "mounts")


def _csv_names(value):
    return [name for name in merge_csv(value, []).split(",") if name]


def _by_key(items, key):
    return dict((item.get(key), item) for item in items or [] if isinstance(item, dict) and item.get(key))


def _template_delta(before, after, what):
    """What differs between two versions of one workload, where only the pod's annotations, volumes and mounts may.

    Returns {"annotations": {key: (old, new)}, "volumes": {name: (old, new)}, "mounts": {container: {path: (old, new)}}},
    None standing for absent. Raises InputError naming the first other difference.
    """
    stripped = []
    deltas = {"annotations": {}, "volumes": {}, "mounts": {}}
    for obj in (before, after):
        obj = one_workload(obj, what)
        template = pod_template(obj)
        annotations = (template.get("metadata") or {}).pop("annotations", None) or {}
        volumes = template["spec"].pop("volumes", None) or []
        mounts = dict((c.get("name"), c.pop("volumeMounts", None) or []) for c in template["spec"]["containers"] if isinstance(c, dict))
        if template.get("metadata") == {}:
            del template["metadata"]
        stripped.append((obj, annotations, volumes, mounts))
    (old_obj, old_ann, old_vol, old_mnt), (new_obj, new_ann, new_vol, new_mnt) = stripped
    if old_obj != new_obj:
        raise InputError(
            "%s covers only the pod's annotations, volumes and volume mounts, but %s %r differs in more: %s."
            % (what, new_obj.get("kind"), name_of(new_obj), _first_difference(old_obj, new_obj))
        )
    for key in sorted(set(old_ann) | set(new_ann)):
        if old_ann.get(key) != new_ann.get(key):
            deltas["annotations"][key] = (old_ann.get(key), new_ann.get(key))
    old_vol, new_vol = _by_key(old_vol, "name"), _by_key(new_vol, "name")
    for name in list(old_vol) + [n for n in new_vol if n not in old_vol]:
        if old_vol.get(name) != new_vol.get(name):
            deltas["volumes"][name] = (old_vol.get(name), new_vol.get(name))
    for container in new_mnt:
        old, new = _by_key(old_mnt[container], "mountPath"), _by_key(new_mnt[container], "mountPath")
        changed = dict((p, (old.get(p), new.get(p))) for p in list(old) + [p for p in new if p not in old] if old.get(p) != new.get(p))
        if changed:
            deltas["mounts"][container] = changed
    return deltas


def _first_difference(old, new, path=""):
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), "%s.%s" % (path, key) if path else key)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new)):
            if a != b:
                return _first_difference(a, b, "%s[%d]" % (path, index))
    return path or "the whole object"


def record_hooks(manifest, before):
    """``manifest`` with the HOOKED_ANNOTATION that records what it adds to ``before``, its version before the hooks.

    ``manifest`` must differ from ``before`` only in its pod's annotations, volumes and volume mounts (what
    backup_volume, backup_hooks and restore_hooks write), and ``before`` must not be hooked already
    (remove_hooks it first). remove_hooks(record_hooks(m, b)) == b.
    """
    if HOOKED_ANNOTATION in pod_annotations(pod_template(one_workload(before, "record_hooks"))):
        raise InputError("record_hooks needs the workload as it was before the hooks, without %s; pass it through remove_hooks first." % HOOKED_ANNOTATION)
    delta = _template_delta(before, manifest, "record_hooks")
    if HOOKED_ANNOTATION in delta["annotations"]:
        raise InputError("The hooked workload already carries %s; record the hooks once, on a workload passed through remove_hooks." % HOOKED_ANNOTATION)
    record = {"annotations": {}, "lists": {}, "volumes": {}, "mounts": {}}
    for key, (old, new) in delta["annotations"].items():
        if key in _LIST_ANNOTATIONS:
            old_names, new_names = _csv_names(old), _csv_names(new)
            record["lists"][key] = {
                "previous": old,
                "added": [n for n in new_names if n not in old_names],
                "removed": [n for n in old_names if n not in new_names],
            }
        else:
            record["annotations"][key] = old
    for name, (old, _new) in delta["volumes"].items():
        record["volumes"][name] = old
    for container, paths in delta["mounts"].items():
        record["mounts"][container] = dict((path, old) for path, (old, _new) in paths.items())
    result = as_plain(manifest)
    if any(record.values()):
        pod_annotations(pod_template(result))[HOOKED_ANNOTATION] = json.dumps(
            dict((k, v) for k, v in record.items() if v), sort_keys=True, separators=(",", ":")
        )
    return result


def _read_record(obj, template):
    text = ((template.get("metadata") or {}).get("annotations") or {}).get(HOOKED_ANNOTATION)
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or set(record) - set(_RECORD_KEYS) or not all(isinstance(v, dict) for v in record.values()):
        raise InputError(
            "The %s annotation of %s %r is not a record this collection wrote (%r); remove it or restore it from the workload's history."
            % (HOOKED_ANNOTATION, obj["kind"], name_of(obj), text[:200])
        )
    return record


def _put_by_key(items, key, value, previous):
    """Restore ``previous`` (or drop the item when None) in a list of dicts keyed by ``key``."""
    index = next((i for i, item in enumerate(items) if isinstance(item, dict) and item.get(key) == value), None)
    if previous is None:
        if index is not None:
            del items[index]
    elif index is None:
        items.append(previous)
    else:
        items[index] = previous


def _unhook(obj, template):
    record = _read_record(obj, template)
    if record is None:
        return
    annotations = pod_annotations(template)
    del annotations[HOOKED_ANNOTATION]
    for key, previous in record.get("annotations", {}).items():
        if previous is None:
            annotations.pop(key, None)
        else:
            annotations[key] = previous
    for key, change in record.get("lists", {}).items():
        names = [n for n in _csv_names(annotations.get(key)) if n not in change.get("added", [])]
        names += [n for n in change.get("removed", []) if n not in names]
        previous = change.get("previous")
        if sorted(names) == sorted(_csv_names(previous)) and (previous is not None or not names):
            value = previous
        else:
            value = ",".join(names) or None
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
    if not annotations:
        del template["metadata"]["annotations"]
        if not template["metadata"] and template is not obj:
            del template["metadata"]
    spec = template["spec"]
    volumes = spec.get("volumes") or []
    for name, previous in record.get("volumes", {}).items():
        _put_by_key(volumes, "name", name, previous)
    if volumes:
        spec["volumes"] = volumes
    else:
        spec.pop("volumes", None)
    for container in spec["containers"]:
        paths = record.get("mounts", {}).get(container.get("name")) if isinstance(container, dict) else None
        if not paths:
            continue
        mounts = container.get("volumeMounts") or []
        for path, previous in paths.items():
            _put_by_key(mounts, "mountPath", path, previous)
        if mounts:
            container["volumeMounts"] = mounts
        else:
            container.pop("volumeMounts", None)


def remove_hooks(manifests, workload_name=None, workload_kind=None):
    """Take away exactly what the HOOKED_ANNOTATION records, and the record itself; a workload without one passes unchanged.

    Annotations the hooks wrote go (or get their value from before back), the entries they added to
    backup.velero.io/backup-volumes go (the value from before comes back verbatim when nothing else
    changed in it), the volumes and mounts they added go. Everything else stays, the user's own
    annotations, volumes and mounts included. Removing twice is the same as removing once.
    """
    return transform_workloads(manifests, _unhook, workload_name=workload_name, workload_kind=workload_kind)


def _map_patch(old, new):
    """A JSON merge patch for one map: changed keys, removed ones as None, nested maps patched recursively."""
    patch = {}
    for key in list(old) + [k for k in new if k not in old]:
        if key not in new:
            patch[key] = None
        elif isinstance(old.get(key), dict) and isinstance(new[key], dict):
            nested = _map_patch(old[key], new[key])
            if nested:
                patch[key] = nested
        elif old.get(key) != new[key]:
            patch[key] = new[key]
    return patch


def _list_patch(changes, key):
    """Strategic-merge-patch entries of a list merged on ``key``: deletions, additions, and changed items patched."""
    entries = []
    for value, (old, new) in changes.items():
        if new is None:
            entries.append({key: value, "$patch": "delete"})
        elif old is None:
            entries.append(new)
        else:
            entries.append(dict(_map_patch(old, new), **{key: value}))
    return entries


def hooks_patch(manifest, desired):
    """The strategic merge patch that turns the workload ``manifest`` (as read from the API) into ``desired``.

    It names only what changes in the pod's annotations (removed ones as null), volumes (merged on name,
    removed ones with ``$patch: delete``) and containers' volume mounts (merged on mountPath), so
    everything else, and what others change meanwhile, is left alone. With nothing to change it holds
    only apiVersion, kind and metadata (name, namespace). ``desired`` may differ from ``manifest`` only
    in those fields.
    """
    delta = _template_delta(manifest, desired, "hooks_patch")
    obj = as_plain(manifest)
    metadata = obj.get("metadata") or {}
    patch = {"apiVersion": obj.get("apiVersion"), "kind": obj["kind"], "metadata": dict((k, metadata[k]) for k in ("name", "namespace") if metadata.get(k))}
    template = {}
    if delta["annotations"]:
        template["metadata"] = {"annotations": dict((key, new) for key, (_old, new) in delta["annotations"].items())}
    if delta["volumes"] or delta["mounts"]:
        template["spec"] = {}
    # $setElementOrder keeps the order of ``desired`` (the API server would put new items first).
    wanted = pod_template(as_plain(desired))["spec"]
    if delta["volumes"]:
        template["spec"]["volumes"] = _list_patch(delta["volumes"], "name")
        template["spec"]["$setElementOrder/volumes"] = [{"name": v["name"]} for v in wanted.get("volumes") or []]
    if delta["mounts"]:
        mounts = dict((c.get("name"), c.get("volumeMounts") or []) for c in wanted["containers"])
        template["spec"]["containers"] = [
            {
                "name": container,
                "volumeMounts": _list_patch(changes, "mountPath"),
                "$setElementOrder/volumeMounts": [{"mountPath": m["mountPath"]} for m in mounts[container]],
            }
            for container, changes in delta["mounts"].items()
        ]
    if template:
        node = patch
        for key in POD_TEMPLATE_PATHS[obj["kind"]]:
            node = node.setdefault(key, {})
        node.update(template)
    return patch
