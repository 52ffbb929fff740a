# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a live workload: which of its containers runs PostgreSQL, and what that container's environment says.

Pure functions over the manifest the pg_hook role reads with kubernetes.core.k8s_info (and the Secrets and
ConfigMaps it names); nothing here talks to a cluster or imports Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible_collections.appsnap.velero.plugins.module_utils.hooks.pod import find_container, one_workload, pod_template
from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError, validate_dns1123_label


def _image_name(image):
    """The repository's last path component of an image reference: 'postgres' in 'docker.io/library/postgres:15@sha256:...'."""
    return (image or "").split("@")[0].split("/")[-1].split(":")[0].lower()


def matching_containers(manifest, image_contains=None, env_names=None):
    """Names of the pod's containers that match the most of the two criteria, in pod order.

    A container matches ``image_contains`` when its image's name (the last path component, without tag
    or digest) contains it, and ``env_names`` when its ``env`` list sets any of them. Containers that match
    both win over those that match one, so a metrics exporter whose image is 'postgres-exporter' does not
    compete with the database. Returns [] when none matches.
    """
    obj = one_workload(manifest, "matching_containers")
    wanted_env = set(_string_list(env_names, "env_names"))
    if image_contains is not None and (not isinstance(image_contains, str) or not image_contains):
        raise InputError("image_contains must be a non-empty string, got %r." % (image_contains,))
    scores = []
    for container in pod_template(obj)["spec"]["containers"]:
        names = set(e.get("name") for e in container.get("env") or [] if isinstance(e, dict))
        score = int(bool(image_contains) and image_contains.lower() in _image_name(container.get("image")))
        score += int(bool(wanted_env & names))
        scores.append((container.get("name"), score))
    best = max([score for _name, score in scores] + [0])
    return [name for name, score in scores if best and score == best]


def _string_list(value, what):
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise InputError("%s must be a list of names, got %r." % (what, value))
    return list(value)


def _ref_of(source, kind):
    """{"kind", "name"} of a secretKeyRef/configMapKeyRef or secretRef/configMapRef."""
    if not isinstance(source.get("name"), str) or not source["name"]:
        raise InputError("A %s reference without a name: %r." % (kind, source))
    return {"kind": kind, "name": source["name"]}


_REF_KINDS = (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap"))
_ENV_FROM_KINDS = (("secretRef", "Secret"), ("configMapRef", "ConfigMap"))


def _container_env_entries(obj, container):
    target = find_container(pod_template(obj), container)
    return target.get("envFrom") or [], target.get("env") or []


def env_sources(manifest, container, names):
    """The Secrets and ConfigMaps ({"kind", "name"}) that may set any of ``names`` in ``container``.

    A name the ``env`` list sets literally needs none; one it takes from a key reference needs that
    object; one the ``env`` list does not set may come from any ``envFrom`` source.
    """
    obj = one_workload(manifest, "env_sources")
    validate_dns1123_label(container, "container")
    env_from, env = _container_env_entries(obj, container)
    sources = []

    def add(ref):
        if ref not in sources:
            sources.append(ref)

    for name in _string_list(names, "names"):
        entries = [e for e in env if isinstance(e, dict) and e.get("name") == name]
        if not entries:
            for source in env_from:
                for key, kind in _ENV_FROM_KINDS:
                    if isinstance((source or {}).get(key), dict):
                        add(_ref_of(source[key], kind))
            continue
        value_from = entries[-1].get("valueFrom") or {}
        for key, kind in _REF_KINDS:
            if isinstance(value_from.get(key), dict):
                add(_ref_of(value_from[key], kind))
    return sources


def _object_data(objects, ref):
    """The decoded data of the Secret or ConfigMap ``ref`` among ``objects``, or None when it is not there."""
    for item in objects or []:
        metadata = (item or {}).get("metadata") or {}
        if item.get("kind") == ref["kind"] and metadata.get("name") == ref["name"]:
            data = dict(item.get("data") or {})
            if ref["kind"] == "Secret":
                try:
                    return dict((k, base64.b64decode(v).decode("utf-8")) for k, v in data.items())
                except (TypeError, ValueError) as exc:
                    raise InputError("Secret %r holds a value that is not base64 UTF-8 text (%s)." % (ref["name"], exc))
            return data
    return None


def container_env(manifest, container, names, objects=None):
    """The values of ``names`` that ``container`` gets, as the kubelet resolves them, as {name: value}.

    Literal ``env`` values, ``secretKeyRef``/``configMapKeyRef`` and ``envFrom`` (with its prefix) are
    resolved from ``objects``, the Secrets and ConfigMaps as read from the API (env_sources lists them);
    ``env`` wins over ``envFrom``, and a later entry over an earlier one. A name no source sets is left
    out, as is one an optional reference does not find. A value only the running pod knows (fieldRef,
    resourceFieldRef) or a required reference that is missing raises InputError.
    """
    obj = one_workload(manifest, "container_env")
    validate_dns1123_label(container, "container")
    if objects is not None and not isinstance(objects, (list, tuple)):
        raise InputError("objects must be a list of Secrets and ConfigMaps as read from the API, got %r." % (objects,))
    env_from, env = _container_env_entries(obj, container)
    wanted = _string_list(names, "names")
    values = {}
    for source in env_from:
        for key, kind in _ENV_FROM_KINDS:
            if not isinstance((source or {}).get(key), dict):
                continue
            ref = _ref_of(source[key], kind)
            data = _object_data(objects, ref)
            if data is None:
                if source[key].get("optional"):
                    continue
                raise InputError("Container %r takes its environment from %s %r (envFrom), which was not found." % (container, kind, ref["name"]))
            prefix = source.get("prefix") or ""
            for key_name, value in data.items():
                if prefix + key_name in wanted:
                    values[prefix + key_name] = value
    for entry in env:
        name = (entry or {}).get("name")
        if name not in wanted:
            continue
        if "value" in entry or not entry.get("valueFrom"):
            values[name] = entry.get("value") or ""
            continue
        value_from = entry["valueFrom"]
        ref_key = next((key for key, _kind in _REF_KINDS if isinstance(value_from.get(key), dict)), None)
        if ref_key is None:
            raise InputError(
                "Container %r takes %s from %s, which only the running pod resolves." % (container, name, ", ".join(sorted(value_from)))
            )
        selector = value_from[ref_key]
        ref = _ref_of(selector, dict(_REF_KINDS)[ref_key])
        data = _object_data(objects, ref)
        if data is None or selector.get("key") not in data:
            if selector.get("optional"):
                values.pop(name, None)
                continue
            raise InputError(
                "Container %r takes %s from key %r of %s %r, which was not found." % (container, name, selector.get("key"), ref["kind"], ref["name"])
            )
        values[name] = data[selector["key"]]
    return values
