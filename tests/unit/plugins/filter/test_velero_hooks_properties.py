# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests: the filters never mutate, are idempotent and return JSON-safe data."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import all_filters
from hypothesis import given, settings
from hypothesis import strategies as st

F = all_filters()
KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"]
labels = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}[a-z0-9]\Z")
annotation_values = st.text(max_size=20)


@st.composite
def workloads(draw):
    kind = draw(st.sampled_from(KINDS))
    containers = draw(st.lists(labels, min_size=1, max_size=3, unique=True))
    volumes = draw(st.lists(labels.filter(lambda n: n != "appsnap-dump"), max_size=3, unique=True))
    annotations = draw(st.dictionaries(st.sampled_from(["team", "backup.velero.io/backup-volumes", "x/y"]), annotation_values, max_size=2))
    if "backup.velero.io/backup-volumes" in annotations:
        annotations["backup.velero.io/backup-volumes"] = ",".join(draw(st.lists(st.sampled_from(volumes or ["x"]), max_size=3)))
    pod = {
        "metadata": {"labels": {"app": "a"}, "annotations": annotations},
        "spec": {
            "containers": [{"name": c, "image": "img:1", "volumeMounts": [{"name": v, "mountPath": "/v/" + v} for v in volumes]} for c in containers],
            "volumes": [{"name": v, "emptyDir": {}} for v in volumes],
        },
    }
    obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": draw(labels)}}
    if kind == "Pod":
        obj["metadata"].update(pod["metadata"])
        obj["spec"] = pod["spec"]
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "@hourly", "jobTemplate": {"spec": {"template": pod}}}
    else:
        obj["spec"] = {"replicas": draw(st.integers(0, 5)), "template": pod}
    return obj, containers, volumes


durations = st.sampled_from(["30s", "5m", "1h30m", "250ms", "1.5h"])


@st.composite
def pipelines(draw):
    obj, containers, volumes = draw(workloads())
    container = draw(st.sampled_from(containers))
    pre = {"command": draw(st.lists(st.text(max_size=10), min_size=1, max_size=3)), "timeout": draw(durations), "container": container}
    post = draw(st.none() | st.just({"command": ["/bin/true"], "on_error": "Continue"}))
    include = draw(st.lists(st.sampled_from(volumes), max_size=2)) if volumes else []
    # pg_dump_hook refuses connection strings by design; generate plain names only.
    database = draw(st.text(min_size=1, max_size=12).filter(lambda s: "=" not in s and "\x00" not in s and "://" not in s))
    wait_timeout = draw(durations)

    def run(value):
        value = F["backup_volume"](value, "appsnap-dump", "/appsnap-dump", container=container)
        value = F["backup_hooks"](value, pre=pre, post=post, backup_volumes=include + ["appsnap-dump"])
        value = F["backup_hooks"](value, pre=F["pg_dump_hook"](database, path="/appsnap-dump/db.sql", container=container))
        return F["restore_hooks"](value, post={"command": ["/bin/true"], "wait_timeout": wait_timeout, "container": container})

    return obj, run


@settings(max_examples=150, deadline=None)
@given(pipelines())
def test_input_is_never_mutated(case):
    obj, run = case
    before = copy.deepcopy(obj)
    run(obj)
    assert obj == before


@settings(max_examples=150, deadline=None)
@given(pipelines())
def test_twice_equals_once(case):
    obj, run = case
    once = run(obj)
    assert run(once) == once


@settings(max_examples=150, deadline=None)
@given(pipelines())
def test_output_survives_json_round_trip(case):
    obj, run = case
    result = run(obj)
    assert json.loads(json.dumps(result)) == result


@settings(max_examples=100, deadline=None)
@given(st.lists(workloads(), min_size=1, max_size=4))
def test_lists_keep_length_order_and_non_targets(items):
    objs = [o for o, _c, _v in items]
    result = F["backup_volume"](objs, "appsnap-dump", "/appsnap-dump", workload_kind=objs[0]["kind"])
    assert len(result) == len(objs)
    for before, after in zip(objs, result):
        if before["kind"] != objs[0]["kind"]:
            assert after == before
        else:
            assert after["kind"] == before["kind"] and after["metadata"]["name"] == before["metadata"]["name"]
