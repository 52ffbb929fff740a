# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hooking a live StatefulSet or Deployment in place, and undoing exactly that: the pg_hook module's work.

The workload as read is first taken back to what it was before any earlier run (hooks/record.py reads the
``appsnap.velero/hooked`` record); with ``state: present`` the PostgreSQL container and the database the image
creates are found (postgres/workload.py), the hook pipeline is applied (hooks/pipeline.py, the one the postgres role
applies to the manifest it deploys) and what it added is recorded. Only the difference is sent, as a strategic merge
patch (a server-side dry run in check mode), so a second run changes nothing. ``plan`` is pure; ``hook_workload``
reads, patches and waits through the client.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pipeline, record
from ansible_collections.appsnap.velero.plugins.module_utils.hooks.pod import POD_TEMPLATE_PATHS, as_plain, pod_template
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import workload as pg_workload
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroError
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import rollout_waiter

# The workloads whose rollout the module waits for (kubernetes.core's readiness predicates).
KINDS = ("StatefulSet", "Deployment")
# What makes a container PostgreSQL's: an image named like postgres, and the official image's password variables.
POSTGRES_IMAGE = "postgres"
PASSWORD_ENV = ["POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE"]
# The official image creates POSTGRES_DB, else a database named after POSTGRES_USER, else postgres.
DATABASE_ENV = ["POSTGRES_DB", "POSTGRES_DB_FILE", "POSTGRES_USER", "POSTGRES_USER_FILE"]


def _where(params):
    return "%s %s/%s" % (params["kind"], params["namespace"], params["name"])


def choose_container(workload, params):
    """The PostgreSQL container: the one named, else the only one that looks like PostgreSQL; an InputError names the fix."""
    containers = pod_template(workload)["spec"]["containers"]
    names = [c.get("name") for c in containers]
    candidates = [params["container"]] if params["container"] else pg_workload.matching_containers(
        workload, image_contains=POSTGRES_IMAGE, env_names=PASSWORD_ENV)
    if len(candidates) == 1 and candidates[0] in names:
        return candidates[0]
    if params["container"]:
        problem = "container %s is not a container of" % params["container"]
    elif candidates:
        problem = "Containers %s all look like PostgreSQL in" % " and ".join(candidates)
    else:
        problem = "No container looks like PostgreSQL (an image named like postgres, or POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE in its env) in"
    listing = ", ".join("%s (%s)" % (c.get("name"), c.get("image") or "no image") for c in containers)
    raise InputError("%s %s; its containers are %s. Set container (the pg_hook role's pg_hook_container) to the one that runs the database."
                     % (problem, _where(params), listing))


def name_databases(workload, container, objects):
    """The database the image creates, from the container's environment (``objects``: the Secrets and ConfigMaps it names)."""
    try:
        env = pg_workload.container_env(workload, container, DATABASE_ENV, objects=objects)
    except InputError as exc:
        raise InputError("Could not name the database to dump from the container's environment: %s Set databases (pg_hook_databases)." % exc)
    first = next((name for name in DATABASE_ENV if env.get(name)), "")
    if first.endswith("_FILE"):
        raise InputError(
            "Container %s reads %s from the file %s names, which only the running container can read. Set databases (pg_hook_databases)."
            % (container, first[:-5], first)
        )
    return [env.get("POSTGRES_DB") or env.get("POSTGRES_USER") or "postgres"]


def plan(current, params, read_object):
    """What the workload ``current`` should become: (desired, container, databases).

    ``read_object(kind, name)`` returns a Secret or ConfigMap of the workload's namespace (or None); it is called only
    when the databases are not given. ``desired`` differs from ``current`` only in the pod's annotations, volumes and
    mounts.
    """
    desired = record.remove_hooks(current)
    if params["state"] == "absent":
        return desired, "", []
    container = choose_container(desired, params)
    databases = params["databases"]
    if not databases:
        refs = pg_workload.env_sources(desired, container, DATABASE_ENV)
        objects = [obj for obj in (read_object(ref["kind"], ref["name"]) for ref in refs) if obj]
        databases = name_databases(desired, container, objects)
    hooked = pipeline.pg_hooked(
        desired, databases, params["backup_volume"], params["mount_path"], params["dump_path"], format=params["dump_format"], jobs=params["dump_jobs"],
        timeout=params["dump_timeout"], lock_wait_timeout=params["lock_wait_timeout"], verify=params["verify"], container=container,
        size_limit=params["size_limit"], replay=params["replay_on_restore"], replay_timeout=params["replay_timeout"],
        replay_wait_timeout=params["replay_wait_timeout"],
    )
    return record.record_hooks(hooked, desired), container, databases


def _changes(patch):
    """Whether a hooks_patch holds anything beyond apiVersion, kind and metadata."""
    return any(key not in ("apiVersion", "kind", "metadata") for key in patch)


def hook_workload(velero, params, diff=False):
    """The pg_hook module: read, plan, patch what differs (dry run in check mode), wait for the rollout, report."""
    client = velero.client
    started = time.monotonic()
    current = client.get(params["kind"], params["name"], params["namespace"], api_version="apps/v1")
    if current is None:
        raise InputError("%s %s is not in namespace %s; check kind, name and namespace." % (params["kind"], params["name"], params["namespace"]))
    current = as_plain(current)

    def read_object(kind, name):
        return client.get(kind, name, params["namespace"], api_version="v1")

    desired, container, databases = plan(current, params, read_object)
    patch = record.hooks_patch(current, desired)
    changed = _changes(patch)
    result = {"workload": _where(params), "state": params["state"], "container": container, "databases": databases, "changed": changed}
    if diff:
        result["diff"] = {"before": _hooked_view(current), "after": _hooked_view(desired)}
    if changed:
        client.patch(params["kind"], params["name"], patch, namespace=params["namespace"], api_version="apps/v1", strategic=True)
    if changed and params["wait"] and not client.check_mode:
        _wait_for_rollout(client, params)
    result["duration"] = round(time.monotonic() - started, 3)
    return result


def _hooked_view(obj):
    """What the module may change, for --diff: the workload with its pod template's annotations, volumes and mounts."""
    template = pod_template(obj)
    view = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": {"name": obj["metadata"]["name"],
            "namespace": obj["metadata"].get("namespace")}}
    node = view
    for key in POD_TEMPLATE_PATHS[obj["kind"]]:
        node = node.setdefault(key, {})
    node.update({
        "metadata": {"annotations": copy.deepcopy((template.get("metadata") or {}).get("annotations") or {})},
        "spec": {
            "volumes": copy.deepcopy(template["spec"].get("volumes") or []),
            "containers": [{"name": c.get("name"), "volumeMounts": copy.deepcopy(c.get("volumeMounts") or [])} for c in template["spec"]["containers"]],
        },
    })
    return view


def _wait_for_rollout(client, params):
    waiter = rollout_waiter(client.api, client.resource(params["kind"], "apps/v1"))
    ready, instance, elapsed = client.guarded(waiter.wait, timeout=params["wait_timeout"], sleep=1, name=params["name"], namespace=params["namespace"])
    if not ready:
        status = (instance or {}).get("status") or {}
        raise VeleroError(
            "The pod template of %s was patched, but its rollout did not finish within %ds (ready %s of %s replicas, updated %s); check its"
            " pods (kubectl -n %s rollout status %s/%s), or raise wait_timeout."
            % (_where(params), elapsed, status.get("readyReplicas", 0), status.get("replicas", 0), status.get("updatedReplicas", 0),
               params["namespace"], params["kind"].lower(), params["name"]),
            changed=True,
        )
