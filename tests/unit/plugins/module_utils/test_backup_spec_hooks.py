# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Velero Backup-spec hooks: the builder (backup_spec_hooks), the one validator the modules use, and the FSB policy."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import all_filters
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump
from ansible_collections.appsnap.velero.plugins.module_utils.velero import spec as velero_spec
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import spec as sh
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError, label_selector

F = all_filters()
DUMP = pg_dump.pg_dump_hook("shop", path="/scratch/backup.sql", container="postgres", timeout="5m")


def entry(**exec_hook):
    return {"resources": [{"name": "h", "pre": [{"exec": dict({"command": ["/bin/true"]}, **exec_hook)}]}]}


def test_pg_dump_hook_becomes_one_spec_entry_in_velero_spelling():
    hooks = sh.backup_spec_hooks(DUMP, "shop-dump", ["shop"], "app=opdb,tier=db")
    assert hooks == {
        "resources": [{
            "name": "shop-dump",
            "includedNamespaces": ["shop"],
            "includedResources": ["pods"],
            "labelSelector": {"matchLabels": {"app": "opdb", "tier": "db"}},
            "pre": [{"exec": {"command": DUMP["command"], "container": "postgres", "onError": "Fail", "timeout": "5m"}}],
        }]
    }
    # What the modules would send is exactly what the filter built: the validator is idempotent on its own output.
    assert sh.checked_backup_spec({"hooks": hooks})["hooks"] == hooks
    assert json.loads(json.dumps(hooks)) == hooks


def test_builder_forms_of_namespaces_selector_phase_and_several_hooks():
    freeze = {"command": ["/sbin/fsfreeze", "--freeze", "/data"], "container": "app", "on_error": "Continue", "timeout": "30s"}
    hooks = sh.backup_spec_hooks([DUMP, freeze], "two", "shop", {"app": "opdb"}, phase="post")
    resource = hooks["resources"][0]
    assert resource["includedNamespaces"] == ["shop"] and resource["labelSelector"] == {"matchLabels": {"app": "opdb"}}
    assert "pre" not in resource and [h["exec"]["container"] for h in resource["post"]] == ["postgres", "app"]
    assert resource["post"][1]["exec"]["onError"] == "Continue"
    full = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["opdb", "db"]}]}
    assert sh.backup_spec_hooks(DUMP, "x", ["a", "b"], full)["resources"][0]["labelSelector"] == full


def test_builder_does_not_change_its_input():
    hook = copy.deepcopy(DUMP)
    sh.backup_spec_hooks(hook, "x", "shop", "app=opdb")
    assert hook == DUMP


@pytest.mark.parametrize("hook,args,expected", [
    (dict(DUMP, container=None), ("x", "shop", "app=opdb"), "has no container: Velero would run it in the pod's first container"),
    ({k: v for k, v in DUMP.items() if k != "container"}, ("x", "shop", "app=opdb"), "Name the database container"),
    (DUMP, ("x", None, "app=opdb"), "namespaces is required"),
    (DUMP, ("x", [], "app=opdb"), "namespaces is required"),
    (DUMP, ("x", "shop", None), "label_selector is required: without it the hook runs in every pod of shop"),
    (DUMP, ("x", "shop", ""), "label_selector is required"),
    (DUMP, ("x", "shop", "app in (opdb)"), "not a list of key=value pairs"),
    (DUMP, ("x", "shop", {"app": 1}), "Quote the value"),
    (DUMP, ("", "shop", "app=opdb"), "name must be a non-empty string"),
    (DUMP, ("x", "shop", "app=opdb", "during"), "phase must be 'pre' or 'post'"),
    (dict(DUMP, onError="Fail"), ("x", "shop", "app=opdb"), "hook has unknown keys onError"),
    (dict(DUMP, timeout="300"), ("x", "shop", "app=opdb"), "hook.timeout '300' has no unit"),
    (dict(DUMP, on_error="fail"), ("x", "shop", "app=opdb"), "hook.on_error must be 'Fail' or 'Continue'"),
    (dict(DUMP, command="pg_dump shop"), ("x", "shop", "app=opdb"), 'Write it as ["/bin/sh", "-c", "pg_dump shop"]'),
    ([], ("x", "shop", "app=opdb"), "non-empty list"),
    (["pg_dump"], ("x", "shop", "app=opdb"), "hook must be a dict with the keys command, container, on_error, timeout"),
    ([DUMP, {"container": "postgres"}], ("x", "shop", "app=opdb"), "hook[1] is missing the required key(s) command"),
])
def test_builder_errors_name_the_fix(hook, args, expected):
    with pytest.raises(InputError) as error:
        sh.backup_spec_hooks(hook, *args)
    assert expected in str(error.value)


def test_filter_wraps_errors_and_is_registered():
    assert F["backup_spec_hooks"](DUMP, "x", "shop", "app=opdb") == sh.backup_spec_hooks(DUMP, "x", "shop", "app=opdb")
    with pytest.raises(AnsibleFilterError, match="appsnap.velero.backup_spec_hooks: .*label_selector is required"):
        F["backup_spec_hooks"](DUMP, "x", "shop", None)
    with pytest.raises(AnsibleFilterError, match="appsnap.velero.fs_backup_policy: .*did you mean 'emptyDir'"):
        F["fs_backup_policy"]("p", volume_types=["emptydir"])


# The modules' hooks option: validate_spec_hooks through checked_backup_spec, the one path backup and schedule take.

def test_module_hooks_get_an_explicit_on_error_and_keep_the_rest():
    hooks = {"resources": [{
        "name": "h", "includedNamespaces": ["db"], "excludedNamespaces": ["kube-system"], "includedResources": ["pods"],
        "labelSelector": "app=pg", "pre": [{"exec": {"command": ["/bin/true"], "timeout": "90s"}}],
        "post": [{"exec": {"command": ["/bin/true"], "onError": "Continue", "container": "pg"}}],
    }]}
    spec = sh.checked_backup_spec({"hooks": hooks, "included_namespaces": ["db"]})
    resource = spec["hooks"]["resources"][0]
    assert resource["labelSelector"] == {"matchLabels": {"app": "pg"}}
    assert resource["pre"] == [{"exec": {"command": ["/bin/true"], "onError": "Fail", "timeout": "90s"}}]
    assert resource["post"] == [{"exec": {"command": ["/bin/true"], "onError": "Continue", "container": "pg"}}]
    assert resource["excludedNamespaces"] == ["kube-system"]
    # A container is not required here: Velero's first-container default is the user's to choose in a raw spec.
    assert sh.checked_backup_spec({"hooks": {"resources": []}})["hooks"] == {"resources": []}


@pytest.mark.parametrize("hooks,expected", [
    ({"resource": []}, "hooks has unknown keys resource; allowed keys are resources"),
    ({"resources": {"name": "h"}}, "hooks.resources must be a list"),
    ({"resources": [{"pre": [{"exec": {"command": ["a"]}}]}]}, "hooks.resources[0] is missing the required key(s) name"),
    ({"resources": [{"name": " ", "pre": [{"exec": {"command": ["a"]}}]}]}, "name must be a non-empty string"),
    ({"resources": [{"name": "h", "labelSelector": "a=b"}]}, "has no hooks; add pre:"),
    ({"resources": [{"name": "h", "namespaces": ["db"], "pre": []}]}, "unknown keys namespaces"),
    ({"resources": [{"name": "h", "pre": {"exec": {"command": ["a"]}}}]}, "hooks.resources[0].pre must be a list"),
    ({"resources": [{"name": "h", "pre": [{"command": ["a"]}]}]}, "hooks.resources[0].pre[0] has unknown keys command"),
    (entry(on_error="Fail"), "hooks.resources[0].pre[0].exec has unknown keys on_error; allowed keys are command, container, onError, timeout"),
    ({"resources": [{"name": "h", "pre": [{"exec": {"container": "pg"}}]}]}, "pre[0].exec is missing the required key(s) command"),
    (entry(command="pg_dump -f /x"), 'Write it as ["/bin/sh", "-c", "pg_dump -f /x"]'),
    (entry(command=[]), "must be a non-empty list of strings"),
    (entry(command=["sleep", 5]), "must contain only strings"),
    (entry(timeout="300"), "pre[0].exec.timeout '300' has no unit. Write it as a Go duration such as '300s'"),
    (entry(timeout="5 min"), "is not a Go duration"),
    (entry(onError="fail"), "pre[0].exec.onError must be 'Fail' or 'Continue' (case-sensitive)"),
    (entry(container="Postgres"), "is not a valid DNS-1123 label"),
    ({"resources": [{"name": "h", "includedResources": ["deployments"], "pre": [{"exec": {"command": ["a"]}}]}]},
     "would never run: Velero runs hooks on pods only"),
    ({"resources": [{"name": "h", "excludedResources": ["pods"], "pre": [{"exec": {"command": ["a"]}}]}]}, "leave pods out"),
    ({"resources": [{"name": "h", "includedNamespaces": "db,x", "excludedNamespaces": [""], "pre": [{"exec": {"command": ["a"]}}]}]},
     "excludedNamespaces must be a list of non-empty strings"),
    ({"resources": [{"name": "h", "labelSelector": {"matchLabels": {"a": "b"}, "matchExpresions": []}, "pre": [{"exec": {"command": ["a"]}}]}]},
     "labelSelector has unknown keys matchExpresions"),
    ({"resources": [{"name": "h", "labelSelector": {"matchExpressions": [{"key": "a", "operator": "in", "values": ["b"]}]},
                     "pre": [{"exec": {"command": ["a"]}}]}]}, "matchExpressions[0].operator must be one of In, NotIn, Exists, DoesNotExist"),
])
def test_module_hooks_errors_name_the_fix(hooks, expected):
    # checked_backup_spec builds a Backup's spec and a Schedule's template alike (velero_ops), before anything is created.
    with pytest.raises(InputError) as error:
        sh.checked_backup_spec({"hooks": hooks})
    assert expected in str(error.value)


def test_backup_and_schedule_check_hooks_before_touching_the_cluster():
    from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner as velero_ops

    class NoCluster(object):
        """Only the Schedule lookup comes before the spec is built; any write would fail loudly."""

        class client(object):
            @staticmethod
            def get(kind, name):
                return None

    bad = {"resources": [{"name": "h", "pre": [{"exec": {"command": ["a"], "on_error": "Fail"}}]}]}
    with pytest.raises(InputError, match="unknown keys on_error"):
        velero_ops.backup_present(NoCluster, {"name": "b", "hooks": bad})
    with pytest.raises(InputError, match="unknown keys on_error"):
        velero_ops.schedule_state(NoCluster, {"name": "s", "state": "present", "schedule": "@daily", "paused": False, "hooks": bad})


def test_pod_backup_hooks_follow_velero_selection_and_annotation_precedence():
    hooks = sh.checked_backup_spec({"hooks": {"resources": [
        {"name": "dump", "includedNamespaces": ["db"], "labelSelector": "app=pg", "pre": [{"exec": {"command": ["a"]}}]},
        {"name": "note", "includedNamespaces": ["db"], "post": [{"exec": {"command": ["b"], "onError": "Continue"}}]},
    ]}})["hooks"]

    def pod(namespace="db", labels=None, annotations=None):
        return {"metadata": {"namespace": namespace, "labels": labels or {}, "annotations": annotations or {}}}

    assert sh.pod_backup_hooks(hooks, pod(labels={"app": "pg"})) == [{"phase": "pre", "on_error": "Fail"}, {"phase": "post", "on_error": "Continue"}]
    assert sh.pod_backup_hooks(hooks, pod(labels={"app": "web"})) == [{"phase": "post", "on_error": "Continue"}]
    assert sh.pod_backup_hooks(hooks, pod("other", labels={"app": "pg"})) == []
    # A pod's own pre hook annotation replaces the spec's pre hooks; its post phase still comes from the spec.
    annotated = pod(labels={"app": "pg"}, annotations={"pre.hook.backup.velero.io/command": '["x"]', "pre.hook.backup.velero.io/on-error": "Continue"})
    assert sh.pod_backup_hooks(hooks, annotated) == [{"phase": "pre", "on_error": "Continue"}, {"phase": "post", "on_error": "Continue"}]
    assert sh.pod_backup_hooks(None, pod(labels={"app": "pg"})) == []


def test_restore_hooks_are_not_checked_as_backup_hooks():
    restore_hooks = {"resources": [{"name": "r", "postHooks": [{"exec": {"command": ["a"], "waitTimeout": "1m"}}]}]}
    assert velero_spec.restore_spec({"backup_name": "b", "hooks": restore_hooks})["hooks"] == restore_hooks


@pytest.mark.parametrize("requirement,expected", [
    ({"key": "a", "operator": "In"}, "needs at least one value"),
    ({"key": "a", "operator": "Exists", "values": ["x"]}, "takes no values"),
    ({"key": "a", "operator": "NotIn", "values": [1]}, "values must be a list of strings"),
    ({"operator": "Exists"}, "missing the required key(s) key"),
])
def test_label_selector_requirements(requirement, expected):
    with pytest.raises(InputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        label_selector({"matchExpressions": [requirement]})
    assert label_selector({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}) == {
        "matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]
    }


# The resource policy that copies the dump volume without the pod's backup-volumes annotation.

def test_fs_backup_policy_is_a_configmap_velero_reads():
    policy = sh.fs_backup_policy("appsnap-fsb")
    assert policy["kind"] == "ConfigMap" and policy["metadata"]["namespace"] == "velero" and policy["metadata"]["name"] == "appsnap-fsb"
    # Velero reads the one data key, whatever its name, as YAML.
    assert list(policy["data"]) == ["policies.yaml"]
    assert yaml.safe_load(policy["data"]["policies.yaml"]) == {
        "version": "v1", "volumePolicies": [{"conditions": {"volumeTypes": ["emptyDir"]}, "action": {"type": "fs-backup"}}],
    }
    two = sh.fs_backup_policy("p", "backup-system", ["emptyDir", "nfs"])
    assert yaml.safe_load(two["data"]["policies.yaml"])["volumePolicies"][0]["conditions"]["volumeTypes"] == ["emptyDir", "nfs"]
    assert two["metadata"]["namespace"] == "backup-system"


@pytest.mark.parametrize("args,expected", [
    (("Bad_Name",), "not a valid DNS-1123 label"),
    (("p", "velero", ["emptydir"]), "did you mean 'emptyDir'"),
    (("p", "velero", ["persistentVolumeClaim"]), "is not a volume type Velero knows"),
    (("p", "velero", []), "name at least one volume type"),
])
def test_fs_backup_policy_errors(args, expected):
    with pytest.raises(InputError, match=expected):
        sh.fs_backup_policy(*args)


def test_resource_policy_option_names_the_configmap():
    spec = sh.checked_backup_spec({"resource_policy": "appsnap-fsb", "default_volumes_to_fs_backup": None})
    assert spec == {"resourcePolicy": {"kind": "configmap", "name": "appsnap-fsb"}}
    assert velero_spec.spec_differences(spec, {"resourcePolicy": {"kind": "configmap", "name": "appsnap-fsb"}}) == []
