# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Velero's pod-annotation rules: turn workload manifests into hooked manifests.

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

import base64
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


def _as_plain(value):
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
                % (kind, _name_of(obj), ".".join(walked))
            )
    spec = node.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        where = ".".join(path + ("spec", "containers")) if path else "spec.containers"
        raise InputError("%s %r has no containers at %s; a pod needs at least one container." % (kind, _name_of(obj), where))
    return node


def _name_of(obj):
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
            result.append(_as_plain(item))
            continue
        if (name is not None and _name_of(item) != name) or (kind is not None and item["kind"] != kind):
            result.append(_as_plain(item))
            continue
        obj = _as_plain(item)
        template = pod_template(obj)
        transform(obj, template)
        matched += 1
        result.append(obj)
    if matched == 0:
        wanted = " ".join(x for x in ("workload_kind=%s" % kind if kind else "", "workload_name=%s" % name if name else "") if x)
        present = ", ".join("%s/%s" % (i.get("kind"), _name_of(i)) for i in items if isinstance(i, dict)) or "nothing"
        raise InputError(
            "No workload matched%s; the input holds %s. Fix the name/kind selector or the input."
            % (" the selector " + wanted if wanted else "", present)
        )
    return rebuild(result)


# ---------------------------------------------------------------------------
# Hook specifications
# ---------------------------------------------------------------------------

_BACKUP_HOOK_KEYS = ("command", "container", "timeout", "on_error")


def normalize_backup_hook(hook, what):
    """Validate a backup hook dict and fill in the explicit defaults."""
    check_keys(hook, _BACKUP_HOOK_KEYS, ("command",), what)
    normalized = {
        "command": validate_command(hook["command"], "%s.command" % what),
        "on_error": validate_on_error(hook.get("on_error", "Fail") or "Fail", "%s.on_error" % what),
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


def _require_volumes(obj, template, names, what):
    known = pod_volume_names(obj, template)
    for volume in names:
        if volume not in known:
            raise InputError(
                "%s names volume %r, which is not in the pod of %s %r; its volumes are: %s. "
                "Add the volume first (appsnap.velero.backup_volume adds an emptyDir)."
                % (what, volume, obj["kind"], _name_of(obj), ", ".join(repr(n) for n in known) or "none")
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
                % (obj["kind"], _name_of(obj), name, source)
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


# ---------------------------------------------------------------------------
# Reading a live workload: which container, and what its environment says
# ---------------------------------------------------------------------------


def _one_workload(manifest, what):
    if not isinstance(manifest, dict) or manifest.get("kind") not in POD_TEMPLATE_PATHS:
        kind = manifest.get("kind") if isinstance(manifest, dict) else type(manifest).__name__
        raise InputError("%s takes one workload manifest (one of %s), got %s." % (what, ", ".join(POD_TEMPLATE_PATHS), kind))
    return _as_plain(manifest)


def _image_name(image):
    """The repository's last path component of an image reference: 'postgres' in 'docker.io/library/postgres:15@sha256:...'."""
    return (image or "").split("@")[0].split("/")[-1].split(":")[0].lower()


def matching_containers(manifest, image_contains=None, env_names=None):
    """Names of the pod's containers that match the most of the two criteria, in pod order.

    A container matches ``image_contains`` when its image's name (the last path component, without tag
    or digest) contains it, and ``env_names`` when its ``env`` list sets any of them. Containers that match
    both win over those that match one, so a metrics exporter whose image is 'postgres-exporter' does not
    compete with the database. Returns [] when none matches.
    """
    obj = _one_workload(manifest, "matching_containers")
    wanted_env = set(_string_list(env_names, "env_names"))
    if image_contains is not None and (not isinstance(image_contains, str) or not image_contains):
        raise InputError("image_contains must be a non-empty string, got %r." % (image_contains,))
    scores = []
    for container in pod_template(obj)["spec"]["containers"]:
        names = set(e.get("name") for e in container.get("env") or [] if isinstance(e, dict))
        score = int(bool(image_contains) and image_contains.lower() in _image_name(container.get("image")))
        score += int(bool(wanted_env & names))
        scores.append((container.get("name"), score))
    best = max([score for _name, score in scores] + [0])
    return [name for name, score in scores if best and score == best]


def _string_list(value, what):
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise InputError("%s must be a list of names, got %r." % (what, value))
    return list(value)


def _ref_of(source, kind):
    """{"kind", "name"} of a secretKeyRef/configMapKeyRef or secretRef/configMapRef."""
    if not isinstance(source.get("name"), str) or not source["name"]:
        raise InputError("A %s reference without a name: %r." % (kind, source))
    return {"kind": kind, "name": source["name"]}


_REF_KINDS = (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap"))
_ENV_FROM_KINDS = (("secretRef", "Secret"), ("configMapRef", "ConfigMap"))


def _container_env_entries(obj, container):
    target = find_container(pod_template(obj), container)
    return target.get("envFrom") or [], target.get("env") or []


def env_sources(manifest, container, names):
    """The Secrets and ConfigMaps ({"kind", "name"}) that may set any of ``names`` in ``container``.

    A name the ``env`` list sets literally needs none; one it takes from a key reference needs that
    object; one the ``env`` list does not set may come from any ``envFrom`` source.
    """
    obj = _one_workload(manifest, "env_sources")
    validate_dns1123_label(container, "container")
    env_from, env = _container_env_entries(obj, container)
    sources = []

    def add(ref):
        if ref not in sources:
            sources.append(ref)

    for name in _string_list(names, "names"):
        entries = [e for e in env if isinstance(e, dict) and e.get("name") == name]
        if not entries:
            for source in env_from:
                for key, kind in _ENV_FROM_KINDS:
                    if isinstance((source or {}).get(key), dict):
                        add(_ref_of(source[key], kind))
            continue
        value_from = entries[-1].get("valueFrom") or {}
        for key, kind in _REF_KINDS:
            if isinstance(value_from.get(key), dict):
                add(_ref_of(value_from[key], kind))
    return sources


def _object_data(objects, ref):
    """The decoded data of the Secret or ConfigMap ``ref`` among ``objects``, or None when it is not there."""
    for item in objects or []:
        metadata = (item or {}).get("metadata") or {}
        if item.get("kind") == ref["kind"] and metadata.get("name") == ref["name"]:
            data = dict(item.get("data") or {})
            if ref["kind"] == "Secret":
                try:
                    return dict((k, base64.b64decode(v).decode("utf-8")) for k, v in data.items())
                except (TypeError, ValueError) as exc:
                    raise InputError("Secret %r holds a value that is not base64 UTF-8 text (%s)." % (ref["name"], exc))
            return data
    return None


def container_env(manifest, container, names, objects=None):
    """The values of ``names`` that ``container`` gets, as the kubelet resolves them, as {name: value}.

    Literal ``env`` values, ``secretKeyRef``/``configMapKeyRef`` and ``envFrom`` (with its prefix) are
    resolved from ``objects``, the Secrets and ConfigMaps as read from the API (env_sources lists them);
    ``env`` wins over ``envFrom``, and a later entry over an earlier one. A name no source sets is left
    out, as is one an optional reference does not find. A value only the running pod knows (fieldRef,
    resourceFieldRef) or a required reference that is missing raises InputError.
    """
    obj = _one_workload(manifest, "container_env")
    validate_dns1123_label(container, "container")
    if objects is not None and not isinstance(objects, (list, tuple)):
        raise InputError("objects must be a list of Secrets and ConfigMaps as read from the API, got %r." % (objects,))
    env_from, env = _container_env_entries(obj, container)
    wanted = _string_list(names, "names")
    values = {}
    for source in env_from:
        for key, kind in _ENV_FROM_KINDS:
            if not isinstance((source or {}).get(key), dict):
                continue
            ref = _ref_of(source[key], kind)
            data = _object_data(objects, ref)
            if data is None:
                if source[key].get("optional"):
                    continue
                raise InputError("Container %r takes its environment from %s %r (envFrom), which was not found." % (container, kind, ref["name"]))
            prefix = source.get("prefix") or ""
            for key_name, value in data.items():
                if prefix + key_name in wanted:
                    values[prefix + key_name] = value
    for entry in env:
        name = (entry or {}).get("name")
        if name not in wanted:
            continue
        if "value" in entry or not entry.get("valueFrom"):
            values[name] = entry.get("value") or ""
            continue
        value_from = entry["valueFrom"]
        ref_key = next((key for key, _kind in _REF_KINDS if isinstance(value_from.get(key), dict)), None)
        if ref_key is None:
            raise InputError(
                "Container %r takes %s from %s, which only the running pod resolves." % (container, name, ", ".join(sorted(value_from)))
            )
        selector = value_from[ref_key]
        ref = _ref_of(selector, dict(_REF_KINDS)[ref_key])
        data = _object_data(objects, ref)
        if data is None or selector.get("key") not in data:
            if selector.get("optional"):
                values.pop(name, None)
                continue
            raise InputError(
                "Container %r takes %s from key %r of %s %r, which was not found." % (container, name, selector.get("key"), ref["kind"], ref["name"])
            )
        values[name] = data[selector["key"]]
    return values


# ---------------------------------------------------------------------------
# Hooking a live workload in place: the record of what was added, its removal, the patch
# ---------------------------------------------------------------------------

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
        obj = _one_workload(obj, what)
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
            % (what, new_obj.get("kind"), _name_of(new_obj), _first_difference(old_obj, new_obj))
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
    if HOOKED_ANNOTATION in pod_annotations(pod_template(_one_workload(before, "record_hooks"))):
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
    result = _as_plain(manifest)
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
            % (HOOKED_ANNOTATION, obj["kind"], _name_of(obj), text[:200])
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
    obj = _as_plain(manifest)
    metadata = obj.get("metadata") or {}
    patch = {"apiVersion": obj.get("apiVersion"), "kind": obj["kind"], "metadata": dict((k, metadata[k]) for k in ("name", "namespace") if metadata.get(k))}
    template = {}
    if delta["annotations"]:
        template["metadata"] = {"annotations": dict((key, new) for key, (_old, new) in delta["annotations"].items())}
    if delta["volumes"] or delta["mounts"]:
        template["spec"] = {}
    # $setElementOrder keeps the order of ``desired`` (the API server would put new items first).
    wanted = pod_template(_as_plain(desired))["spec"]
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
