# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The permissions of a backup and restore cycle: the reviews the preflight module asks, and that
rbac/appsnap-velero-job.yaml grants every one of them (so the manifest and the check cannot drift apart)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pathlib

import pytest
import yaml
from ansible_collections.appsnap.velero.plugins.module_utils.velero import access

RBAC = pathlib.Path(__file__).resolve().parents[4] / "rbac" / "appsnap-velero-job.yaml"


def granted_rules():
    """(namespace or None, rule) for every rule the manifest binds to the job's account; 'app' stands for the app namespace."""
    items = yaml.safe_load(RBAC.read_text())["items"]
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in items if d["kind"] in ("Role", "ClusterRole")}
    rules = []
    for binding in (d for d in items if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        ref = binding["roleRef"]
        role = roles[(ref["kind"], binding["metadata"].get("namespace") if ref["kind"] == "Role" else None, ref["name"])]
        where = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        where = "app" if where == "appsnap-pg" else where
        rules.extend((where, rule) for rule in role["rules"])
    return rules


def grants(rules, verb, group, resource, name, namespace):
    return any(
        (where is None or where == namespace) and verb in rule["verbs"] and group in rule["apiGroups"] and resource in rule["resources"]
        and (not rule.get("resourceNames") or name in rule["resourceNames"])
        for where, rule in rules
    )


@pytest.mark.parametrize("permission", access.scoped("velero", ["app"]), ids=access.describe)
def test_the_manifest_grants_each_permission_the_check_asks_for(permission):
    assert grants(granted_rules(), *permission), access.describe(permission)


def test_scoped_places_each_permission():
    scoped = access.scoped("backup-system", ["shop", "stock"])
    assert ("create", "velero.io", "backups", None, "backup-system") in scoped
    assert ("get", "", "namespaces", None, None) in scoped
    assert [p[4] for p in scoped if p[2] == "pods/exec"] == ["shop", "stock"]
    assert not [p for p in access.scoped("velero", []) if p[4] not in ("velero", None)]


def test_review_asks_for_subresources_and_names():
    assert access.review("create", "", "pods/exec", namespace="shop") == {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "group": "", "resource": "pods", "subresource": "exec", "namespace": "shop"}}}
    assert access.review("get", "apps", "daemonsets", name="node-agent", namespace="velero")["spec"]["resourceAttributes"]["name"] == "node-agent"


class Reviewer(object):
    def __init__(self, denied):
        self.denied, self.asked = denied, []

    def allowed(self, review):
        attributes = review["spec"]["resourceAttributes"]
        self.asked.append(attributes)
        return (attributes["resource"], attributes.get("namespace")) not in self.denied


def test_missing_lists_every_denied_permission_in_words():
    client = Reviewer({("pods", "shop"), ("namespaces", None)})
    denied = access.missing(client, access.scoped("velero", ["shop"]))
    assert denied == ["get namespaces cluster-wide", "list pods in namespace shop", "create pods/exec in namespace shop"]
    assert len(client.asked) == len(access.CYCLE)
