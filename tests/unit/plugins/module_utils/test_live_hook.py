# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pg_hook module's plan: which container, which databases, what the workload becomes, and that a rerun or an undo
is exact. The lab test (tests/integration/playbooks/test_pg_hook.py) runs the module against real workloads."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import record
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import live_hook
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError

PRE = "pre.hook.backup.velero.io/"


def params(**overrides):
    base = {
        "kind": "StatefulSet", "name": "orders-db", "namespace": "shop", "state": "present", "container": None, "databases": None,
        "backup_volume": "appsnap-backup", "mount_path": "/backup", "dump_path": None, "dump_format": "plain-compressed", "dump_jobs": 1,
        "dump_timeout": "3m", "lock_wait_timeout": "30s", "verify": "counts", "size_limit": None, "replay_on_restore": False,
        "replay_timeout": "30m", "replay_wait_timeout": "10m", "wait": True, "wait_timeout": 300,
    }
    base.update(overrides)
    return base


def statefulset(*containers, annotations=None):
    """As the API returns one: no empty annotations or volumes (which is also what an undo gives back)."""
    template = {"spec": {"containers": list(containers)}}
    if annotations:
        template["metadata"] = {"annotations": dict(annotations)}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "orders-db", "namespace": "shop"}, "spec": {"template": template}}


def metrics():
    return {"name": "metrics", "image": "quay.io/prometheuscommunity/postgres-exporter:v0.15"}


def postgres(env):
    return {"name": "db", "image": "docker.io/library/postgres:17", "env": env}


PASSWORD = {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "orders", "key": "password"}}}
SECRET = {"kind": "Secret", "metadata": {"name": "orders"},
          "data": {"password": base64.b64encode(b"s3cret").decode(), "user": base64.b64encode(b"orders_app").decode()}}


def reader(*objects):
    calls = []

    def read(kind, name):
        calls.append((kind, name))
        return next((o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name), None)
    read.calls = calls
    return read


def test_the_database_comes_from_the_secret_and_the_hook_goes_to_the_postgres_container_not_the_first():
    user = {"name": "POSTGRES_USER", "valueFrom": {"secretKeyRef": {"name": "orders", "key": "user"}}}
    current = statefulset(metrics(), postgres([PASSWORD, user]), annotations={"team": "shop"})
    read = reader(SECRET)
    desired, container, databases = live_hook.plan(current, params(), read)
    assert (container, databases) == ("db", ["orders_app"]) and read.calls == [("Secret", "orders")]
    template = desired["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations[PRE + "container"] == "db" and "pg_dump" in annotations[PRE + "command"] and annotations["team"] == "shop"
    assert "/backup/backup.sql" in annotations[PRE + "command"] and "s3cret" not in str(desired)
    assert {"name": "appsnap-backup", "mountPath": "/backup"} in template["spec"]["containers"][1]["volumeMounts"]
    assert "volumeMounts" not in template["spec"]["containers"][0]
    assert record.HOOKED_ANNOTATION in annotations
    # The patch names only what changes.
    patch = record.hooks_patch(current, desired)
    assert set(patch["spec"]["template"]["metadata"]["annotations"]) >= {PRE + "container", PRE + "command", record.HOOKED_ANNOTATION}
    assert "team" not in patch["spec"]["template"]["metadata"]["annotations"]


def test_a_rerun_plans_the_same_workload_and_absent_gives_back_the_original():
    current = statefulset(postgres([PASSWORD, {"name": "POSTGRES_DB", "value": "orders"}]))
    desired, _container, databases = live_hook.plan(current, params(), reader())
    assert databases == ["orders"]
    again, _container, _databases = live_hook.plan(copy.deepcopy(desired), params(), reader())
    assert again == desired and not live_hook._changes(record.hooks_patch(desired, again))
    undone, container, databases = live_hook.plan(desired, params(state="absent"), reader())
    assert undone == current and (container, databases) == ("", [])


def test_given_databases_and_container_are_used_without_reading_any_secret():
    current = statefulset(postgres([PASSWORD]), {"name": "replica", "image": "postgres:17", "env": [PASSWORD]})
    read = reader()
    desired, container, databases = live_hook.plan(current, params(container="replica", databases="all", dump_path="/backup/all.sql"), read)
    assert (container, databases, read.calls) == ("replica", "all", [])
    assert "/backup/all.databases" in desired["spec"]["template"]["metadata"]["annotations"][PRE + "command"]


@pytest.mark.parametrize("containers, given, message", [
    ([{"name": "proxy", "image": "busybox"}, {"name": "web", "image": "nginx"}], None, "No container looks like PostgreSQL"),
    ([postgres([PASSWORD]), dict(postgres([PASSWORD]), name="replica")], None, "Containers db and replica all look like PostgreSQL"),
    ([postgres([PASSWORD])], "sidecar", "container sidecar is not a container of"),
])
def test_which_container_must_be_clear(containers, given, message):
    with pytest.raises(InputError) as info:
        live_hook.plan(statefulset(*containers), params(container=given), reader())
    assert message in str(info.value) and "StatefulSet shop/orders-db" in str(info.value)
    assert "Set container (the pg_hook role's pg_hook_container)" in str(info.value)


def test_a_database_named_only_in_a_file_or_a_missing_secret_asks_for_databases():
    in_file = statefulset(postgres([PASSWORD, {"name": "POSTGRES_DB_FILE", "value": "/run/secrets/db"}]))
    with pytest.raises(InputError, match="reads POSTGRES_DB from the file POSTGRES_DB_FILE names.*Set databases"):
        live_hook.plan(in_file, params(), reader())
    missing = statefulset(postgres([PASSWORD, {"name": "POSTGRES_DB", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "db"}}}]))
    with pytest.raises(InputError, match="Could not name the database.*Secret 'gone'.*Set databases"):
        live_hook.plan(missing, params(), reader())


def test_the_dump_path_must_be_in_the_backup_volume():
    with pytest.raises(InputError, match="is not under the backup volume's mount path"):
        live_hook.plan(statefulset(postgres([PASSWORD])), params(dump_path="/var/backup.sql"), reader())


def test_the_diff_view_holds_only_what_the_module_may_change():
    current = statefulset(metrics(), postgres([PASSWORD]))
    desired, _container, _databases = live_hook.plan(current, params(), reader())
    view = live_hook._hooked_view(desired)
    template = view["spec"]["template"]
    assert set(template) == {"metadata", "spec"} and set(template["spec"]) == {"volumes", "containers"}
    assert template["spec"]["containers"][1] == {"name": "db", "volumeMounts": [{"name": "appsnap-backup", "mountPath": "/backup"}]}
    assert all(set(c) == {"name", "volumeMounts"} for c in template["spec"]["containers"]) and "valueFrom" not in str(view)
