# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pre-flight: before any write, prove that Velero can do the work.

``Preflight``: the CRDs, the storage location, a running server of a supported version.
``WorkloadPreflight``: what a Backup covers, before it is created: hooked pods (by annotation
or by the Backup's spec hooks) that can run their hooks, the resource policy it names, and a
ready node-agent when file-system backup is needed.
The rules themselves (version, readiness) are plain functions, so unit tests reach them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import spec as spec_hooks
from ansible_collections.appsnap.velero.plugins.module_utils.velero import spec as velero_spec
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroError

# The oldest Velero this collection supports, and why. Before 1.18.3 the restore finalizer waited for
# post-restore exec hooks without a deadline: a hook that never ran (pod evicted, container never ready)
# left the Restore in Finalizing for ever, and every later restore queued behind it until the Velero pod
# was restarted (velero-io/velero#9744; fixed in 1.18.3 by #10394, which bounds the wait by the resource timeout).
MIN_VELERO_VERSION = (1, 18, 3)
MIN_VELERO_REASON = (
    "before 1.18.3 a restore whose post-restore exec hook never ran (pod evicted, container never ready) stayed in "
    "Finalizing for ever and held up every later restore until the Velero pod was restarted (velero-io/velero#9744, "
    "fixed in 1.18.3 by #10394)"
)

NODE_AGENT = "node-agent"

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text):
    """(major, minor, patch) of 'v1.18.3' or '1.18.3-rc.1' (a pre-release counts as its release), else None."""
    match = _VERSION.match((text or "").strip())
    return tuple(int(part) for part in match.groups()) if match else None


def image_tag(image):
    """The tag of an image reference ('velero/velero:v1.18.3@sha256:...' gives 'v1.18.3'), or None."""
    name, sep, tag = (image or "").split("@", 1)[0].rpartition(":")
    return tag if sep and name and "/" not in tag else None


def dotted(version):
    return ".".join(str(part) for part in version)


def version_problem(version, floor=MIN_VELERO_VERSION):
    """Why a Velero server of this version string cannot be used, or None when it is at least ``floor`` or unknown."""
    parsed = parse_version(version)
    if parsed is None or parsed >= floor:
        return None
    if floor != MIN_VELERO_VERSION:
        return "is Velero %s, older than %s, the velero_min_version set" % (version, dotted(floor))
    return "is Velero %s, older than %s, the oldest version this collection supports: %s" % (version, dotted(floor), MIN_VELERO_REASON)


def version_floor(min_version, warn):
    """The oldest Velero to accept: MIN_VELERO_VERSION, or the user's ``min_version``, with a warning when it is older."""
    if not min_version:
        return MIN_VELERO_VERSION
    floor = parse_version(min_version)
    if floor is None:
        raise VeleroError("velero_min_version must be a version such as 1.18.3, got %r." % (min_version,))
    if floor < MIN_VELERO_VERSION:
        warn(
            "velero_min_version %s accepts Velero older than %s, which this collection is not tested with and does not "
            "support: %s. Upgrade Velero and drop velero_min_version." % (min_version, dotted(MIN_VELERO_VERSION), MIN_VELERO_REASON)
        )
    return floor


class Preflight(object):
    """Fail fast, before any write, when Velero cannot do the work."""

    def __init__(self, client, waiter, warn=None):
        self.client = client
        self.waiter = waiter
        self.warn = warn or (lambda message: None)
        self.floor = MIN_VELERO_VERSION
        self.velero_version = None

    def run(self, storage_location=None, server_timeout=20, min_version=None):
        """Check the CRDs, the storage location and the server (at least ``min_version`` when set, see
        version_floor); return the BackupStorageLocation."""
        self.floor = version_floor(min_version, self.warn)
        client = self.client
        for kind in ("Backup", "Restore", "BackupStorageLocation"):
            client.resource(kind)
        name = storage_location or client.default_storage_location()
        bsl = client.get("BackupStorageLocation", name)
        if bsl is None:
            raise VeleroError(
                "BackupStorageLocation %r does not exist in namespace %s. Create it (velero backup-location create) "
                "or set storage_location to one of: %s." % (name, client.namespace, ", ".join(self._names("BackupStorageLocation")) or "none")
            )
        phase = (bsl.get("status") or {}).get("phase")
        if phase != "Available":
            message = (bsl.get("status") or {}).get("message") or "no message"
            raise VeleroError(
                "BackupStorageLocation %r is %s: %s. Fix its bucket, credentials or s3Url (kubectl -n %s describe "
                "backupstoragelocation %s)." % (name, phase or "not yet validated", message, client.namespace, name)
            )
        self.velero_version = self.server_answers(server_timeout)
        return bsl

    def _names(self, kind):
        return sorted(o["metadata"]["name"] for o in self.client.list(kind))

    def server_answers(self, timeout):
        """A ServerStatusRequest proves the Velero server is running; in check mode, the Deployment must be available.

        Either way the server must be of a supported version: the one it reports, in check mode its image's tag.
        """
        client = self.client
        if client.check_mode:
            deployment = client.get("Deployment", "velero", api_version="apps/v1")
            if deployment and int((deployment.get("status") or {}).get("availableReplicas") or 0) > 0:
                containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [{}]
                image = next((c.get("image") for c in containers if c.get("name") == "velero"), containers[0].get("image"))
                return self.check_version(image_tag(image), "the image of deployment %s/velero (%s)" % (client.namespace, image))
            raise VeleroError(
                "The Velero server is not running: deployment %s/velero has no available replica. Scale it up "
                "(kubectl -n %s scale deploy/velero --replicas=1) and check its logs." % (client.namespace, client.namespace)
            )
        request = client.create({"kind": "ServerStatusRequest", "metadata": {"generateName": "appsnap-"}, "spec": {}})
        name = request["metadata"]["name"]
        try:
            answered = self.waiter.watch_until("ServerStatusRequest", name, lambda o: (o.get("status") or {}).get("phase") == "Processed", timeout)
        finally:
            client.delete("ServerStatusRequest", name)
        if answered is None:
            raise VeleroError(
                "The Velero server is not answering: a ServerStatusRequest got no reply in %ds. Check that deployment "
                "%s/velero is running (kubectl -n %s get deploy velero; kubectl -n %s logs deploy/velero)."
                % (timeout, client.namespace, client.namespace, client.namespace)
            )
        return self.check_version(answered["status"].get("serverVersion"), "its ServerStatusRequest")

    def check_version(self, version, source):
        """Fail on a Velero older than MIN_VELERO_VERSION; warn when the version cannot be told. Returns it."""
        if parse_version(version) is None:
            self.warn(
                "Could not tell the Velero server's version from %s (%r); this collection supports Velero %s and newer."
                % (source, version, dotted(MIN_VELERO_VERSION))
            )
            return version
        problem = version_problem(version, self.floor)
        if problem:
            raise VeleroError(
                "The Velero server in namespace %s %s (version from %s). Upgrade the Velero server and its node-agent to "
                "v%s or newer (https://velero.io/docs/v1.18/upgrade-to-1.18/)." % (self.client.namespace, problem, source, dotted(self.floor))
            )
        return version


def pod_name(pod):
    metadata = pod.get("metadata") or {}
    return "%s/%s" % (metadata.get("namespace"), metadata.get("name"))


def finished_job_pod(pod):
    """A pod of a Job that has run to its end (Succeeded or Failed): nothing to wait for."""
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    return ((pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")) and any(o.get("kind") == "Job" for o in owners)


def pod_not_ready(pod):
    """Why a pod cannot run an exec hook now ('Pending', 'Running, Ready=False (ContainersNotReady: ...)'), or None."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    conditions = status.get("conditions") or []
    if phase == "Running" and any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
        return None
    unmet = []
    not_ready = any(c.get("type") == "Ready" and c.get("status") != "True" for c in conditions)
    for condition in conditions:
        # ContainersReady says again what Ready says.
        if condition.get("status") != "True" and not (not_ready and condition.get("type") == "ContainersReady"):
            detail = ": ".join(x for x in (condition.get("reason"), condition.get("message")) if x)
            unmet.append("%s=%s%s" % (condition.get("type"), condition.get("status"), " (%s)" % detail if detail else ""))
    return ", ".join([phase] + unmet)


def node_agent_problem(daemonset):
    """What keeps an existing node-agent DaemonSet from running file-system backups, or None when all its pods are ready."""
    status = (daemonset or {}).get("status") or {}
    desired, ready = int(status.get("desiredNumberScheduled") or 0), int(status.get("numberReady") or 0)
    if desired == 0:
        return "it has no pod on any node (desiredNumberScheduled 0): check its nodeSelector, affinity and tolerations"
    if ready < desired:
        return "only %d of its %d pods are ready" % (ready, desired)
    return None


class WorkloadPreflight(object):
    """Fail fast, before a Backup or Schedule is created, when what it covers would make it fail."""

    def __init__(self, client, warn=None):
        self.client = client
        self.warn = warn or (lambda message: None)

    def run(self, spec, read_pods=True, hooks=True):
        """Check the snapshot locations a Backup spec names, the pods it covers (``hooks``: that hooked ones are ready)
        and the node-agent it needs."""
        self.check_snapshot_locations(spec.get("volumeSnapshotLocations"))
        pods = self.pods_in_scope(spec) if read_pods else []
        if hooks:
            self.check_hooked_pods(pods, spec.get("hooks"))
        reasons = ["default_volumes_to_fs_backup is true"] if spec.get("defaultVolumesToFsBackup") else []
        if spec.get("resourcePolicy") and self.policy_copies_volumes(spec["resourcePolicy"]["name"]):
            reasons.append("resource_policy %s has an fs-backup volume policy" % spec["resourcePolicy"]["name"])
        opted = ["%s (%s)" % (pod_name(p), ",".join(pod_hooks.live_fs_backup_volumes(p))) for p in pods if pod_hooks.live_fs_backup_volumes(p)]
        if opted:
            more = " and %d more" % (len(opted) - 3) if len(opted) > 3 else ""
            reasons.append("pod%s %s opted in with %s" % ("s" if len(opted) > 1 else "", ", ".join(opted[:3]) + more, pod_hooks.BACKUP_VOLUMES_ANNOTATION))
        if reasons:
            self.check_node_agent("; ".join(reasons))

    def pods_in_scope(self, spec):
        """The live pods a Backup with this spec covers, less the pods of finished Jobs."""
        if not velero_spec.covers_pods(spec.get("includedResources"), spec.get("excludedResources")):
            return []
        namespaces = velero_spec.literal_namespaces(spec.get("includedNamespaces"))
        try:
            if namespaces is None:
                pods = self.client.list("Pod", api_version="v1", all_namespaces=True)
            else:
                pods = [pod for namespace in namespaces for pod in self.client.list("Pod", namespace=namespace, api_version="v1")]
        except VeleroError as exc:
            raise VeleroError(exc.msg + " Or set preflight_pods: false to skip the checks of the pods the backup covers.")
        selector = spec.get("labelSelector")
        return [
            pod for pod in pods
            if velero_spec.namespace_covered(pod["metadata"]["namespace"], spec.get("includedNamespaces"), spec.get("excludedNamespaces"))
            and (not selector or velero_spec.selector_matches(selector, pod["metadata"].get("labels")))
            and not finished_job_pod(pod)
        ]

    def existing(self, kind, name, api_version, missing):
        """The object ``name`` of ``kind`` in Velero's namespace; a VeleroError saying ``missing`` when there is none."""
        obj = self.client.get(kind, name, api_version=api_version)
        if obj is None:
            raise VeleroError(missing)
        return obj

    def config_map_document(self, option, name, fix):
        """The one data value of the ConfigMap ``name`` in Velero's namespace that ``option`` names; Velero fails a backup's or
        restore's validation when it is missing or holds another number of keys, so this fails first, naming ``fix``."""
        namespace = self.client.namespace
        config_map = self.existing("ConfigMap", name, "v1", (
            "%s %r names no ConfigMap in namespace %s; Velero would fail the validation. %s" % (option, name, namespace, fix)
        ))
        data = config_map.get("data") or {}
        if len(data) != 1:
            raise VeleroError(
                "ConfigMap %s/%s holds %d data keys; Velero reads a %s only from a ConfigMap with exactly one. "
                "Keep its YAML under one key." % (namespace, name, len(data), option.replace("_", " "))
            )
        return list(data.values())[0] or ""

    def policy_copies_volumes(self, name):
        """Whether the resource-policy ConfigMap ``name`` has an fs-backup volume policy; fails when Velero could not read it."""
        document = self.config_map_document(
            "resource_policy", name, "Create it (appsnap.velero.fs_backup_policy builds one that copies emptyDir volumes) or drop resource_policy."
        )
        return re.search(r"type:\s*[\x22']?fs-backup", document) is not None

    def check_hooked_pods(self, pods, hooks=None):
        """Velero runs a pod's backup hooks only in a running pod: a fatal hook (on-error Fail) fails the backup.

        A pod's hooks are its annotations, or the entries of the Backup's ``hooks`` that select it (spec_hooks).
        """
        fatal, tolerated = [], []
        for pod in pods:
            hooks_of_pod = spec_hooks.pod_backup_hooks(hooks, pod)
            problem = pod_not_ready(pod) if hooks_of_pod else None
            if problem:
                entry = "pod %s (%s hook) is %s" % (pod_name(pod), " and ".join(h["phase"] for h in hooks_of_pod), problem)
                (fatal if any(h["on_error"] == "Fail" for h in hooks_of_pod) else tolerated).append((pod["metadata"], entry))
        for _metadata, entry in tolerated:
            self.warn("%s; its backup hook (on-error Continue) will fail and the backup will go on without it." % entry)
        if fatal:
            first = fatal[0][0]
            raise VeleroError(
                "The backup's hooks would fail: %s. Velero runs a hook only in a running pod, and in one that is not Ready "
                "the application the hook talks to is not up either; with on-error Fail that fails the backup. Wait until "
                "the pod is Running and Ready (kubectl -n %s wait --for=condition=Ready pod/%s), or leave it out of the "
                "backup (excluded_namespaces, a label_selector it does not match, or remove its hook annotations or the "
                "spec hook that selects it); preflight_pods: false skips this check." % ("; ".join(e for _m, e in fatal), first["namespace"], first["name"])
            )

    def check_snapshot_locations(self, names):
        """Velero fails a backup's validation when a named VolumeSnapshotLocation is missing, or two share a provider."""
        by_provider = {}
        for name in names or []:
            location = self.client.get("VolumeSnapshotLocation", name)
            if location is None:
                known = sorted(o["metadata"]["name"] for o in self.client.list("VolumeSnapshotLocation"))
                raise VeleroError(
                    "volume_snapshot_locations names %r, but namespace %s has no such VolumeSnapshotLocation; Velero would "
                    "fail the backup's validation. Create it (velero snapshot-location create) or name one of: %s."
                    % (name, self.client.namespace, ", ".join(known) or "none")
                )
            named = by_provider.setdefault((location.get("spec") or {}).get("provider"), [])
            if name not in named:
                named.append(name)
        for provider, named in sorted(by_provider.items(), key=lambda item: str(item[0])):
            if len(named) > 1:
                raise VeleroError(
                    "volume_snapshot_locations names %s, all of provider %s; Velero takes one location per provider and "
                    "would fail the backup's validation. Keep one of them." % (", ".join(named), provider)
                )

    def check_node_agent(self, why):
        """File-system backup runs in the node-agent DaemonSet: it must exist and every one of its pods be ready."""
        namespace = self.client.namespace
        daemonset = self.existing("DaemonSet", NODE_AGENT, "apps/v1", (
            "This backup needs file-system backup (%s), but the node-agent DaemonSet %s/%s does not exist. Install it: "
            "velero install --use-node-agent (with the flags of the first install)." % (why, namespace, NODE_AGENT)
        ))
        problem = node_agent_problem(daemonset)
        if problem:
            raise VeleroError(
                "This backup needs file-system backup (%s), but the node-agent DaemonSet %s/%s is not ready: %s. Wait for it "
                "(kubectl -n %s rollout status daemonset/%s) or look at its pods (kubectl -n %s get pods -l name=%s)."
                % (why, namespace, NODE_AGENT, problem, namespace, NODE_AGENT, namespace, NODE_AGENT)
            )
