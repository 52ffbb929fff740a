# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Velero Backup-spec hooks, and the file-system backup policy that goes with them.

For a pod template that must not be edited (an operator puts back whatever is
added to it), the hook goes into the Backup (``spec.hooks``, or a Schedule's
``spec.template.hooks``) instead of the pod's annotations, and the volume the
dump is written to is chosen by a resource policy instead of the pod's
``backup.velero.io/backup-volumes`` annotation.

What Velero's code does with them (pkg/apis/velero/v1/backup_types.go,
internal/hook/item_hook_handler.go, pkg/backup/backup.go, v1.18; where its
docs say otherwise, the code is what runs):

- hooks run on pods only. An entry of ``resources`` applies to a pod whose
  namespace it includes (none: every namespace) and does not exclude, whose
  resource its includedResources/excludedResources admit, and whose labels its
  ``labelSelector`` matches (none: every pod);
- a pod with hook annotations (``pre.hook.backup.velero.io/command``, or the
  legacy ``hook.backup.velero.io/command`` for pre hooks) runs those, and none
  of the spec's hooks;
- an exec hook without ``container`` runs in the pod's first container;
- a failing hook fails the pod only when its ``onError`` is ``Fail``; an unset
  ``onError`` is treated as Continue by the code, although the docs say Fail.
  A failed ``Fail`` pre hook stops the pod's remaining hooks and Velero leaves
  the pod, and its volumes, out of the backup;
- ``timeout`` is a Go duration, 30s when unset;
- the API server prunes fields that the CRD does not know (``on_error``,
  ``onerror``) unless the client asks for strict validation, so a misspelt key
  silently becomes Velero's default. Hence every key is checked here.

Nothing here talks to a cluster or imports Ansible; the backup and schedule
modules (checked_backup_spec, and the pre-flight through pod_backup_hooks)
and the filters share it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks
from ansible_collections.appsnap.velero.plugins.module_utils import validation
from ansible_collections.appsnap.velero.plugins.module_utils.velero import spec as velero_spec
from ansible_collections.appsnap.velero.plugins.module_utils.hooks.pod import normalize_backup_hook
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError, check_keys, validate_dns1123_label

PHASES = ("pre", "post")
_ENTRY_KEYS = ("name", "includedNamespaces", "excludedNamespaces", "includedResources", "excludedResources", "labelSelector") + PHASES
_LIST_KEYS = ("includedNamespaces", "excludedNamespaces", "includedResources", "excludedResources")

# Velero's SupportedVolume names (internal/resourcepolicies/volume_types_conditions.go). Velero does not check them:
# a misspelt type matches no volume, and the volume is silently not backed up.
VOLUME_TYPES = (
    "awsAzureDisk", "awsElasticBlockStore", "azureDisk", "azureFile", "cinder", "cephfs", "configMap", "csi", "downwardAPI",
    "emptyDir", "ephemeral", "fc", "flocker", "flexVolume", "gitRepo", "glusterfs", "gcePersistentDisk", "hostPath", "iscsi",
    "local", "nfs", "photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "secret", "storageOS",
    "vsphereVolume",
)
# Velero reads the one data key of the ConfigMap, whatever its name.
POLICY_KEY = "policies.yaml"


def _strings(value, what):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError("%s must be a list of non-empty strings, got %r." % (what, value))
    return [v.strip() for v in value]


def _exec_hook(item, what, require_container):
    """One ``{exec: {...}}`` of a pre or post list, in Velero's spelling, with onError always explicit."""
    check_keys(item, ("exec",), ("exec",), what)
    hook = normalize_backup_hook(item["exec"], what + ".exec", on_error_key="onError")
    if require_container and "container" not in hook:
        raise InputError(
            "%s.exec has no container: Velero would run it in the pod's first container, which in an operator's pod is "
            "often a sidecar. Name the database container (container='postgres')." % what
        )
    exec_hook = {"command": hook["command"], "onError": hook["on_error"]}
    for key in ("container", "timeout"):
        if key in hook:
            exec_hook[key] = hook[key]
    return {"exec": exec_hook}


def _admits_pods(entry, what):
    included, excluded = entry.get("includedResources") or [], entry.get("excludedResources") or []
    if not velero_spec.covers_pods(included, excluded):
        raise InputError(
            "%s would never run: Velero runs hooks on pods only, and includedResources %r / excludedResources %r leave pods out. "
            "Use includedResources: [pods], or leave both out." % (what, included, excluded)
        )


def _resource_entry(entry, what, require_container):
    check_keys(entry, _ENTRY_KEYS, ("name",), what)
    if not isinstance(entry["name"], str) or not entry["name"].strip():
        raise InputError("%s.name must be a non-empty string (Velero names the hook by it in the backup log), got %r." % (what, entry["name"]))
    checked = {"name": entry["name"].strip()}
    for key in _LIST_KEYS:
        if entry.get(key) is not None:
            checked[key] = _strings(entry[key], "%s.%s" % (what, key))
    _admits_pods(checked, what)
    if entry.get("labelSelector") is not None:
        checked["labelSelector"] = validation.label_selector(entry["labelSelector"], what + ".labelSelector")
    for phase in PHASES:
        hooks = entry.get(phase)
        if hooks is None:
            continue
        if not isinstance(hooks, list):
            raise InputError("%s.%s must be a list of {exec: {command: [...], container: ...}}, got %r." % (what, phase, hooks))
        checked[phase] = [_exec_hook(item, "%s.%s[%d]" % (what, phase, i), require_container) for i, item in enumerate(hooks)]
    if not checked.get("pre") and not checked.get("post"):
        raise InputError("%s has no hooks; add pre: [{exec: {command: [...], container: ...}}] (or post)." % what)
    return checked


def validate_spec_hooks(hooks, what="hooks", require_container=False):
    """A checked copy of a Backup's ``spec.hooks`` (``{resources: [...]}``); onError is filled in as Fail where unset.

    Raises InputError naming the key and the fix: unknown keys (the API server would drop them silently), an entry
    without a name, an exec without a command, a command given as one string, a bad duration or onError, a resource
    filter that leaves pods out, a malformed label selector.
    """
    if hooks is None:
        return None
    check_keys(hooks, ("resources",), (), what)
    resources = hooks.get("resources")
    if resources is None:
        return {}
    if not isinstance(resources, list):
        raise InputError("%s.resources must be a list of hook entries ({name, includedNamespaces, labelSelector, pre, post}), got %r." % (what, resources))
    return {"resources": [_resource_entry(entry, "%s.resources[%d]" % (what, i), require_container) for i, entry in enumerate(resources)]}


def checked_backup_spec(params):
    """A Backup's spec, or a Schedule's template, from the module options, its hooks checked: what backup and schedule send."""
    spec = velero_spec.backup_spec(params)
    if spec.get("hooks") is not None:
        spec["hooks"] = validate_spec_hooks(spec["hooks"])
    return spec


def pod_backup_hooks(hooks, pod):
    """The backup hooks Velero will run in a live pod, [{"phase", "on_error"}] as pod_hooks.live_backup_hooks.

    Per phase, the pod's annotations if it has that phase's hook, else every entry of the Backup's (checked) ``hooks``
    that selects the pod; on_error is Fail when any of that phase's hooks says Fail.
    """
    annotated = pod_hooks.live_backup_hooks(pod)
    metadata = pod.get("metadata") or {}
    found = dict((h["phase"], h["on_error"]) for h in annotated)
    for entry in (hooks or {}).get("resources") or []:
        if not (velero_spec.namespace_covered(metadata.get("namespace"), entry.get("includedNamespaces"), entry.get("excludedNamespaces"))
                and velero_spec.covers_pods(entry.get("includedResources"), entry.get("excludedResources"))
                and velero_spec.selector_matches(entry.get("labelSelector"), metadata.get("labels"))):
            continue
        for phase in PHASES:
            if any(h["phase"] == phase for h in annotated) or not entry.get(phase):
                continue
            fatal = found.get(phase) == "Fail" or any(item["exec"].get("onError") == "Fail" for item in entry[phase])
            found[phase] = "Fail" if fatal else "Continue"
    return [{"phase": phase, "on_error": found[phase]} for phase in PHASES if phase in found]


def backup_spec_hooks(hook, name, namespaces, label_selector, phase="pre"):
    """The ``hooks`` of a Backup (the backup and schedule modules' option) that runs ``hook`` in the pods selected.

    ``hook`` is a hook dict as pg_dump_hook returns it (command, container, timeout, on_error), or a list of them,
    run in order. Unlike the annotations, the selection is the Backup's: ``namespaces`` (a name or a list) and
    ``label_selector`` ('app=db,tier=x', a dict of labels, or a LabelSelector) are both required, since a spec hook
    without them runs in every pod the backup holds, and fails (leaving the pod out of the backup, with onError
    Fail) in each pod that lacks the container. The container is required for the same reason.
    """
    if phase not in PHASES:
        raise InputError("phase must be 'pre' or 'post', got %r." % (phase,))
    namespaces = _strings(namespaces, "namespaces") if namespaces not in (None, "", []) else []
    if not namespaces:
        raise InputError("namespaces is required: without it the hook runs in every namespace the backup holds. Name the database's namespace.")
    if not label_selector:
        raise InputError(
            "label_selector is required: without it the hook runs in every pod of %s, and fails in each pod without its "
            "container. Select the database's pods, for example 'app=postgresql'." % ", ".join(namespaces)
        )
    hooks = hook if isinstance(hook, list) else [hook]
    if not hooks:
        raise InputError("hook must be a hook dict (from appsnap.velero.pg_dump_hook, say) or a non-empty list of them.")
    execs = []
    for index, one in enumerate(hooks):
        # Checked in the filters' spelling (on_error) first, so that an error names the key as the caller wrote it.
        checked = normalize_backup_hook(one, "hook" if len(hooks) == 1 else "hook[%d]" % index)
        checked["onError"] = checked.pop("on_error")
        execs.append({"exec": checked})
    entry = {"name": name, "includedNamespaces": namespaces, "includedResources": ["pods"], "labelSelector": label_selector, phase: execs}
    return validate_spec_hooks({"resources": [entry]}, "backup_spec_hooks", require_container=True)


def fs_backup_policy(name, namespace="velero", volume_types=("emptyDir",)):
    """A resource-policy ConfigMap whose volume policy backs up every volume of ``volume_types`` with file-system backup.

    The Backup names it in ``spec.resourcePolicy`` (the modules' resource_policy option); it must be in Velero's
    namespace. Other volumes (the database's PVC) match no policy and keep Velero's usual rules: not copied by
    file-system backup unless annotated or defaultVolumesToFsBackup is set.
    """
    validate_dns1123_label(name, "name")
    validate_dns1123_label(namespace, "namespace")
    types = _strings(volume_types, "volume_types")
    if not types:
        raise InputError("volume_types must name at least one volume type, such as emptyDir.")
    for volume_type in types:
        if volume_type not in VOLUME_TYPES:
            close = [t for t in VOLUME_TYPES if t.lower() == volume_type.lower()]
            hint = "did you mean %r? " % close[0] if close else ""
            raise InputError(
                "volume_types entry %r is not a volume type Velero knows (it would match no volume, silently); %sthe types are %s."
                % (volume_type, hint, ", ".join(VOLUME_TYPES))
            )
    policy = "version: v1\nvolumePolicies:\n- conditions:\n    volumeTypes:\n%s  action:\n    type: fs-backup\n" % "".join(
        "    - %s\n" % t for t in types
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "appsnap.velero"}},
        "data": {POLICY_KEY: policy},
    }
