# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the snapshot, restore and pg_replay roles work on: a workload's pods, the container in each, the namespaces of a backup."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import all_filters

F = all_filters()
HOOK_CONTAINER = "pre.hook.backup.velero.io/container"


def workload(kind="StatefulSet", selector=None):
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "shop-db", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "shop-db"}} if selector is None else selector}}


def pod(name, namespace="shop", containers=("metrics", "postgres"), hook_container=None, phase="Running", deleting=False):
    metadata = {"name": name, "namespace": namespace, "annotations": {}}
    if hook_container:
        metadata["annotations"][HOOK_CONTAINER] = hook_container
    if deleting:
        metadata["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {"kind": "Pod", "metadata": metadata, "spec": {"containers": [{"name": c} for c in containers]}, "status": {"phase": phase}}


@pytest.mark.parametrize("kind", ["StatefulSet", "Deployment", "ReplicaSet", "DaemonSet"])
def test_a_workloads_pods_are_its_match_labels(kind):
    assert F["pod_selector"](workload(kind)) == ["app=shop-db"]


def test_match_expressions_follow_the_labels_in_the_apis_syntax():
    selector = {
        "matchLabels": {"app": "db", "app.kubernetes.io/part-of": "shop"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["primary", "replica"]},
            {"key": "canary", "operator": "NotIn", "values": ["true"]},
            {"key": "managed", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert F["pod_selector"](workload(selector=selector)) == [
        "app=db", "app.kubernetes.io/part-of=shop", "tier in (primary,replica)", "canary notin (true)", "managed", "!legacy"]
    assert F["pod_selector"](workload(selector={"matchExpressions": [{"key": "app", "operator": "Exists"}]})) == ["app"]


@pytest.mark.parametrize("obj, fragment", [
    (workload(selector={}), "would select every pod"),
    (dict(workload(), spec={}), "has no spec.selector"),
    (workload(selector={"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}), "with no values"),
    (workload(selector={"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}), "In, NotIn, Exists and DoesNotExist"),
    (workload(selector={"matchExpressions": [{"operator": "Exists"}]}), "without a key"),
    (workload("Job"), "StatefulSet or Deployment or ReplicaSet or DaemonSet"),
    ("shop-db", "got str"),
])
def test_a_selector_that_names_no_pods_or_all_is_refused(obj, fragment):
    with pytest.raises(AnsibleFilterError, match="pod_selector") as err:
        F["pod_selector"](obj)
    assert fragment in str(err.value)


def test_the_container_is_the_named_one_else_the_hooks_else_the_first():
    pods = [pod("shop-db-0", hook_container="postgres"), pod("plain-0", containers=("postgresql",))]
    assert F["pod_targets"](pods) == [
        {"namespace": "shop", "pod": "plain-0", "container": "postgresql"},
        {"namespace": "shop", "pod": "shop-db-0", "container": "postgres"},
    ]
    assert [t["container"] for t in F["pod_targets"]([pod("shop-db-0", hook_container="postgres")], container="metrics")] == ["metrics"]
    # Velero runs a hook that names no container in the first one.
    assert F["pod_targets"]([pod("shop-db-0")], container="")[0]["container"] == "metrics"


def test_a_container_the_pod_lacks_is_named_with_the_ones_it_has():
    with pytest.raises(AnsibleFilterError) as err:
        F["pod_targets"]([pod("shop-db-0")], container="postgresql")
    assert "Container 'postgresql' is not a container of pod shop/shop-db-0; its containers are 'metrics', 'postgres'." in str(err.value)
    with pytest.raises(AnsibleFilterError) as err:
        F["pod_targets"]([pod("shop-db-0", hook_container="gone")])
    assert "named by its %s annotation" % HOOK_CONTAINER in str(err.value)


def test_pods_come_in_the_order_of_the_namespaces_then_by_name_and_only_running_ones():
    pods = [pod("db-1", "b"), pod("db-0", "b"), pod("db-0", "a"), pod("old", "a", deleting=True), pod("new", "a", phase="Pending")]
    assert [(t["namespace"], t["pod"]) for t in F["pod_targets"](pods, namespaces=["b", "a"])] == [("b", "db-0"), ("b", "db-1"), ("a", "db-0")]


def test_no_running_pod_in_a_namespace_fails_naming_what_was_looked_for():
    with pytest.raises(AnsibleFilterError) as err:
        F["pod_targets"]([pod("db-0", "a"), pod("db-0", "b", phase="Pending"), pod("db-1", "b", deleting=True)],
                         namespaces=["a", "b"], what="StatefulSet db")
    message = str(err.value)
    assert "No running pod of StatefulSet db in namespace b; not running: b/db-0 (Pending), b/db-1 (terminating)." in message
    with pytest.raises(AnsibleFilterError, match="No running pod of pod postgresql-0 in namespace shop. Check"):
        F["pod_targets"]([], namespaces="shop", what="pod postgresql-0")
    with pytest.raises(AnsibleFilterError, match="No running pod of pods in any namespace"):
        F["pod_targets"]([])


@pytest.mark.parametrize("args, kwargs, fragment", [
    ("not pods", {}, "pods must be a list of Pods"),
    ([], {"namespaces": []}, "non-empty list"),
    ([], {"namespaces": ["a", "a"]}, "lists a more than once"),
    ([], {"namespaces": ["Shop"]}, "not a valid DNS-1123 label"),
    ([], {"container": "Postgres"}, "container 'Postgres' is not a valid DNS-1123 label"),
])
def test_bad_input_is_refused(args, kwargs, fragment):
    with pytest.raises(AnsibleFilterError) as err:
        F["pod_targets"](args, **kwargs)
    assert fragment in str(err.value)


def test_one_namespace_keeps_the_old_label_and_several_get_one_label_each():
    assert F["namespace_labels"]("shop") == {"namespace.appsnap.velero/shop": "true", "appsnap.velero/namespace": "shop"}
    assert F["namespace_labels"](["shop", "stock"]) == {"namespace.appsnap.velero/shop": "true", "namespace.appsnap.velero/stock": "true"}
    assert F["namespace_selector"](["shop"]) == "appsnap.velero/namespace=shop"
    assert F["namespace_selector"](["shop", "stock"]) == "namespace.appsnap.velero/shop=true,namespace.appsnap.velero/stock=true"


def _matches(selector, labels):
    """A label selector of equalities, parsed as the backup_info module parses it, applied as the API server does."""
    from ansible_collections.appsnap.velero.plugins.module_utils.velero import spec as velero_spec

    wanted = velero_spec.label_selector(selector)["matchLabels"]
    return all(labels.get(key) == value for key, value in wanted.items())


@pytest.mark.parametrize("backup, wanted, found", [
    (["shop"], ["shop"], True),
    (["shop", "stock"], ["shop", "stock"], True),
    (["shop", "stock", "web"], ["stock", "shop"], True),
    (["shop"], ["shop", "stock"], False),
    (["stock"], ["shop"], False),
    # A single namespace is found by its old label, which a backup of several does not carry.
    (["shop", "stock"], ["shop"], False),
])
def test_the_selector_finds_the_backups_the_labels_mark(backup, wanted, found):
    assert _matches(F["namespace_selector"](wanted), F["namespace_labels"](backup)) is found


def hooked_pod(opted="appsnap-backup", mounts=(("data", "/var/lib/postgresql/data"), ("appsnap-backup", "/backup"))):
    """A pod whose postgres container mounts ``mounts`` and which opts ``opted`` into file-system backup."""
    obj = pod("shop-db-0", containers=("metrics", "postgres"), hook_container="postgres")
    obj["spec"]["containers"][1]["volumeMounts"] = [{"name": n, "mountPath": p} for n, p in mounts]
    obj["spec"]["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"}]
    if opted is not None:
        obj["metadata"]["annotations"]["backup.velero.io/backup-volumes"] = opted
    return obj


def test_the_dump_volume_is_the_one_the_pod_opts_in_and_the_container_mounts():
    # The pg_hook role's volume and the postgres role's are named differently; the pod says which it is.
    assert F["pod_targets"]([hooked_pod()], volume="") == [
        {"namespace": "shop", "pod": "shop-db-0", "container": "postgres", "volume": "appsnap-backup", "mount_path": "/backup"}]
    # Another container's opted-in volume is not the dump's.
    assert F["pod_targets"]([hooked_pod(opted="scratch,appsnap-backup")], volume="")[0]["volume"] == "appsnap-backup"
    # Without the option, targets are as before.
    assert "volume" not in F["pod_targets"]([hooked_pod()])[0]


def test_a_named_dump_volume_must_be_mounted_in_the_container():
    # Spec hooks opt nothing in: the volume is named, and it need not be in the annotation.
    assert F["pod_targets"]([hooked_pod(opted=None)], volume="data")[0]["mount_path"] == "/var/lib/postgresql/data"
    with pytest.raises(AnsibleFilterError, match="Volume 'scratch' is not mounted in container 'postgres' of pod shop/shop-db-0; "
                                                 "its mounts are 'appsnap-backup' at /backup, 'data' at /var/lib/postgresql/data"):
        F["pod_targets"]([hooked_pod()], volume="scratch")


@pytest.mark.parametrize("opted, fragment", [
    (None, "? The pod has no backup.velero.io/backup-volumes annotation to say so."),
    ("scratch", "? Its backup.velero.io/backup-volumes annotation names 'scratch', none of them mounted there."),
    ("data,appsnap-backup", "? Its backup.velero.io/backup-volumes annotation names 'data', 'appsnap-backup', all mounted there."),
])
def test_a_dump_volume_the_pod_does_not_make_clear_asks_for_its_name(opted, fragment):
    with pytest.raises(AnsibleFilterError, match="Which volume holds the dump in container 'postgres' of pod shop/shop-db-0") as err:
        F["pod_targets"]([hooked_pod(opted=opted)], volume="")
    assert fragment in str(err.value) and "or name the volume" in str(err.value)
