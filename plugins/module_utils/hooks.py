# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic that turns workload manifests into Velero-hooked manifests.

Shared by the filter plugins and the modules. Nothing here talks to a
cluster, and nothing here imports ansible.errors, so that it also runs as
module_utils on a managed node. Every public function returns a new object
and never mutates its input.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import shlex

BACKUP_VOLUMES_ANNOTATION = "backup.velero.io/backup-volumes"
BACKUP_VOLUMES_EXCLUDES_ANNOTATION = "backup.velero.io/backup-volumes-excludes"
BACKUP_HOOK_PREFIXES = {
    "pre": "pre.hook.backup.velero.io/",
    "post": "post.hook.backup.velero.io/",
}
RESTORE_POST_HOOK_PREFIX = "post.hook.restore.velero.io/"
RESTORE_INIT_HOOK_PREFIX = "init.hook.restore.velero.io/"

ON_ERROR_CHOICES = ("Fail", "Continue")
PG_DUMP_FORMATS = ("plain", "custom", "directory")
PG_PARALLEL_DUMP_FORMATS = ("directory",)
PG_PARALLEL_RESTORE_FORMATS = ("custom", "directory")
USER_TABLES_SQL = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"

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

# Kinds that carry no pod and pass through the filters untouched.
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Go's time.ParseDuration grammar, with a unit required on every number:
# Velero silently turns "300" into its 30s default (velero#2599).
_GO_DURATION = re.compile(r"^(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$")
_BARE_NUMBER = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")


class HookSpecError(ValueError):
    """Bad input to the hook logic. The message names the problem and the fix."""


# ---------------------------------------------------------------------------
# Validation of single values
# ---------------------------------------------------------------------------


def validate_dns1123_label(value, what):
    if not isinstance(value, str) or not value:
        raise HookSpecError("%s must be a non-empty string, got %r." % (what, value))
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:63].strip("-")
        hint = " For example %r." % suggestion if suggestion and _DNS1123_LABEL.match(suggestion) else ""
        raise HookSpecError(
            "%s %r is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit.%s" % (what, value, hint)
        )
    return value


def validate_duration(value, what):
    """Return ``value`` if it is a Go duration with units, else raise."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise HookSpecError("%s must be a Go duration string such as '30s' or '5m', got %r." % (what, value))
    text = str(value).strip()
    if _BARE_NUMBER.match(text):
        raise HookSpecError(
            "%s %r has no unit; Velero would ignore it and use its 30s default. "
            "Write it as a Go duration such as '%ss'." % (what, value, text)
        )
    if text.startswith("-") or not _GO_DURATION.match(text):
        raise HookSpecError(
            "%s %r is not a Go duration. Use a number with a unit (ns, us, ms, s, m, h), "
            "for example '90s', '5m' or '1h30m'." % (what, value)
        )
    return text


def validate_on_error(value, what):
    if value not in ON_ERROR_CHOICES:
        raise HookSpecError("%s must be 'Fail' or 'Continue' (case-sensitive), got %r." % (what, value))
    return value


def validate_command(value, what):
    if isinstance(value, str):
        raise HookSpecError(
            "%s must be a list of strings, not a string: Velero runs it without a shell. "
            'Write it as ["/bin/sh", "-c", %s].' % (what, json.dumps(value))
        )
    if not isinstance(value, (list, tuple)) or not value:
        raise HookSpecError('%s must be a non-empty list of strings such as ["/bin/sh", "-c", "..."], got %r.' % (what, value))
    for item in value:
        if not isinstance(item, str):
            raise HookSpecError("%s must contain only strings; %r is a %s. Quote it." % (what, item, type(item).__name__))
    return [str(item) for item in value]


def validate_env_name(value, what):
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise HookSpecError("%s must be an environment variable name such as POSTGRES_USER, got %r." % (what, value))
    return value


def _names_list(value, what):
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise HookSpecError("%s must be a list of volume names, got %r." % (what, value))
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


def _check_keys(value, allowed, required, what):
    if not isinstance(value, dict):
        raise HookSpecError("%s must be a dict with the keys %s, got %r." % (what, ", ".join(sorted(allowed)), value))
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise HookSpecError("%s has unknown keys %s; allowed keys are %s." % (what, ", ".join(unknown), ", ".join(sorted(allowed))))
    missing = [key for key in required if value.get(key) is None]
    if missing:
        raise HookSpecError("%s is missing the required key(s) %s." % (what, ", ".join(missing)))


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
            raise HookSpecError(
                "%s %r has no pod template at %s; add one (with spec.containers) before adding Velero hooks."
                % (kind, _name_of(obj), ".".join(walked))
            )
    spec = node.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        where = ".".join(path + ("spec", "containers")) if path else "spec.containers"
        raise HookSpecError("%s %r has no containers at %s; a pod needs at least one container." % (kind, _name_of(obj), where))
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
    raise HookSpecError(
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
                raise HookSpecError("A kind: List manifest needs an 'items' list.")

            def rebuild_list(new_items):
                result = dict(manifests)
                result["items"] = new_items
                return result

            return items, rebuild_list
        return [manifests], lambda new_items: new_items[0]
    if isinstance(manifests, (list, tuple)):
        return list(manifests), list
    raise HookSpecError(
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
        raise HookSpecError("workload_name must be a string, got %r." % (name,))
    if kind is not None and kind not in POD_TEMPLATE_PATHS:
        raise HookSpecError("workload_kind %r is not a workload kind; use one of %s." % (kind, ", ".join(POD_TEMPLATE_PATHS)))
    items, rebuild = _items(manifests)
    single = isinstance(manifests, dict) and len(items) == 1 and items[0] is manifests
    result = []
    matched = 0
    for item in items:
        if not isinstance(item, dict) or not item.get("kind"):
            raise HookSpecError("Every manifest needs a 'kind'; got %r. Check that the YAML parsed into objects." % (item,))
        if item["kind"] not in POD_TEMPLATE_PATHS:
            if single:
                raise HookSpecError(
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
        raise HookSpecError(
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
    _check_keys(hook, _BACKUP_HOOK_KEYS, ("command",), what)
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
            raise HookSpecError(
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
        raise HookSpecError("Volume(s) %s are both in backup_volumes and exclude_volumes; keep each in one list." % ", ".join(both))

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
        raise HookSpecError("mount_path must be an absolute path such as '/backup' without ':', got %r." % (mount_path,))
    mount_path = mount_path.rstrip("/") or "/"
    if medium not in (None, "", "Memory"):
        raise HookSpecError("medium must be omitted (node disk) or 'Memory' (tmpfs), got %r." % (medium,))
    if size_limit is not None and not re.match(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$", str(size_limit)):
        raise HookSpecError("size_limit must be a Kubernetes quantity such as '1Gi' or '500Mi', got %r." % (size_limit,))
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
            raise HookSpecError(
                "Pod of %s %r already has a volume %r backed by %s, not an emptyDir; choose another name for the backup volume."
                % (obj["kind"], _name_of(obj), name, source)
            )
        else:
            existing["emptyDir"] = dict(existing.get("emptyDir") or {}, **empty_dir)
        mounts = target.get("volumeMounts") or []
        same_volume = [m for m in mounts if isinstance(m, dict) and m.get("name") == name]
        same_path = [m for m in mounts if isinstance(m, dict) and (m.get("mountPath") or "").rstrip("/") == mount_path and m.get("name") != name]
        if same_path:
            raise HookSpecError(
                "Container %r already mounts volume %r at %s; choose another mount_path." % (target.get("name"), same_path[0].get("name"), mount_path)
            )
        if not same_volume:
            mounts.append({"name": name, "mountPath": mount_path})
            target["volumeMounts"] = mounts
        elif not any((m.get("mountPath") or "").rstrip("/") == mount_path for m in same_volume):
            raise HookSpecError(
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
        _check_keys(post, _RESTORE_POST_KEYS, ("command",), "post")
        if post.get("wait_timeout") is None:
            raise HookSpecError(
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
            raise HookSpecError("post.wait_for_ready must be true or false, got %r." % (wait_for_ready,))
        annotations_to_write[RESTORE_POST_HOOK_PREFIX + "wait-for-ready"] = "true" if wait_for_ready else "false"
    if init is not None:
        _check_keys(init, _RESTORE_INIT_KEYS, ("container_image",), "init")
        image = init["container_image"]
        if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
            raise HookSpecError("init.container_image must be an image reference such as 'busybox:1.36', got %r." % (image,))
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
# pg_dump
# ---------------------------------------------------------------------------


def _required_env(name):
    """A shell expansion of a container variable that fails, naming it, when it is unset."""
    return '"${%s:?%s is not set in the container}"' % (name, name)


def _check_pg_port(port):
    if isinstance(port, bool) or not str(port).isdigit() or not 1 <= int(port) <= 65535:
        raise HookSpecError("port must be an integer between 1 and 65535, got %r." % (port,))
    return int(port)


def _pg_exports(user_env, password_env, host, port):
    """``export PG*=...`` for libpq, the user and password expanded from the container's environment in the pod."""
    validate_env_name(user_env, "user_env")
    validate_env_name(password_env, "password_env")
    return "export PGPASSWORD=%s PGUSER=%s PGHOST=%s PGPORT=%d" % (
        _required_env(password_env), _required_env(user_env), shlex.quote(host), _check_pg_port(port))


def pg_shell(script, user_env="POSTGRES_USER", password_env="POSTGRES_PASSWORD", host="127.0.0.1", port=5432):
    """A ``bash -c`` command line that runs ``script`` with libpq's PG* variables taken from the container.

    Meant for kubernetes.core.k8s_exec, whose command is split with shlex:
    only variable names leave the controller, never the credentials.
    """
    if not isinstance(script, str) or not script.strip():
        raise HookSpecError("script must be a non-empty shell command, got %r." % (script,))
    return "bash -c " + shlex.quote(_pg_exports(user_env, password_env, host, port) + "; " + script)


def _check_pg_dump_args(database, path, format, jobs, parallel_formats, tool_does):
    """Validate the database, dump path, format and jobs that pg_dump and the replay share."""
    if not isinstance(database, str) or not database or "\x00" in database:
        raise HookSpecError("database must be a non-empty string, got %r." % (database,))
    if "=" in database or database.startswith(("postgres://", "postgresql://")):
        raise HookSpecError(
            "database %r looks like a connection string; pass only the database name and use host, port, "
            "user_env and password_env for the rest." % (database,)
        )
    if not isinstance(path, str) or not path.startswith("/") or path.endswith("/") or "\x00" in path:
        raise HookSpecError("path must be an absolute file path such as '/backup/backup.sql', got %r." % (path,))
    if format not in PG_DUMP_FORMATS:
        raise HookSpecError("format must be one of %s, got %r." % (", ".join(PG_DUMP_FORMATS), format))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise HookSpecError("jobs must be a positive integer, got %r." % (jobs,))
    if jobs > 1 and format not in parallel_formats:
        raise HookSpecError(
            "jobs > 1 needs format %s; %s in parallel only with %s. Set format: directory or jobs: 1."
            % (" or ".join(repr(f) for f in parallel_formats), tool_does, " or ".join(parallel_formats))
        )


def _check_pg_host(host):
    if not isinstance(host, str) or not host or any(c.isspace() for c in host):
        raise HookSpecError("host must be a host name, IP address or socket directory, got %r." % (host,))


def pg_dump_hook(
    database,
    path="/backup/backup.sql",
    user_env="POSTGRES_USER",
    password_env="POSTGRES_PASSWORD",
    host="127.0.0.1",
    port=5432,
    format="plain",
    jobs=1,
    timeout="3m",
    on_error="Fail",
    container=None,
):
    """Build a pre-backup hook that dumps ``database`` atomically to ``path``.

    pg_dump writes to a temporary file beside ``path`` and the result is
    renamed into place only when pg_dump exits 0, so a failed or timed-out
    dump (Velero lets a timed-out hook keep running) never replaces the
    last good dump. Credentials are read from the container's environment at
    run time; only variable names ever reach the manifest.
    """
    _check_pg_dump_args(database, path, format, jobs, PG_PARALLEL_DUMP_FORMATS, "pg_dump dumps")
    validate_env_name(user_env, "user_env")
    validate_env_name(password_env, "password_env")
    _check_pg_host(host)
    port = _check_pg_port(port)
    timeout = validate_duration(timeout, "timeout")
    on_error = validate_on_error(on_error, "on_error")

    dump_args = [
        "pg_dump",
        "--host=" + host,
        "--port=%d" % port,
        "--dbname=" + database,
        "--format=" + format,
        "--no-password",
    ]
    if jobs > 1:
        dump_args.append("--jobs=%d" % jobs)
    quoted = " ".join(shlex.quote(arg) for arg in dump_args)
    # --username and PGPASSWORD come from the container's environment, so
    # they are expanded by the shell in the pod and never written here.
    script = "\n".join(
        [
            "set -o errexit -o nounset -o pipefail",
            "target=%s" % shlex.quote(path),
            'tmp="${target}.tmp.$$"',
            'trap \'rm -rf -- "$tmp"\' EXIT',
            'rm -rf -- "$tmp"',
            'PGPASSWORD=%s %s --username=%s --file="$tmp"' % (_required_env(password_env), quoted, _required_env(user_env)),
            # A directory dump cannot be renamed over an existing directory,
            # so the previous dump is moved aside first and removed last.
            'if [ -d "$target" ]; then mv -- "$target" "$tmp.old"; mv -- "$tmp" "$target"; rm -rf -- "$tmp.old";'
            ' else mv -f -- "$tmp" "$target"; fi',
        ]
    )
    hook = {"command": ["/bin/bash", "-c", script], "timeout": timeout, "on_error": on_error}
    if container is not None:
        hook["container"] = validate_dns1123_label(container, "container")
    return hook


# ---------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------


def pg_replay_command(database, path="/backup/backup.sql", format="plain", jobs=1):
    """The command line that replays a dump of ``format`` at ``path`` into ``database``.

    Connection and credentials come from libpq's PG* variables (see pg_shell).
    A plain dump runs in one transaction with psql, so a failure leaves
    nothing half-applied; an archive goes through pg_restore, in one
    transaction too unless ``jobs`` > 1, which pg_restore cannot combine with it.
    """
    _check_pg_dump_args(database, path, format, jobs, PG_PARALLEL_RESTORE_FORMATS, "pg_restore restores")
    target = "--dbname=" + shlex.quote(database)
    if format == "plain":
        return "psql -X -q -v ON_ERROR_STOP=1 --single-transaction %s --file=%s >/dev/null" % (target, shlex.quote(path))
    mode = "--jobs=%d" % jobs if jobs > 1 else "--single-transaction"
    return "pg_restore --exit-on-error --no-owner %s %s %s" % (mode, target, shlex.quote(path))


def pg_replay_hook(
    database,
    path="/backup/backup.sql",
    user_env="POSTGRES_USER",
    password_env="POSTGRES_PASSWORD",
    host="127.0.0.1",
    port=5432,
    format="plain",
    jobs=1,
    ready_timeout=300,
    exec_timeout="30m",
    wait_timeout="10m",
    on_error="Fail",
    container=None,
):
    """Build a post-restore exec hook that replays the restored dump, for restore_hooks(post=...).

    Velero runs it in the restored pod once the container is ready. It waits
    for PostgreSQL to accept connections, refuses a database that already
    holds user tables (replaying on top would mix data), then replays with
    pg_replay_command. Credentials are read from the container's environment.
    """
    replay = pg_replay_command(database, path, format, jobs)
    _check_pg_host(host)
    exports = _pg_exports(user_env, password_env, host, port)
    if isinstance(ready_timeout, bool) or not isinstance(ready_timeout, int) or ready_timeout < 1:
        raise HookSpecError("ready_timeout must be a positive number of seconds, got %r." % (ready_timeout,))
    database_q = shlex.quote(database)
    script = "\n".join(
        [
            "set -o errexit -o nounset -o pipefail",
            exports,
            "source=%s" % shlex.quote(path),
            'if [ ! -e "$source" ]; then echo "appsnap: no dump at $source; was the backup volume restored with the pod?" >&2; exit 2; fi',
            "waited=0",
            "until pg_isready --quiet --dbname=%s; do" % database_q,
            '  if [ "$waited" -ge %d ]; then echo "appsnap: PostgreSQL did not accept connections within %ds" >&2; exit 3; fi' % (ready_timeout, ready_timeout),
            "  sleep 1; waited=$((waited + 1))",
            "done",
            "tables=$(psql -X -At -v ON_ERROR_STOP=1 --dbname=%s -c %s)" % (database_q, shlex.quote(USER_TABLES_SQL)),
            'if [ "$tables" != 0 ]; then echo "appsnap: database "%s" already holds $tables user table(s); replaying on top would mix data.'
            ' Empty it, or replay with the appsnap.velero.pg_replay role and pg_replay_clean=true." >&2; exit 4; fi' % database_q,
            replay,
            'echo "appsnap: replayed $source into "%s' % database_q,
        ]
    )
    hook = {
        "command": ["/bin/bash", "-c", script],
        "exec_timeout": validate_duration(exec_timeout, "exec_timeout"),
        "wait_timeout": validate_duration(wait_timeout, "wait_timeout"),
        "on_error": validate_on_error(on_error, "on_error"),
        "wait_for_ready": True,
    }
    if container is not None:
        hook["container"] = validate_dns1123_label(container, "container")
    return hook
