# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pre-flight rules without a cluster: the oldest supported Velero, pod readiness for hooks, the node-agent, and
which pods a Backup covers. The Kubernetes reads are replaced by a dict; tests/integration/modules produces each
failure for real on the lab (except an old Velero: the lab's is not downgraded)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks
from ansible_collections.appsnap.velero.plugins.module_utils.velero import spec as velero_spec
from ansible_collections.appsnap.velero.plugins.module_utils.velero import preflight as vp
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroClient, VeleroError


class FakeClient(object):
    """A VeleroClient over a dict (kind, namespace, name) -> object; records the pod lists it was asked for."""

    namespace = "velero"
    # The real client's lookup, over this client's list().
    default_storage_location = VeleroClient.default_storage_location

    def __init__(self, objects=(), check_mode=False, forbid_pods=False):
        self.objects = {(o["kind"], o["metadata"].get("namespace", "velero"), o["metadata"]["name"]): o for o in objects}
        self.check_mode = check_mode
        self.forbid_pods = forbid_pods
        self.pod_lists = []
        self.deleted = []

    def get(self, kind, name, namespace=None, api_version=None):
        return self.objects.get((kind, namespace or self.namespace, name))

    def list(self, kind, namespace=None, label_selector=None, api_version=None, all_namespaces=False):
        if kind == "Pod":
            self.pod_lists.append(None if all_namespaces else namespace)
            if self.forbid_pods:
                raise VeleroError("Permission denied: cannot list Pod in namespace %s." % namespace)
        return [o for (k, ns, _n), o in sorted(self.objects.items()) if k == kind and (all_namespaces or ns == (namespace or self.namespace))]

    def create(self, definition):
        return dict(definition, metadata=dict(definition["metadata"], name="appsnap-1"))

    def delete(self, kind, name):
        self.deleted.append((kind, name))


class AnsweringWaiter(object):
    def __init__(self, version):
        self.version = version

    def watch_until(self, kind, name, done, timeout):
        return {"metadata": {"name": name}, "status": {"phase": "Processed", "serverVersion": self.version}}


def pod(name, namespace="app", phase="Running", ready=True, annotations=None, labels=None, owner=None, conditions=None):
    if conditions is None:
        conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    metadata = {"name": name, "namespace": namespace, "annotations": annotations or {}, "labels": labels or {}}
    if owner:
        metadata["ownerReferences"] = [{"kind": owner, "name": "owner"}]
    return {"kind": "Pod", "metadata": metadata, "status": {"phase": phase, "conditions": conditions}}


def node_agent(desired=1, ready=1):
    return {"kind": "DaemonSet", "metadata": {"name": "node-agent"}, "status": {"desiredNumberScheduled": desired, "numberReady": ready}}


def deployment(image, available=1):
    return {"kind": "Deployment", "metadata": {"name": "velero"}, "status": {"availableReplicas": available},
            "spec": {"template": {"spec": {"containers": [{"name": "velero", "image": image}]}}}}


PRE_FAIL = {"pre.hook.backup.velero.io/command": '["/bin/true"]', "pre.hook.backup.velero.io/on-error": "Fail"}
FSB = {"backup.velero.io/backup-volumes": "data"}


# --- the oldest supported Velero -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("v1.18.3", (1, 18, 3)), ("1.18.3", (1, 18, 3)), ("v1.18.3-rc.1", (1, 18, 3)), ("v1.19.0+abc", (1, 19, 0)),
    ("v2.0.0", (2, 0, 0)), ("main", None), ("", None), (None, None), ("v1.18", None),
])
def test_parse_version(text, expected):
    assert vp.parse_version(text) == expected


@pytest.mark.parametrize("image,tag", [
    ("velero/velero:v1.18.3", "v1.18.3"), ("localhost/appsnap/velero:v1.18.3", "v1.18.3"),
    ("registry:5000/velero/velero:v1.17.2", "v1.17.2"), ("velero/velero:v1.18.3@sha256:abc", "v1.18.3"),
    ("registry:5000/velero/velero", None), ("velero/velero@sha256:abc", None), ("velero", None), (None, None),
])
def test_image_tag(image, tag):
    assert vp.image_tag(image) == tag


@pytest.mark.parametrize("version", ["v1.18.3", "v1.18.4", "v1.19.0", "v2.0.0", "1.18.3"])
def test_supported_versions_pass(version):
    assert vp.version_problem(version) is None
    assert vp.Preflight(FakeClient(), None).check_version(version, "test") == version


@pytest.mark.parametrize("version", ["v1.18.2", "v1.18.0", "v1.17.9", "v1.12.3", "v0.11.0"])
def test_older_versions_fail_with_the_reason(version):
    with pytest.raises(VeleroError) as error:
        vp.Preflight(FakeClient(), None).check_version(version, "its ServerStatusRequest")
    msg = error.value.msg
    assert "is Velero %s, older than 1.18.3, the oldest version this collection supports" % version in msg
    assert "Finalizing" in msg and "velero-io/velero#9744" in msg and "#10394" in msg
    assert "Upgrade the Velero server and its node-agent to v1.18.3 or newer" in msg


def test_velero_min_version_lowers_the_floor_only_with_a_warning():
    warnings = []
    assert vp.version_floor(None, warnings.append) == (1, 18, 3) and warnings == []
    assert vp.version_floor("1.19.0", warnings.append) == (1, 19, 0) and warnings == []
    assert vp.version_floor("v1.16.2", warnings.append) == (1, 16, 2)
    assert len(warnings) == 1 and "velero_min_version v1.16.2 accepts Velero older than 1.18.3" in warnings[0]
    assert "velero-io/velero#9744" in warnings[0] and "drop velero_min_version" in warnings[0]
    with pytest.raises(VeleroError, match="velero_min_version must be a version such as 1.18.3, got 'latest'"):
        vp.version_floor("latest", warnings.append)


def test_server_older_than_velero_min_version():
    preflight = vp.Preflight(FakeClient(), None)
    preflight.floor = (1, 19, 0)
    with pytest.raises(VeleroError, match="is Velero v1.18.3, older than 1.19.0, the velero_min_version set.*to v1.19.0 or newer"):
        preflight.check_version("v1.18.3", "its ServerStatusRequest")
    preflight.floor = (1, 16, 0)
    assert preflight.check_version("v1.17.0", "its ServerStatusRequest") == "v1.17.0"


def test_an_unreadable_version_warns_and_passes():
    warnings = []
    assert vp.Preflight(FakeClient(), None, warnings.append).check_version("latest", "the image") == "latest"
    assert len(warnings) == 1 and "'latest'" in warnings[0] and "1.18.3 and newer" in warnings[0]


def test_server_version_comes_from_the_status_request():
    client = FakeClient()
    with pytest.raises(VeleroError, match="is Velero v1.18.2, older than 1.18.3.*from its ServerStatusRequest"):
        vp.Preflight(client, AnsweringWaiter("v1.18.2")).server_answers(5)
    assert client.deleted == [("ServerStatusRequest", "appsnap-1")]
    assert vp.Preflight(FakeClient(), AnsweringWaiter("v1.18.3")).server_answers(5) == "v1.18.3"


def test_check_mode_reads_the_version_from_the_deployment_image():
    old = FakeClient([deployment("velero/velero:v1.17.2")], check_mode=True)
    with pytest.raises(VeleroError, match=r"v1.17.2, older than 1.18.3.*image of deployment velero/velero \(velero/velero:v1.17.2\)"):
        vp.Preflight(old, None).server_answers(5)
    current = FakeClient([deployment("localhost/appsnap/velero:v1.18.3")], check_mode=True)
    assert vp.Preflight(current, None).server_answers(5) == "v1.18.3"
    down = FakeClient([deployment("velero/velero:v1.18.3", available=0)], check_mode=True)
    with pytest.raises(VeleroError, match="no available replica"):
        vp.Preflight(down, None).server_answers(5)


# --- readiness and the node-agent --------------------------------------------------------------------------------

def test_pod_not_ready():
    assert vp.pod_not_ready(pod("a")) is None
    not_ready = pod("a", conditions=[
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [app]"},
        {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
    ])
    assert vp.pod_not_ready(not_ready) == "Running, Ready=False (ContainersNotReady: containers with unready status: [app])"
    unschedulable = pod("a", phase="Pending", conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available"}])
    assert vp.pod_not_ready(unschedulable) == "Pending, PodScheduled=False (Unschedulable: 0/1 nodes are available)"
    assert vp.pod_not_ready(pod("a", conditions=[{"type": "ContainersReady", "status": "False"}])) == "Running, ContainersReady=False"
    assert vp.pod_not_ready(pod("a", phase="Pending", conditions=[])) == "Pending"
    assert vp.pod_not_ready(pod("a", phase="Succeeded", ready=False)) == "Succeeded, Ready=False"
    assert vp.pod_not_ready({"metadata": {"name": "a"}}) == "Unknown"


def test_finished_job_pods_are_recognised():
    assert vp.finished_job_pod(pod("j", phase="Succeeded", owner="Job"))
    assert vp.finished_job_pod(pod("j", phase="Failed", owner="Job"))
    assert not vp.finished_job_pod(pod("j", phase="Running", owner="Job"))
    assert not vp.finished_job_pod(pod("j", phase="Succeeded", owner="ReplicaSet"))
    assert not vp.finished_job_pod(pod("j", phase="Succeeded"))


@pytest.mark.parametrize("desired,ready,problem", [
    (1, 1, None), (3, 3, None), (2, 1, "only 1 of its 2 pods are ready"), (1, 0, "only 0 of its 1 pods are ready"),
    (0, 0, "it has no pod on any node (desiredNumberScheduled 0)"),
])
def test_node_agent_problem(desired, ready, problem):
    found = vp.node_agent_problem(node_agent(desired, ready))
    assert found == problem if problem is None else found.startswith(problem)
    assert vp.node_agent_problem({"metadata": {"name": "node-agent"}}).startswith("it has no pod")


# --- which pods a Backup covers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("namespace,included,excluded,covered", [
    ("db", None, None, True), ("db", [], None, True), ("db", ["*"], None, True), ("db", ["db"], None, True),
    ("db", ["other"], None, False), ("db", ["d?"], None, True), ("db-1", ["db-*"], None, True), ("db", ["db-*"], None, False),
    ("db", ["{db,web}"], None, True), ("web", ["{db,web}"], None, True), ("api", ["{db,web}"], None, False),
    ("db1", ["db[0-9]"], None, True), ("dbx", ["db[!0-9]"], None, True), ("db1", ["db[!0-9]"], None, False),
    ("db", ["*"], ["db"], False), ("db", None, ["d*"], False), ("db.x", ["db.*"], None, True), ("dbax", ["db.x"], None, False),
])
def test_namespace_covered(namespace, included, excluded, covered):
    assert velero_spec.namespace_covered(namespace, included, excluded) is covered


def test_literal_namespaces():
    assert velero_spec.literal_namespaces(["b", "a", "b"]) == ["a", "b"]
    assert velero_spec.literal_namespaces(None) is None
    assert velero_spec.literal_namespaces(["a", "db-*"]) is None
    assert velero_spec.literal_namespaces(["*"]) is None


def test_selector_matches():
    labels = {"app": "pg", "tier": "db"}
    assert velero_spec.selector_matches({"matchLabels": {"app": "pg"}}, labels)
    assert not velero_spec.selector_matches({"matchLabels": {"app": "web"}}, labels)
    assert velero_spec.selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db", "cache"]}]}, labels)
    assert not velero_spec.selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}, labels)
    assert velero_spec.selector_matches({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["db"]}]}, labels)
    assert velero_spec.selector_matches({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, labels)
    assert not velero_spec.selector_matches({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, labels)
    assert not velero_spec.selector_matches({"matchLabels": {"app": "pg"}}, None)
    with pytest.raises(InputError, match="'Gt'"):
        velero_spec.selector_matches({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, labels)


@pytest.mark.parametrize("included,excluded,covered", [
    (None, None, True), (["pods"], None, True), (["*"], None, True), (["Pod"], None, True), (["po"], None, True),
    (["statefulsets.apps"], None, False), (None, ["pods"], False), (None, ["*"], False), (None, ["events"], True),
])
def test_covers_pods(included, excluded, covered):
    assert velero_spec.covers_pods(included, excluded) is covered


def test_live_backup_hooks_read_back_velero_rules():
    assert pod_hooks.live_backup_hooks(pod("a")) == []
    assert pod_hooks.live_backup_hooks(pod("a", annotations=PRE_FAIL)) == [{"phase": "pre", "on_error": "Fail"}]
    both = {"pre.hook.backup.velero.io/command": "x", "post.hook.backup.velero.io/command": "y", "post.hook.backup.velero.io/on-error": "Fail"}
    assert pod_hooks.live_backup_hooks(pod("a", annotations=both)) == [
        {"phase": "pre", "on_error": "Continue"}, {"phase": "post", "on_error": "Fail"}]
    legacy = {"hook.backup.velero.io/command": "x", "hook.backup.velero.io/on-error": "Fail"}
    assert pod_hooks.live_backup_hooks(pod("a", annotations=legacy)) == [{"phase": "pre", "on_error": "Fail"}]
    assert pod_hooks.live_fs_backup_volumes(pod("a", annotations={"backup.velero.io/backup-volumes": "data,,dump"})) == ["data", "dump"]
    assert pod_hooks.live_fs_backup_volumes(pod("a")) == []


# --- the checks together -----------------------------------------------------------------------------------------

def run_workload(objects, spec, **kwargs):
    warnings = []
    client = FakeClient(objects, forbid_pods=kwargs.pop("forbid_pods", False))
    vp.WorkloadPreflight(client, warnings.append).run(spec, **kwargs)
    return client, warnings


def test_a_hooked_pod_that_is_not_ready_fails_naming_pod_state_and_fix():
    with pytest.raises(VeleroError) as error:
        run_workload([pod("db-0", ready=False, annotations=PRE_FAIL), pod("web", ready=False)], {"includedNamespaces": ["app"]})
    msg = error.value.msg
    assert "pod app/db-0 (pre hook) is Running, Ready=False" in msg and "web" not in msg
    assert msg.startswith("The backup's hooks would fail: pod app/db-0") and "with on-error Fail that fails the backup" in msg
    assert "kubectl -n app wait --for=condition=Ready pod/db-0" in msg and "excluded_namespaces" in msg
    assert "preflight_pods: false" in msg


def test_ready_hooked_pods_and_out_of_scope_pods_pass():
    objects = [
        pod("ready", annotations=PRE_FAIL),
        pod("other-label", ready=False, annotations=PRE_FAIL, labels={"app": "web"}),
        pod("elsewhere", namespace="other", ready=False, annotations=PRE_FAIL),
        pod("job-done", phase="Succeeded", ready=False, annotations=PRE_FAIL, owner="Job"),
    ]
    not_web = {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}
    client, warnings = run_workload(objects, {"includedNamespaces": ["app"], "labelSelector": not_web})
    assert client.pod_lists == ["app"] and warnings == []
    run_workload(objects, {"includedNamespaces": ["*"], "excludedNamespaces": ["other"], "labelSelector": not_web})
    run_workload(objects, {"includedNamespaces": ["app", "other"], "excludedResources": ["pods"]})
    with pytest.raises(VeleroError, match="app/other-label"):
        run_workload(objects, {"includedNamespaces": ["app"]})


def test_without_literal_namespaces_every_namespace_is_read():
    client, _warnings = run_workload([pod("a")], {})
    assert client.pod_lists == [None]
    client, _warnings = run_workload([pod("a")], {"includedNamespaces": ["ap*"]})
    assert client.pod_lists == [None]
    with pytest.raises(VeleroError, match="pod other/b"):
        run_workload([pod("a"), pod("b", namespace="other", phase="Pending", conditions=[], annotations=PRE_FAIL)], {})


def test_a_continue_hook_only_warns():
    tolerant = {"pre.hook.backup.velero.io/command": "x", "pre.hook.backup.velero.io/on-error": "Continue"}
    _client, warnings = run_workload([pod("a", ready=False, annotations=tolerant)], {"includedNamespaces": ["app"]})
    assert len(warnings) == 1 and "pod app/a (pre hook) is Running, Ready=False" in warnings[0] and "on-error Continue" in warnings[0]


def test_schedule_and_disabled_pod_checks_skip_hooks():
    objects = [pod("a", ready=False, annotations=PRE_FAIL)]
    client, _warnings = run_workload(objects, {"includedNamespaces": ["app"]}, hooks=False)
    assert client.pod_lists == ["app"]
    client, _warnings = run_workload(objects, {"includedNamespaces": ["app"]}, read_pods=False)
    assert client.pod_lists == []


def test_fs_backup_needs_the_node_agent():
    annotated = pod("db-0", annotations=FSB)
    with pytest.raises(VeleroError) as error:
        run_workload([annotated], {"includedNamespaces": ["app"]})
    assert "pod app/db-0 (data) opted in with backup.velero.io/backup-volumes" in error.value.msg
    assert "node-agent DaemonSet velero/node-agent does not exist" in error.value.msg and "velero install --use-node-agent" in error.value.msg
    with pytest.raises(VeleroError) as error:
        run_workload([annotated, node_agent(2, 1)], {"includedNamespaces": ["app"]})
    assert "is not ready: only 1 of its 2 pods are ready" in error.value.msg and "rollout status daemonset/node-agent" in error.value.msg
    with pytest.raises(VeleroError, match="default_volumes_to_fs_backup is true.*desiredNumberScheduled 0"):
        run_workload([node_agent(0, 0)], {"defaultVolumesToFsBackup": True}, read_pods=False)
    run_workload([annotated, node_agent(1, 1)], {"includedNamespaces": ["app"]})
    with pytest.raises(VeleroError, match=r"pods app/a \(data\), app/b \(data\), app/c \(data\) and 1 more opted in"):
        run_workload([pod(n, annotations=FSB) for n in "abcd"], {"includedNamespaces": ["app"]})
    run_workload([pod("plain")], {"includedNamespaces": ["app"]})  # no FSB, no node-agent needed
    run_workload([annotated], {"includedNamespaces": ["app"]}, read_pods=False)  # the annotation is not read


def test_a_pod_list_denied_names_the_way_out():
    with pytest.raises(VeleroError, match="Permission denied.*Or set preflight_pods: false"):
        run_workload([], {"includedNamespaces": ["app"]}, forbid_pods=True)


# --- spec hooks and resource policies (spec_hooks) ---------------------------------------------------------------

def spec_with_hooks(on_error="Fail"):
    from ansible_collections.appsnap.velero.plugins.module_utils.hooks import spec as spec_hooks

    hook = {"command": ["/bin/true"], "container": "postgres", "on_error": on_error}
    return {"includedNamespaces": ["app"], "hooks": spec_hooks.backup_spec_hooks(hook, "dump", "app", "app=db")}


def test_a_pod_a_spec_hook_selects_is_checked_like_an_annotated_one():
    with pytest.raises(VeleroError, match=r"pod app/db-0 \(pre hook\) is Running, Ready=False"):
        run_workload([pod("db-0", ready=False, labels={"app": "db"})], spec_with_hooks())
    _client, warnings = run_workload([pod("db-0", ready=False, labels={"app": "db"})], spec_with_hooks("Continue"))
    assert len(warnings) == 1 and "pod app/db-0 (pre hook)" in warnings[0]
    # Not selected by the hook's labels: nothing to check.
    run_workload([pod("web", ready=False, labels={"app": "web"})], spec_with_hooks())


def policy(name, text, extra=None):
    data = dict({"policies.yaml": text}, **(extra or {}))
    return {"kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_a_resource_policy_must_exist_and_an_fs_backup_one_needs_the_node_agent():
    from ansible_collections.appsnap.velero.plugins.module_utils.hooks import spec as spec_hooks

    spec = {"resourcePolicy": {"kind": "configmap", "name": "fsb"}}
    with pytest.raises(VeleroError, match="resource_policy 'fsb' names no ConfigMap in namespace velero.*fs_backup_policy"):
        run_workload([], spec, read_pods=False)
    with pytest.raises(VeleroError, match="holds 2 data keys"):
        run_workload([policy("fsb", "version: v1", {"other": "x"})], spec, read_pods=False)
    made = spec_hooks.fs_backup_policy("fsb")
    with pytest.raises(VeleroError, match="resource_policy fsb has an fs-backup volume policy.*does not exist"):
        run_workload([dict(made, kind="ConfigMap")], spec, read_pods=False)
    run_workload([dict(made, kind="ConfigMap"), node_agent()], spec, read_pods=False)
    skip_only = "version: v1\nvolumePolicies:\n- conditions:\n    volumeTypes: [hostPath]\n  action:\n    type: skip\n"
    run_workload([policy("fsb", skip_only)], spec, read_pods=False)  # copies nothing: no node-agent needed


def snapshot_location(name, provider):
    return {"kind": "VolumeSnapshotLocation", "metadata": {"name": name}, "spec": {"provider": provider}}


def test_named_snapshot_locations_must_exist_one_per_provider():
    client = FakeClient([snapshot_location("east", "aws"), snapshot_location("west", "aws"), snapshot_location("gcp-1", "gcp")])
    check = vp.WorkloadPreflight(client).check_snapshot_locations
    check(["east", "gcp-1", "east"])
    with pytest.raises(VeleroError, match=r"names 'north', but namespace velero has no such VolumeSnapshotLocation.*one of: east, gcp-1, west"):
        check(["east", "north"])
    with pytest.raises(VeleroError, match="names east, west, all of provider aws"):
        check(["east", "west"])


def test_workload_preflight_checks_snapshot_locations_before_pods():
    client = FakeClient()
    with pytest.raises(VeleroError, match="one of: none"):
        vp.WorkloadPreflight(client).run({"volumeSnapshotLocations": ["east"]})
    assert client.pod_lists == []
