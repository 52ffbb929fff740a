# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Velero's pod-annotation rules: turn workload manifests into hooked manifests, and read them back from live pods.

Velero reads backup hooks, restore hooks and file-system-backup opt-ins only
from Pod metadata. The functions here find the pod (or pod template) in any
workload kind and write those annotations, the backup volume and its mount.
They never talk to a cluster, never mutate their input, and never import
Ansible, so the filters and the modules share them.

For hooking a live workload in place (the pg_hook role): find a container and
resolve its environment, record what the hooks added in one pod annotation,
remove exactly that again, and the strategic merge patch between two versions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.appsnap.velero.plugins.module_utils.validation import (
    InputError,
    check_keys,
    validate_command,
    validate_dns1123_label,
    validate_duration,
    validate_on_error,
)

BACKUP_VOLUMES_ANNOTATION = "backup.velero.io/backup-volumes"
BACKUP_VOLUMES_EXCLUDES_ANNOTATION = "backup.velero.io/backup-volumes-excludes"
BACKUP_HOOK_PREFIXES = {
    "pre": "pre.hook.backup.velero.io/",
    "post": "post.hook.backup.velero.io/",
}
RESTORE_POST_HOOK_PREFIX = "post.hook.restore.velero.io/"
RESTORE_INIT_HOOK_PREFIX = "init.hook.restore.velero.io/"

# Where Velero finds the pod a workload creates. Velero reads hook and
# file-system-backup annotations only from Pod metadata, so for a
# controller they must go on the pod template, never on its own metadata.
POD_TEMPLATE_PATHS = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def _names_list(value, what):
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise InputError("%s must be a list of volume names, got %r." % (what, value))
    names = []
    for name in value:
        if isinstance(name, str):
            name = name.strip()
        validate_dns1123_label(name, "%s entry" % what)
        names.append(name)
    return names


def merge_csv(existing, additions):
    """Merge names into a comma-separated annotation value.

    Order is kept, duplicates dropped, and no spaces written: Velero splits
    on ',' without trimming, so ' data' would name a volume that does not exist.
    """
    merged = []
    for name in (existing or "").split(",") + list(additions):
        name = name.strip()
        if name and name not in merged:
            merged.append(name)
    return ",".join(merged)


# ---------------------------------------------------------------------------
# Walking manifests
# ---------------------------------------------------------------------------


def as_plain(value):
    """Copy into plain dict/list/str so the result survives to_json/from_json."""
    return json.loads(json.dumps(value))


def pod_template(obj):
    """Return the pod (or pod template) dict inside a workload object, creating nothing."""
    kind = obj.get("kind")
    path = POD_TEMPLATE_PATHS[kind]
    node = obj
    walked = []
    for key in path:
        walked.append(key)
        node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise InputError(
                "%s %r has no pod template at %s; add one (with spec.containers) before adding Velero hooks."
                % (kind, name_of(obj), ".".join(walked))
            )
    spec = node.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        where = ".".join(path + ("spec", "containers")) if path else "spec.containers"
        raise InputError("%s %r has no containers at %s; a pod needs at least one container." % (kind, name_of(obj), where))
    return node


def name_of(obj):
    metadata = obj.get("metadata") or {}
    return metadata.get("name") or metadata.get("generateName") or "<unnamed>"


def pod_annotations(template):
    metadata = template.setdefault("metadata", {})
    if metadata.get("annotations") is None:
        metadata["annotations"] = {}
    return metadata["annotations"]


def container_names(template):
    return [c.get("name") for c in template["spec"]["containers"] if isinstance(c, dict)]


def find_container(template, name, what="container"):
    containers = template["spec"]["containers"]
    if name is None:
        return containers[0]
    for container in containers:
        if isinstance(container, dict) and container.get("name") == name:
            return container
    raise InputError(
        "%s %r is not in the pod; the containers are: %s." % (what, name, ", ".join(repr(n) for n in container_names(template)))
    )


def pod_volume_names(obj, template):
    """Names a pod volume annotation may refer to, including StatefulSet claim templates."""
    names = [v.get("name") for v in template["spec"].get("volumes") or [] if isinstance(v, dict)]
    if obj.get("kind") == "StatefulSet":
        for claim in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
            names.append(((claim or {}).get("metadata") or {}).get("name"))
    return [n for n in names if n]


def _items(manifests):
    """Return (items, rebuild) where rebuild(new_items) restores the input's shape."""
    if isinstance(manifests, dict):
        if manifests.get("kind") == "List" or (manifests.get("kind", "").endswith("List") and isinstance(manifests.get("items"), list)):
            items = manifests.get("items")
            if not isinstance(items, list):
                raise InputError("A kind: List manifest needs an 'items' list.")

            def rebuild_list(new_items):
                result = dict(manifests)
                result["items"] = new_items
                return result

            return items, rebuild_list
        return [manifests], lambda new_items: new_items[0]
    if isinstance(manifests, (list, tuple)):
        return list(manifests), list
    raise InputError(
        "Expected a Kubernetes manifest (a dict with 'kind'), a list of manifests or a kind: List, got %s. "
        "Parse YAML text first, for example with ansible.builtin.from_yaml_all | list." % type(manifests).__name__
    )


def transform_workloads(manifests, transform, workload_name=None, workload_kind=None):
    """Apply ``transform(obj, template)`` to each selected workload in a copy of ``manifests``.

    Objects without a pod (Service, ConfigMap, ...) pass through unchanged.
    A single manifest of an unsupported kind is an error, since it is the
    caller's explicit target.
    """
    name, kind = workload_name, workload_kind
    if name is not None and not isinstance(name, str):
        raise InputError("workload_name must be a string, got %r." % (name,))
    if kind is not None and kind not in POD_TEMPLATE_PATHS:
        raise InputError("workload_kind %r is not a workload kind; use one of %s." % (kind, ", ".join(POD_TEMPLATE_PATHS)))
    items, rebuild = _items(manifests)
    single = isinstance(manifests, dict) and len(items) == 1 and items[0] is manifests
    result = []
    matched = 0
    for item in items:
        if not isinstance(item, dict) or not item.get("kind"):
            raise InputError("Every manifest needs a 'kind'; got %r. Check that the YAML parsed into objects." % (item,))
        if item["kind"] not in POD_TEMPLATE_PATHS:
            if single:
                raise InputError(
                    "kind %r has no pod template that Velero can hook; supported kinds are %s."
                    % (item["kind"], ", ".join(POD_TEMPLATE_PATHS))
                )
            result.append(as_plain(item))
            continue
        if (name is not None and name_of(item) != name) or (kind is not None and item["kind"] != kind):
            result.append(as_plain(item))
            continue
        obj = as_plain(item)
        template = pod_template(obj)
        transform(obj, template)
        matched += 1
        result.append(obj)
    if matched == 0:
        wanted = " ".join(x for x in ("workload_kind=%s" % kind if kind else "", "workload_name=%s" % name if name else "") if x)
        present = ", ".join("%s/%s" % (i.get("kind"), name_of(i)) for i in items if isinstance(i, dict)) or "nothing"
        raise InputError(
            "No workload matched%s; the input holds %s. Fix the name/kind selector or the input."
            % (" the selector " + wanted if wanted else "", present)
        )
    return rebuild(result)


# ---------------------------------------------------------------------------
# Hook specifications
# ---------------------------------------------------------------------------

def normalize_backup_hook(hook, what, on_error_key="on_error"):
    """Validate a backup exec hook dict and fill in the explicit defaults.

    The one set of rules for a backup exec hook, whether it becomes annotations or a Backup-spec hook
    (spec_hooks.py): ``on_error_key`` is how the input spells it, on_error in the filters' hook dicts,
    onError in Velero's spec. The result always says on_error.
    """
    check_keys(hook, ("command", "container", "timeout", on_error_key), ("command",), what)
    normalized = {
        "command": validate_command(hook["command"], "%s.command" % what),
        "on_error": validate_on_error(hook.get(on_error_key) or "Fail", "%s.%s" % (what, on_error_key)),
    }
    if hook.get("container") is not None:
        normalized["container"] = validate_dns1123_label(hook["container"], "%s.container" % what)
    if hook.get("timeout") is not None:
        normalized["timeout"] = validate_duration(hook["timeout"], "%s.timeout" % what)
    return normalized


def backup_hook_annotations(phase, hook):
    """Annotations for a normalized backup hook. on-error is always explicit."""
    prefix = BACKUP_HOOK_PREFIXES[phase]
    annotations = {
        prefix + "command": json.dumps(hook["command"]),
        prefix + "on-error": hook["on_error"],
    }
    if "container" in hook:
        annotations[prefix + "container"] = hook["container"]
    if "timeout" in hook:
        annotations[prefix + "timeout"] = hook["timeout"]
    return annotations


# Velero still runs the phase-less keys (hook.backup.velero.io/command ...) as a pre hook when a pod has no pre.hook ones.
LEGACY_BACKUP_HOOK_PREFIX = "hook.backup.velero.io/"


def live_backup_hooks(pod):
    """The backup hooks Velero will run in a pod, read back from its annotations: [{"phase", "on_error"}].

    Velero treats a hook as fatal only when on-error is exactly Fail; unset or anything else is Continue.
    """
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    prefixes = dict(BACKUP_HOOK_PREFIXES)
    if not annotations.get(prefixes["pre"] + "command"):
        prefixes["pre"] = LEGACY_BACKUP_HOOK_PREFIX
    return [
        {"phase": phase, "on_error": "Fail" if annotations.get(prefix + "on-error") == "Fail" else "Continue"}
        for phase, prefix in sorted(prefixes.items(), reverse=True)
        if annotations.get(prefix + "command")
    ]


def live_fs_backup_volumes(pod):
    """The volumes a pod opts into file-system backup (its backup.velero.io/backup-volumes annotation)."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(BACKUP_VOLUMES_ANNOTATION) or ""
    return [name for name in value.split(",") if name.strip()]


def _require_volumes(obj, template, names, what):
    known = pod_volume_names(obj, template)
    for volume in names:
        if volume not in known:
            raise InputError(
                "%s names volume %r, which is not in the pod of %s %r; its volumes are: %s. "
                "Add the volume first (appsnap.velero.backup_volume adds an emptyDir)."
                % (what, volume, obj["kind"], name_of(obj), ", ".join(repr(n) for n in known) or "none")
            )


def backup_hooks(manifests, pre=None, post=None, backup_volumes=None, exclude_volumes=None, workload_name=None, workload_kind=None):
    hooks = {}
    for phase, hook in (("pre", pre), ("post", post)):
        if hook is not None:
            hooks[phase] = normalize_backup_hook(hook, phase)
    include = _names_list(backup_volumes, "backup_volumes")
    exclude = _names_list(exclude_volumes, "exclude_volumes")
    both = [v for v in include if v in exclude]
    if both:
        raise InputError("Volume(s) %s are both in backup_volumes and exclude_volumes; keep each in one list." % ", ".join(both))

    def apply(obj, template):
        for phase, hook in hooks.items():
            if "container" in hook:
                find_container(template, hook["container"], "%s hook container" % phase)
        _require_volumes(obj, template, include, "backup_volumes")
        _require_volumes(obj, template, exclude, "exclude_volumes")
        annotations = pod_annotations(template)
        for phase, hook in hooks.items():
            annotations.update(backup_hook_annotations(phase, hook))
        for key, names in ((BACKUP_VOLUMES_ANNOTATION, include), (BACKUP_VOLUMES_EXCLUDES_ANNOTATION, exclude)):
            if names:
                annotations[key] = merge_csv(annotations.get(key), names)

    return transform_workloads(manifests, apply, workload_name=workload_name, workload_kind=workload_kind)


def backup_volume(manifests, name, mount_path, container=None, size_limit=None, medium=None, workload_name=None, workload_kind=None):
    validate_dns1123_label(name, "volume name")
    if not isinstance(mount_path, str) or not mount_path.startswith("/") or ":" in mount_path:
        raise InputError("mount_path must be an absolute path such as '/backup' without ':', got %r." % (mount_path,))
    mount_path = mount_path.rstrip("/") or "/"
    if medium not in (None, "", "Memory"):
        raise InputError("medium must be omitted (node disk) or 'Memory' (tmpfs), got %r." % (medium,))
    if size_limit is not None and not re.match(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$", str(size_limit)):
        raise InputError("size_limit must be a Kubernetes quantity such as '1Gi' or '500Mi', got %r." % (size_limit,))
    empty_dir = {}
    if medium:
        empty_dir["medium"] = medium
    if size_limit is not None:
        empty_dir["sizeLimit"] = str(size_limit)
    if container is not None:
        validate_dns1123_label(container, "container")

    def apply(obj, template):
        spec = template["spec"]
        target = find_container(template, container)
        volumes = spec.get("volumes") or []
        existing = next((v for v in volumes if isinstance(v, dict) and v.get("name") == name), None)
        if existing is None:
            volumes.append({"name": name, "emptyDir": dict(empty_dir)})
            spec["volumes"] = volumes
        elif "emptyDir" not in existing:
            source = ", ".join(k for k in existing if k != "name") or "no source"
            raise InputError(
                "Pod of %s %r already has a volume %r backed by %s, not an emptyDir; choose another name for the backup volume."
                % (obj["kind"], name_of(obj), name, source)
            )
        else:
            existing["emptyDir"] = dict(existing.get("emptyDir") or {}, **empty_dir)
        mounts = target.get("volumeMounts") or []
        same_volume = [m for m in mounts if isinstance(m, dict) and m.get("name") == name]
        same_path = [m for m in mounts if isinstance(m, dict) and (m.get("mountPath") or "").rstrip("/") == mount_path and m.get("name") != name]
        if same_path:
            raise InputError(
                "Container %r already mounts volume %r at %s; choose another mount_path." % (target.get("name"), same_path[0].get("name"), mount_path)
            )
        if not same_volume:
            mounts.append({"name": name, "mountPath": mount_path})
            target["volumeMounts"] = mounts
        elif not any((m.get("mountPath") or "").rstrip("/") == mount_path for m in same_volume):
            raise InputError(
                "Container %r already mounts volume %r at %s, not %s; use that mount_path or another volume name."
                % (target.get("name"), name, same_volume[0].get("mountPath"), mount_path)
            )
        annotations = pod_annotations(template)
        annotations[BACKUP_VOLUMES_ANNOTATION] = merge_csv(annotations.get(BACKUP_VOLUMES_ANNOTATION), [name])
        excluded = [v for v in (annotations.get(BACKUP_VOLUMES_EXCLUDES_ANNOTATION) or "").split(",") if v and v != name]
        if BACKUP_VOLUMES_EXCLUDES_ANNOTATION in annotations:
            if excluded:
                annotations[BACKUP_VOLUMES_EXCLUDES_ANNOTATION] = ",".join(excluded)
            else:
                del annotations[BACKUP_VOLUMES_EXCLUDES_ANNOTATION]

    return transform_workloads(manifests, apply, workload_name=workload_name, workload_kind=workload_kind)


_RESTORE_POST_KEYS = ("command", "container", "on_error", "exec_timeout", "wait_timeout", "wait_for_ready")
_RESTORE_INIT_KEYS = ("container_image", "container_name", "command")


def restore_hooks(manifests, post=None, init=None, workload_name=None, workload_kind=None):
    annotations_to_write = {}
    post_container = None
    if post is not None:
        check_keys(post, _RESTORE_POST_KEYS, ("command",), "post")
        if post.get("wait_timeout") is None:
            raise InputError(
                "post.wait_timeout is required: without it Velero waits forever for the container and the restore "
                "hangs in Finalizing. Set it, for example wait_timeout: '10m'."
            )
        annotations_to_write[RESTORE_POST_HOOK_PREFIX + "command"] = json.dumps(validate_command(post["command"], "post.command"))
        annotations_to_write[RESTORE_POST_HOOK_PREFIX + "on-error"] = validate_on_error(post.get("on_error") or "Fail", "post.on_error")
        annotations_to_write[RESTORE_POST_HOOK_PREFIX + "wait-timeout"] = validate_duration(post["wait_timeout"], "post.wait_timeout")
        annotations_to_write[RESTORE_POST_HOOK_PREFIX + "exec-timeout"] = validate_duration(post.get("exec_timeout") or "30s", "post.exec_timeout")
        if post.get("container") is not None:
            post_container = validate_dns1123_label(post["container"], "post.container")
            annotations_to_write[RESTORE_POST_HOOK_PREFIX + "container"] = post_container
        wait_for_ready = post.get("wait_for_ready", True)
        if not isinstance(wait_for_ready, bool):
            raise InputError("post.wait_for_ready must be true or false, got %r." % (wait_for_ready,))
        annotations_to_write[RESTORE_POST_HOOK_PREFIX + "wait-for-ready"] = "true" if wait_for_ready else "false"
    if init is not None:
        check_keys(init, _RESTORE_INIT_KEYS, ("container_image",), "init")
        image = init["container_image"]
        if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
            raise InputError("init.container_image must be an image reference such as 'busybox:1.36', got %r." % (image,))
        annotations_to_write[RESTORE_INIT_HOOK_PREFIX + "container-image"] = image
        if init.get("container_name") is not None:
            annotations_to_write[RESTORE_INIT_HOOK_PREFIX + "container-name"] = validate_dns1123_label(init["container_name"], "init.container_name")
        if init.get("command") is not None:
            annotations_to_write[RESTORE_INIT_HOOK_PREFIX + "command"] = json.dumps(validate_command(init["command"], "init.command"))

    def apply(obj, template):
        if post_container is not None:
            find_container(template, post_container, "post hook container")
        pod_annotations(template).update(annotations_to_write)

    return transform_workloads(manifests, apply, workload_name=workload_name, workload_kind=workload_kind)


def one_workload(manifest, what):
    if not isinstance(manifest, dict) or manifest.get("kind") not in POD_TEMPLATE_PATHS:
        kind = manifest.get("kind") if isinstance(manifest, dict) else type(manifest).__name__
        raise InputError("%s takes one workload manifest (one of %s), got %s." % (what, ", ".join(POD_TEMPLATE_PATHS), kind))
    return as_plain(manifest)
