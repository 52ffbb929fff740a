# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the snapshot, restore and pg_replay roles work on: the namespaces a backup holds, and the PostgreSQL pods in them.

The pods role reads a workload (or takes a label selector, or a pod name) in each namespace with
kubernetes.core.k8s_info, then turns what it read into one target per pod here: the namespace, the pod and
the container its hook runs in. The snapshot role labels a Backup with the namespaces it holds, and the restore
role finds the newest Backup of the same namespaces by those labels. Pure functions; nothing here talks to a
cluster or imports Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appsnap.velero.plugins.module_utils.hooks.pod import BACKUP_HOOK_PREFIXES, BACKUP_VOLUMES_ANNOTATION, live_fs_backup_volumes
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError, validate_dns1123_label

# The workload kinds whose pods are found through spec.selector.
SELECTOR_KINDS = ("StatefulSet", "Deployment", "ReplicaSet", "DaemonSet")
# A LabelSelector's operators, as kubectl and the API's label_selector query write them.
_OPERATORS = {"In": "in", "NotIn": "notin"}
# The container Velero runs a pre-backup hook in; without it, Velero uses the pod's first container.
HOOK_CONTAINER_ANNOTATION = BACKUP_HOOK_PREFIXES["pre"] + "container"
# The label that names the one namespace of a backup (as before several namespaces), and one label per namespace.
NAMESPACE_LABEL = "appsnap.velero/namespace"
NAMESPACE_LABEL_PREFIX = "namespace.appsnap.velero/"


def check_namespaces(namespaces):
    """A non-empty list of distinct namespace names (a single name is a list of one)."""
    if isinstance(namespaces, str):
        namespaces = [namespaces]
    if not isinstance(namespaces, (list, tuple)) or not namespaces:
        raise InputError("namespaces must be a namespace name or a non-empty list of names, got %r." % (namespaces,))
    names = [validate_dns1123_label(name, "namespace") for name in namespaces]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise InputError("namespaces lists %s more than once; name each namespace once." % ", ".join(twice))
    return names


# ---------------------------------------------------------------------------
# Finding the pods
# ---------------------------------------------------------------------------


def _match_expression(expression, workload):
    if not isinstance(expression, dict) or not isinstance(expression.get("key"), str) or not expression["key"]:
        raise InputError("%s has a matchExpressions entry without a key: %r." % (workload, expression))
    key, operator, values = expression["key"], expression.get("operator"), expression.get("values") or []
    if operator in _OPERATORS:
        if not values:
            raise InputError("%s selects %s %s with no values." % (workload, key, operator))
        return "%s %s (%s)" % (key, _OPERATORS[operator], ",".join(str(v) for v in values))
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return "!" + key
    raise InputError("%s has matchExpressions operator %r for %s; Kubernetes knows In, NotIn, Exists and DoesNotExist." % (workload, operator, key))


def pod_selector(workload):
    """The label selectors, one requirement each, that find the pods of a StatefulSet, Deployment, ReplicaSet or DaemonSet.

    They are the workload's ``spec.selector`` (``matchLabels`` then ``matchExpressions``), written as
    kubernetes.core.k8s_info's ``label_selectors`` takes them: ``app=db``, ``tier in (a,b)``, ``tier notin (c)``,
    ``key`` and ``!key``. A workload that selects nothing, or every pod, raises InputError.
    """
    if not isinstance(workload, dict) or workload.get("kind") not in SELECTOR_KINDS:
        kind = workload.get("kind") if isinstance(workload, dict) else type(workload).__name__
        raise InputError("pod_selector takes a %s as read from the API, got %s." % (" or ".join(SELECTOR_KINDS), kind))
    what = "%s %s" % (workload["kind"], (workload.get("metadata") or {}).get("name") or "<unnamed>")
    selector = (workload.get("spec") or {}).get("selector")
    if not isinstance(selector, dict):
        raise InputError("%s has no spec.selector, so it names no pods." % what)
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, dict):
        raise InputError("%s has a spec.selector.matchLabels that is not a map: %r." % (what, labels))
    requirements = ["%s=%s" % (key, value) for key, value in labels.items()]
    requirements += [_match_expression(e, what) for e in selector.get("matchExpressions") or []]
    if not requirements:
        raise InputError("%s has an empty spec.selector, which would select every pod in the namespace." % what)
    return requirements


def _pod_state(pod):
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "terminating"
    return (pod.get("status") or {}).get("phase") or "Unknown"


def _container_of(pod, container):
    metadata = pod.get("metadata") or {}
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
    if container:
        how = " is not a container of"
    else:
        container = (metadata.get("annotations") or {}).get(HOOK_CONTAINER_ANNOTATION) or (names[0] if names else None)
        how = ", named by its %s annotation, is not a container of" % HOOK_CONTAINER_ANNOTATION
    if container not in names:
        raise InputError(
            "Container %r%s pod %s/%s; its containers are %s."
            % (container, how, metadata.get("namespace"), metadata.get("name"), ", ".join(repr(n) for n in names) or "none")
        )
    return container


def _dump_volume(pod, container, volume):
    """The volume that holds the dump in ``container``, and where it is mounted: ``volume`` or the pod's own opt-in."""
    metadata = pod.get("metadata") or {}
    where = "container %r of pod %s/%s" % (container, metadata.get("namespace"), metadata.get("name"))
    spec = next(c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict) and c.get("name") == container)
    mounts = dict((m.get("name"), m.get("mountPath")) for m in spec.get("volumeMounts") or [] if isinstance(m, dict))
    if volume:
        if volume not in mounts:
            raise InputError(
                "Volume %r is not mounted in %s; its mounts are %s. Name the volume that holds the dump."
                % (volume, where, ", ".join("%r at %s" % (n, p) for n, p in sorted(mounts.items())) or "none")
            )
        return volume, mounts[volume]
    opted = live_fs_backup_volumes(pod)
    candidates = [name for name in opted if name in mounts]
    if len(candidates) != 1:
        if not opted:
            found = "the pod has no %s annotation to say so" % BACKUP_VOLUMES_ANNOTATION
        elif candidates:
            found = "its %s annotation names %s, all mounted there" % (BACKUP_VOLUMES_ANNOTATION, ", ".join(repr(n) for n in candidates))
        else:
            found = "its %s annotation names %s, none of them mounted there" % (BACKUP_VOLUMES_ANNOTATION, ", ".join(repr(n) for n in opted))
        raise InputError(
            "Which volume holds the dump in %s? %s. Hook the workload (appsnap.velero.hook), or name the volume." % (where, found[0].upper() + found[1:])
        )
    return candidates[0], mounts[candidates[0]]


def pod_targets(pods, namespaces=None, container=None, what="pods", volume=None):
    """One target per running pod, ``{"namespace", "pod", "container"}``, in the order of ``namespaces``, then by pod name.

    ``pods`` are Pods as kubernetes.core.k8s_info returns them, from one or more namespaces. A pod that is
    terminating or not Running is left out, as Velero runs no hook in it. The container is ``container`` when
    given, else the one the pod's pre-backup hook names (the ``pre.hook.backup.velero.io/container`` annotation the
    pg_hook role writes), else the pod's first container, where Velero runs a hook that names none; a container the
    pod does not have raises InputError. When ``namespaces`` is given, each of them must hold a running pod;
    ``what`` (such as "StatefulSet shop-db") names what was looked for in the error.

    With ``volume`` (a string), each target also has ``volume`` and ``mount_path``: the volume that holds the dump and
    where the container mounts it. An empty string means the pod says: the one volume of its
    ``backup.velero.io/backup-volumes`` annotation (which the pg_hook role and the backup_volume filter write) mounted
    in the container; none, or several, raises InputError asking for the name. A named volume must be mounted in the
    container.
    """
    if not isinstance(pods, (list, tuple)) or not all(isinstance(p, dict) for p in pods):
        raise InputError("pods must be a list of Pods as read from the API, got %r." % (pods,))
    if container is not None and container != "":
        validate_dns1123_label(container, "container")
    order = check_namespaces(namespaces) if namespaces is not None else []
    running, others = [], []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        state = _pod_state(pod)
        entry = {"namespace": metadata.get("namespace") or "", "pod": metadata.get("name") or ""}
        if state == "Running":
            entry["container"] = _container_of(pod, container)
            if volume is not None:
                entry["volume"], entry["mount_path"] = _dump_volume(pod, entry["container"], volume)
            running.append(entry)
        else:
            others.append("%s/%s (%s)" % (entry["namespace"], entry["pod"], state))
    lacking = [n for n in order if not any(t["namespace"] == n for t in running)]
    if lacking or not running:
        where = "namespace %s" % ", ".join(lacking) if lacking else "any namespace"
        found = "; not running: %s" % ", ".join(others) if others else ""
        raise InputError(
            "No running pod of %s in %s%s. Check the namespace and what names the pods (a workload, a label selector or a pod name)."
            % (what, where, found)
        )
    position = dict((n, i) for i, n in enumerate(order))
    return sorted(running, key=lambda t: (position.get(t["namespace"], len(order)), t["namespace"], t["pod"]))


# ---------------------------------------------------------------------------
# The namespaces a backup holds
# ---------------------------------------------------------------------------


def namespace_labels(namespaces):
    """The labels that tell which namespaces a Backup holds: ``namespace.appsnap.velero/<name>: "true"`` per namespace.

    A backup of one namespace also gets ``appsnap.velero/namespace: <name>``, the label backups had before they could
    hold several, so namespace_selector finds old and new backups alike.
    """
    names = check_namespaces(namespaces)
    labels = dict((NAMESPACE_LABEL_PREFIX + name, "true") for name in names)
    if len(names) == 1:
        labels[NAMESPACE_LABEL] = names[0]
    return labels


def namespace_selector(namespaces):
    """The label selector of the Backups that hold all of ``namespaces``, as namespace_labels labels them.

    One namespace: ``appsnap.velero/namespace=<name>`` (backups of that namespace alone, old and new); several:
    ``namespace.appsnap.velero/<name>=true`` for each, equality only, as the backup_info and restore modules take it.
    """
    names = check_namespaces(namespaces)
    if len(names) == 1:
        return "%s=%s" % (NAMESPACE_LABEL, names[0])
    return ",".join("%s%s=true" % (NAMESPACE_LABEL_PREFIX, name) for name in names)
