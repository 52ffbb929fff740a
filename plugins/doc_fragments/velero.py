# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection options are kubernetes.core's (kubernetes.core.k8s_auth_options), taken
    # from its argument spec (imported by module_utils/k8s_shim.py, assembled by module_utils/argspecs.py); each falls back to K8S_AUTH_*.
    DOCUMENTATION = r"""
options:
  velero_namespace:
    description:
      - The namespace Velero is installed in, where its Backups, Restores, Schedules and storage locations live.
    type: str
    default: velero
"""

    # Every module's attributes, notes and requirements; the Velero modules take DOCUMENTATION (velero_namespace) too.
    KUBERNETES = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
notes:
  - Every connection option falls back to its C(K8S_AUTH_*) environment variable, as in kubernetes.core, which is how
    AWX and AAP pass credentials. No kubeconfig is needed when C(K8S_AUTH_HOST) and C(K8S_AUTH_API_KEY) are set.
  - The modules talk to the Kubernetes API only; they never run C(kubectl) or the C(velero) CLI.
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 5.4
"""

    WAIT = r"""
options:
  wait:
    description:
      - Wait until the object reaches a terminal phase (Completed, PartiallyFailed, Failed or FailedValidation).
      - Waiting uses the Kubernetes watch API on C(status.phase). Any other phase, including one this collection does not
        know, counts as still running.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait. On timeout the task fails with the partial object in RV(result).
    type: int
    default: 1800
  fail_on_partial:
    description:
      - Fail when the object ends PartiallyFailed, not only when it ends Failed or FailedValidation.
      - On failure the message carries the hook and pod-volume error lines of Velero's log, fetched through a DownloadRequest.
    type: bool
    default: true
"""

    SELECTION = r"""
options:
  labels:
    description: Labels for the Velero object this task creates.
    type: dict
  included_namespaces:
    description: Namespaces to include. Velero's default is all namespaces.
    type: list
    elements: str
  excluded_namespaces:
    description: Namespaces to leave out.
    type: list
    elements: str
  included_resources:
    description: Resources to include, such as V(statefulsets.apps). Velero's default is all.
    type: list
    elements: str
  excluded_resources:
    description: Resources to leave out.
    type: list
    elements: str
  label_selector:
    description:
      - Only objects with these labels. A string V(app=postgresql,tier=db), a dict of labels, or a full LabelSelector
        with C(matchLabels)/C(matchExpressions).
    type: raw
  hooks:
    description:
      - Spec hooks, Velero's C(hooks) (C(spec.hooks) of a Backup or Restore, C(spec.template.hooks) of a Schedule), with a
        C(resources) list whose entries name the namespaces, label selector and hooks.
        P(appsnap.velero.backup_spec_hooks#filter) builds one for a backup from a hook such as
        P(appsnap.velero.pg_dump_hook#filter) returns.
      - For a backup or a schedule the structure is checked before anything is created, and the task fails naming the
        fix - unknown keys (the API server would drop a misspelt C(on_error) without a word, and Velero would use its
        default), an entry without C(name), an C(exec) without C(command), a command given as one string (Velero runs
        it without a shell; write a list), a C(timeout) that is not a Go duration with a unit, an C(onError) other than
        V(Fail) or V(Continue), resource filters that leave out pods (hooks run on pods only), a malformed label selector.
      - An exec hook without C(onError) is sent with V(Fail) - Velero's code treats an unset C(onError) as Continue,
        although its documentation says Fail. With V(Fail), a failed pre hook leaves the pod and its volumes out of the
        backup.
      - Pod annotation hooks (see P(appsnap.velero.backup_hooks#filter)) replace backup spec hooks for the pods that carry them.
      - Restore hooks are passed through unchecked.
    type: dict
"""

    SERVER = r"""
options:
  server_timeout:
    description:
      - Seconds to wait for the Velero server to answer the pre-flight ServerStatusRequest.
      - The server must report Velero 1.18.3 or newer (in check mode, the tag of the C(velero) Deployment's image), the
        oldest version this collection supports. Before 1.18.3 a restore whose post-restore exec hook never ran (pod
        evicted, container never ready) stayed in Finalizing for ever and held up every later restore until the Velero pod
        was restarted (velero-io/velero#9744, fixed by #10394). A version that cannot be read gives a warning.
    type: int
    default: 20
  velero_min_version:
    description:
      - The oldest Velero server to accept instead of 1.18.3 (see O(server_timeout) for why that is the floor).
      - A newer version makes the check stricter, for example to require the version a fleet was tested with.
      - An older one lets the module run against a Velero this collection does not support, with a warning that
        says what can go wrong; set it only while the upgrade is under way.
    type: str
"""

    BACKUP_TEMPLATE = r"""
options:
  ttl:
    description: How long Velero keeps a backup, a Go duration such as V(720h).
    type: str
  storage_location:
    description: The BackupStorageLocation to write to. Defaults to the one marked default.
    type: str
  default_volumes_to_fs_backup:
    description: Back up every pod volume with file-system backup unless excluded by annotation.
    type: bool
  snapshot_volumes:
    description: Take volume snapshots of persistent volumes.
    type: bool
  resource_policy:
    description:
      - The name of a resource-policy ConfigMap in O(velero_namespace), sent as the Backup's C(resourcePolicy).
      - P(appsnap.velero.fs_backup_policy#filter) builds one whose volume policy backs up emptyDir volumes with
        file-system backup, so that a dump volume is copied without the pod's C(backup.velero.io/backup-volumes)
        annotation.
      - Before the Backup or Schedule is created the ConfigMap must exist with one data key (Velero would fail the
        backup's validation otherwise), and when its policy has an C(fs-backup) action the C(node-agent) must be ready
        (see O(preflight_pods)).
    type: str
  include_cluster_resources:
    description:
      - Whether the backup holds cluster-scoped resources, sent as the Backup's C(includeClusterResources).
      - Unset, Velero decides as C(velero backup create) does without C(--include-cluster-resources) - every
        cluster-scoped resource when the backup covers all namespaces, otherwise only those that the namespaced items
        it backs up refer to (the PersistentVolumes of their claims). V(false) leaves out every cluster-scoped
        resource (then a restore into a new cluster lacks the PersistentVolumes); V(true) takes all of them, also
        for a backup of one namespace.
    type: bool
  volume_snapshot_locations:
    description:
      - The VolumeSnapshotLocations in O(velero_namespace) whose provider takes the snapshots of persistent volumes,
        at most one per provider. Unset, Velero uses the one location of each provider (or the server's default
        for a provider that has several).
      - Before the Backup or Schedule is created each must exist and no two may share a provider; Velero would fail
        the backup's validation otherwise. The message lists the locations that exist.
    type: list
    elements: str
  ordered_resources:
    description:
      - The order in which Velero backs up the objects of a resource, and so restores them, sent as the Backup's
        C(orderedResources). The key is the plural, lower-case resource name without its group (V(pods),
        V(persistentvolumeclaims), V(statefulsets)); Velero ignores any other key, so this fails on one. The value
        lists the objects as C(namespace/name), or C(name) for a cluster-scoped resource, as a list or a
        comma-separated string.
      - Objects it does not list follow in Velero's usual order.
    type: dict
"""

    BACKUP_PREFLIGHT = r"""
options:
  preflight_pods:
    description:
      - Before the Backup or Schedule is created, also in check mode, read the pods it covers, those in
        O(included_namespaces) (every namespace when unset; globs as Velero 1.18 reads them) less O(excluded_namespaces),
        matching O(label_selector), unless the resource filters leave pods out. Pods of Jobs that have finished are
        skipped.
      - M(appsnap.velero.backup) fails when one of them carries a backup hook annotation
        (C(pre.hook.backup.velero.io/command) or C(post.hook.backup.velero.io/command)) with C(on-error) V(Fail), or is
        selected by a hook of O(hooks) with C(onError) V(Fail) (for a phase its annotations do not set), and is
        not Running and Ready. Velero runs hooks only in running pods and fails the backup otherwise. The message names
        the pod, its phase and conditions. With C(on-error) V(Continue) (Velero's reading of an unset one) it warns
        instead. M(appsnap.velero.schedule) does not check this, since the pod may be ready by the time the schedule runs.
      - File-system backup is needed when O(default_volumes_to_fs_backup=true), when O(resource_policy) has an
        C(fs-backup) volume policy, or when one of these pods has the C(backup.velero.io/backup-volumes) annotation.
        Then the C(node-agent) DaemonSet in O(velero_namespace) must exist (C(velero install --use-node-agent)) and have
        every pod it schedules ready, at least one.
      - Set V(false) to skip reading pods, for example when the job may not list pods in the namespaces the backup
        covers. O(default_volumes_to_fs_backup=true) still checks the node-agent.
    type: bool
    default: true
"""
