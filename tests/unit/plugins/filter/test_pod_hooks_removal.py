# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hooking a live workload in place: the record of what was added, its exact removal, the patch, and reading the pod."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import all_filters
from hypothesis import given, settings
from hypothesis import strategies as st

F = all_filters()
HOOKED = "appsnap.velero/hooked"
PASSWORD_ENV = ["POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE"]


def statefulset(annotations=None, volumes=("data",), sidecar_first=True):
    postgres = {
        "name": "postgres",
        "image": "localhost/appsnap/postgres:15",
        "env": [{"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}, {"name": "POSTGRES_DB", "value": "shop"}],
    }
    if volumes:
        postgres["volumeMounts"] = [{"name": v, "mountPath": "/var/lib/" + v} for v in volumes]
    metrics = {"name": "metrics", "image": "localhost/appsnap/busybox:1.35"}
    template = {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [metrics, postgres] if sidecar_first else [postgres, metrics]}}
    if annotations is not None:
        template["metadata"]["annotations"] = annotations
    if volumes:
        template["spec"]["volumes"] = [{"name": v, "emptyDir": {}} for v in volumes]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop", "resourceVersion": "42"},
        "spec": {"replicas": 1, "template": template},
        "status": {"readyReplicas": 1},
    }


def hook(obj, container="postgres", replay=False, volume="appsnap-backup", mount_path="/backup"):
    """What the pg_hook role does: remove an earlier record, add the hooks, record them."""
    base = F["remove_hooks"](obj)
    hooked = F["backup_volume"](base, volume, mount_path, container=container)
    hooked = F["backup_hooks"](hooked, pre=F["pg_dump_hook"](["shop"], container=container), backup_volumes=[volume])
    if replay:
        hooked = F["restore_hooks"](hooked, post=F["pg_replay_hook"](["shop"], container=container))
    return F["record_hooks"](hooked, base)


def template(obj):
    return obj["spec"]["template"]


def record(obj):
    return json.loads(template(obj)["metadata"]["annotations"][HOOKED])


@pytest.mark.parametrize("annotations", [None, {"example.com/owner": "shop-team"}, {"backup.velero.io/backup-volumes": "data, logs", "team": "a"}])
@pytest.mark.parametrize("replay", [False, True])
def test_add_then_remove_gives_back_the_original(annotations, replay):
    original = statefulset(annotations, volumes=("data", "logs") if annotations and "backup.velero.io/backup-volumes" in annotations else ("data",))
    frozen = copy.deepcopy(original)
    hooked = hook(original, replay=replay)
    assert original == frozen
    assert template(hooked)["metadata"]["annotations"]["pre.hook.backup.velero.io/container"] == "postgres"
    assert F["remove_hooks"](hooked) == original


def test_empty_collections_go_as_the_api_server_drops_them():
    original = statefulset({}, volumes=())
    template(original)["spec"]["containers"][1]["volumeMounts"] = []
    template(original)["spec"]["volumes"] = []
    removed = F["remove_hooks"](hook(original))
    assert "annotations" not in template(removed)["metadata"]
    assert "volumes" not in template(removed)["spec"] and "volumeMounts" not in template(removed)["spec"]["containers"][1]
    assert F["remove_hooks"](hook(removed)) == removed


def test_the_record_names_exactly_what_was_added():
    hooked = hook(statefulset({"backup.velero.io/backup-volumes": "data"}), replay=True)
    rec = record(hooked)
    assert set(rec) == {"annotations", "lists", "volumes", "mounts"}
    assert set(rec["annotations"]) == {
        "pre.hook.backup.velero.io/" + k for k in ("command", "container", "on-error", "timeout")
    } | {"post.hook.restore.velero.io/" + k for k in ("command", "container", "on-error", "exec-timeout", "wait-timeout", "wait-for-ready")}
    assert all(v is None for v in rec["annotations"].values())
    assert rec["lists"] == {"backup.velero.io/backup-volumes": {"previous": "data", "added": ["appsnap-backup"], "removed": []}}
    assert rec["volumes"] == {"appsnap-backup": None}
    assert rec["mounts"] == {"postgres": {"/backup": None}}
    # Sorted keys, no spaces: the same hooks always give the same text, so a rerun changes nothing.
    text = template(hooked)["metadata"]["annotations"][HOOKED]
    assert text == json.dumps(rec, sort_keys=True, separators=(",", ":"))


def test_the_users_own_annotations_volumes_and_mounts_survive_even_when_added_later():
    hooked = hook(statefulset({"example.com/owner": "shop-team", "backup.velero.io/backup-volumes": "data"}))
    # After hooking, the user adds an annotation, a volume, a mount and a backup-volumes entry of their own.
    changed = copy.deepcopy(hooked)
    pod = template(changed)
    pod["metadata"]["annotations"]["example.com/later"] = "yes"
    pod["metadata"]["annotations"]["backup.velero.io/backup-volumes"] += ",cache"
    pod["spec"]["volumes"].append({"name": "cache", "emptyDir": {}})
    pod["spec"]["containers"][1]["volumeMounts"].append({"name": "cache", "mountPath": "/cache"})
    removed = F["remove_hooks"](changed)
    pod = template(removed)
    assert pod["metadata"]["annotations"] == {"example.com/owner": "shop-team", "example.com/later": "yes", "backup.velero.io/backup-volumes": "data,cache"}
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["data", "cache"]
    assert pod["spec"]["containers"][1]["volumeMounts"] == [{"name": "data", "mountPath": "/var/lib/data"}, {"name": "cache", "mountPath": "/cache"}]
    assert "volumeMounts" not in pod["spec"]["containers"][0]


def test_values_the_hooks_replaced_come_back():
    original = statefulset({"pre.hook.backup.velero.io/container": "metrics", "pre.hook.backup.velero.io/command": '["/bin/true"]',
                            "backup.velero.io/backup-volumes-excludes": "appsnap-backup,data"})
    hooked = hook(original)
    assert record(hooked)["annotations"]["pre.hook.backup.velero.io/container"] == "metrics"
    excludes = record(hooked)["lists"]["backup.velero.io/backup-volumes-excludes"]
    assert excludes == {"previous": "appsnap-backup,data", "added": [], "removed": ["appsnap-backup"]}
    assert F["remove_hooks"](hooked) == original


def test_removing_twice_or_from_an_unhooked_workload_is_a_no_op():
    original = statefulset({"example.com/owner": "shop-team"})
    once = F["remove_hooks"](hook(original))
    assert F["remove_hooks"](once) == once == original
    assert F["remove_hooks"](original) == original
    # Other shapes and kinds pass through: a list with a Service, a workload without the record.
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}}
    assert F["remove_hooks"]([hook(original), service]) == [original, service]


def test_hooking_again_changes_nothing_and_new_settings_replace_the_old():
    once = hook(statefulset({"example.com/owner": "shop-team"}), replay=True)
    assert hook(once, replay=True) == once
    moved = hook(once, replay=False, mount_path="/dump")
    annotations = template(moved)["metadata"]["annotations"]
    assert not any(k.startswith("post.hook.restore.velero.io/") for k in annotations)
    assert template(moved)["spec"]["containers"][1]["volumeMounts"][-1] == {"name": "appsnap-backup", "mountPath": "/dump"}
    assert F["remove_hooks"](moved) == statefulset({"example.com/owner": "shop-team"})


def test_record_hooks_refuses_what_it_cannot_take_back():
    base = statefulset()
    other = copy.deepcopy(base)
    template(other)["spec"]["containers"][1]["image"] = "postgres:16"
    with pytest.raises(AnsibleFilterError, match=r"record_hooks: .*spec\.template\.spec\.containers\[1\]\.image"):
        F["record_hooks"](other, base)
    with pytest.raises(AnsibleFilterError, match="remove_hooks it first|pass it through remove_hooks"):
        F["record_hooks"](hook(base), hook(base))


def test_a_record_that_is_not_ours_is_refused_clearly():
    obj = statefulset({HOOKED: "not json"})
    with pytest.raises(AnsibleFilterError, match="not a record this collection wrote"):
        F["remove_hooks"](obj)


def test_the_patch_names_only_what_changes():
    current = statefulset({"example.com/owner": "shop-team"})
    hooked = hook(current)
    patch = F["hooks_patch"](current, hooked)
    assert patch["metadata"] == {"name": "db", "namespace": "shop"}
    pod = patch["spec"]["template"]
    assert set(pod["metadata"]["annotations"]) == set(template(hooked)["metadata"]["annotations"]) - {"example.com/owner"}
    assert pod["spec"]["volumes"] == [{"name": "appsnap-backup", "emptyDir": {}}]
    assert pod["spec"]["$setElementOrder/volumes"] == [{"name": "data"}, {"name": "appsnap-backup"}]
    assert pod["spec"]["containers"] == [{
        "name": "postgres", "volumeMounts": [{"name": "appsnap-backup", "mountPath": "/backup"}],
        "$setElementOrder/volumeMounts": [{"mountPath": "/var/lib/data"}, {"mountPath": "/backup"}],
    }]
    undo = F["hooks_patch"](hooked, F["remove_hooks"](hooked))
    pod = undo["spec"]["template"]
    assert all(v is None for v in pod["metadata"]["annotations"].values())
    assert pod["spec"]["volumes"] == [{"name": "appsnap-backup", "$patch": "delete"}]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [{"mountPath": "/backup", "$patch": "delete"}]
    assert F["hooks_patch"](hooked, hook(hooked)) == {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop"}}
    with pytest.raises(AnsibleFilterError, match="replicas"):
        F["hooks_patch"](current, dict(current, spec=dict(current["spec"], replicas=3)))


# ---------------------------------------------------------------------------
# Reading the pod: which container, and what its environment says
# ---------------------------------------------------------------------------


def test_the_postgres_container_is_found_behind_a_sidecar():
    assert F["matching_containers"](statefulset(), image_contains="postgres", env_names=PASSWORD_ENV) == ["postgres"]
    obj = statefulset()
    # A metrics exporter named like postgres, without the password variable, loses to the database.
    template(obj)["spec"]["containers"][0]["image"] = "quay.io/prometheuscommunity/postgres-exporter:v0.15.0"
    assert F["matching_containers"](obj, image_contains="postgres", env_names=PASSWORD_ENV) == ["postgres"]


def test_two_databases_or_none_are_reported_as_they_are():
    obj = statefulset()
    twin = copy.deepcopy(template(obj)["spec"]["containers"][1])
    twin["name"] = "replica"
    template(obj)["spec"]["containers"].append(twin)
    assert F["matching_containers"](obj, image_contains="postgres", env_names=PASSWORD_ENV) == ["postgres", "replica"]
    template(obj)["spec"]["containers"][1:] = []
    assert F["matching_containers"](obj, image_contains="postgres", env_names=PASSWORD_ENV) == []


def secret(name, **data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())}


def with_env(env=None, env_from=None):
    obj = statefulset()
    container = template(obj)["spec"]["containers"][1]
    container["env"] = env or []
    if env_from:
        container["envFrom"] = env_from
    return obj


NAMES = ["POSTGRES_DB", "POSTGRES_USER"]


def test_env_literal_needs_no_object():
    obj = with_env([{"name": "POSTGRES_DB", "value": "shop"}, {"name": "POSTGRES_USER", "value": "app"}])
    assert F["env_sources"](obj, "postgres", NAMES) == []
    assert F["container_env"](obj, "postgres", NAMES) == {"POSTGRES_DB": "shop", "POSTGRES_USER": "app"}


def test_env_from_secrets_and_config_maps_with_kubelet_precedence():
    obj = with_env(
        [{"name": "POSTGRES_USER", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}}],
        [{"configMapRef": {"name": "settings"}, "prefix": "POSTGRES_"}, {"secretRef": {"name": "creds"}}],
    )
    assert F["env_sources"](obj, "postgres", NAMES) == [{"kind": "ConfigMap", "name": "settings"}, {"kind": "Secret", "name": "creds"}]
    objects = [{"kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"DB": "shop", "USER": "ignored"}}, secret("creds", user="app")]
    assert F["container_env"](obj, "postgres", NAMES, objects=objects) == {"POSTGRES_DB": "shop", "POSTGRES_USER": "app"}


def test_env_references_that_are_missing_fail_unless_optional():
    ref = {"name": "POSTGRES_USER", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "user"}}}
    with pytest.raises(AnsibleFilterError, match="takes POSTGRES_USER from key 'user' of Secret 'gone', which was not found"):
        F["container_env"](with_env([ref]), "postgres", NAMES, objects=[])
    ref["valueFrom"]["secretKeyRef"]["optional"] = True
    assert F["container_env"](with_env([ref]), "postgres", NAMES, objects=[]) == {}
    with pytest.raises(AnsibleFilterError, match="only the running pod resolves"):
        F["container_env"](with_env([{"name": "POSTGRES_DB", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]), "postgres", NAMES)


def test_reading_the_pod_names_a_missing_container():
    with pytest.raises(AnsibleFilterError, match="'web' is not in the pod; the containers are: 'metrics', 'postgres'"):
        F["container_env"](statefulset(), "web", NAMES)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

labels = st.from_regex(r"\A[a-z][a-z0-9-]{0,8}[a-z0-9]\Z").filter(lambda n: n != "appsnap-backup")


@st.composite
def workloads(draw):
    volumes = draw(st.lists(labels, max_size=3, unique=True))
    annotations = draw(st.dictionaries(st.sampled_from(["team", "x/y", "pre.hook.backup.velero.io/container", "backup.velero.io/backup-volumes"]),
                                       st.text(max_size=8), max_size=3))
    if "backup.velero.io/backup-volumes" in annotations:
        annotations["backup.velero.io/backup-volumes"] = ", ".join(draw(st.lists(st.sampled_from(volumes or ["x"]), max_size=3)))
    obj = statefulset(annotations or None, volumes=tuple(volumes), sidecar_first=draw(st.booleans()))
    kind = draw(st.sampled_from(["StatefulSet", "Deployment"]))
    return dict(obj, kind=kind)


@settings(max_examples=150, deadline=None)
@given(workloads(), st.booleans())
def test_property_remove_undoes_hook_and_hook_is_idempotent(obj, replay):
    hooked = hook(obj, replay=replay)
    assert F["remove_hooks"](hooked) == obj
    assert F["remove_hooks"](F["remove_hooks"](hooked)) == obj
    assert hook(hooked, replay=replay) == hooked
    assert F["hooks_patch"](hooked, hook(hooked, replay=replay))["metadata"] == {"name": "db", "namespace": "shop"}
    assert "spec" not in F["hooks_patch"](hooked, hook(hooked, replay=replay))
