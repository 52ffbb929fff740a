# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading and writing Velero objects through the Kubernetes API, and the errors that come back.

Core objects too (given their api_version): pre-flight reads pods, the velero
Deployment and the node-agent DaemonSet through the same get/list.

Never shells out to kubectl or velero, so the K8S_AUTH_* credentials that
AWX injects are the only ones needed. Waiting lives in velero_waiter,
pre-flight checks in velero_preflight, log downloads in velero_logs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import json

from ansible_collections.appsnap.velero.plugins.module_utils.velero import connection
from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import (
    ConflictError,
    DynamicApiError,
    ForbiddenError,
    NotFoundError,
    ResourceNotFoundError,
    api_client,
)

API_VERSION = "velero.io/v1"
LABEL_VALUE_MAX = 63


def label_value(name):
    """The value Velero writes in its ``velero.io/backup-name`` and ``velero.io/restore-name`` labels for ``name``.

    A label value holds at most 63 characters; Velero (pkg/label GetValidName) keeps a longer name's first 57
    and adds the first 6 hex digits of its SHA-256, so a selector must do the same to find its objects.
    """
    if len(name) <= LABEL_VALUE_MAX:
        return name
    return name[:LABEL_VALUE_MAX - 6] + hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]


class VeleroError(Exception):
    """A failure the module reports as is. ``result`` carries what is known so far."""

    def __init__(self, msg, **result):
        super(VeleroError, self).__init__(msg)
        self.msg = msg
        self.result = result


def _plain(obj):
    if obj is None:
        return None
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _api_message(exc):
    body = getattr(exc, "body", None)
    if body:
        try:
            return json.loads(body).get("message") or str(body)
        except (ValueError, AttributeError):
            return str(body)
    return str(exc)


class VeleroClient(object):
    """CRUD on the objects in the Velero namespace; API errors become a VeleroError that names the fix."""

    def __init__(self, module):
        self.module = module
        # Modules that touch only the application's objects (pg_hook) have no velero_namespace option.
        self.namespace = module.params.get("velero_namespace") or "velero"
        self.check_mode = module.check_mode
        missing = connection.kubeconfig_problem(module.params)
        if missing:
            raise VeleroError(missing)
        with self._connection():
            self.api = api_client(module)
        self._resources = {}

    @contextlib.contextmanager
    def _connection(self):
        """Connection failures (kubeconfig, network, TLS, credentials) as one VeleroError that names the fix."""
        try:
            yield
        except VeleroError:
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught  # the client fails in many shapes
            message = connection.explain(exc, self.module.params)
            if message is None:
                raise
            raise VeleroError(message)

    def guarded(self, call, *args, **kwargs):
        """``call(*args, **kwargs)`` (kubernetes.core's waiter, say), a connection failure raised as one VeleroError."""
        with self._connection():
            return call(*args, **kwargs)

    def _api(self, verb, *args, **kwargs):
        """One call of the dynamic client; a connection failure (401, TLS, refused) becomes one line."""
        with self._connection():
            return getattr(self.api, verb)(*args, **kwargs)

    def resource(self, kind, api_version=API_VERSION):
        key = (kind, api_version)
        if key not in self._resources:
            try:
                with self._connection():
                    self._resources[key] = self.api.resource(kind, api_version)
            except ResourceNotFoundError:
                if api_version == API_VERSION:
                    raise VeleroError(
                        "Velero is not installed: the %s CRD (%s) is missing from the cluster. Install Velero "
                        "(velero install ...) or point kubeconfig/context at the cluster that runs it." % (kind, api_version)
                    )
                raise VeleroError("The cluster has no %s %s API." % (api_version, kind))
        return self._resources[key]

    def get(self, kind, name, namespace=None, api_version=API_VERSION):
        """One object, or None when it does not exist; core kinds too, given their api_version (v1, apps/v1)."""
        namespace = namespace or self.namespace
        try:
            return _plain(self._api("get", self.resource(kind, api_version), name=name, namespace=namespace))
        except NotFoundError:
            return None
        except ForbiddenError as exc:
            raise self._forbidden(exc, "get", kind, namespace, api_version)

    def list(self, kind, namespace=None, label_selector=None, api_version=API_VERSION, all_namespaces=False):
        """The objects of one namespace (Velero's by default), or of every namespace with ``all_namespaces``."""
        namespace = None if all_namespaces else namespace or self.namespace
        try:
            items = self._api("get", self.resource(kind, api_version), namespace=namespace, label_selector=label_selector)
        except ForbiddenError as exc:
            raise self._forbidden(exc, "list", kind, namespace, api_version)
        return [_plain(item) for item in (_plain(items).get("items") or [])]

    def create(self, definition):
        definition.setdefault("apiVersion", API_VERSION)
        definition["metadata"].setdefault("namespace", self.namespace)
        try:
            return _plain(self._api("create", self.resource(definition["kind"]), definition, namespace=definition["metadata"]["namespace"]))
        except ForbiddenError as exc:
            raise self._forbidden(exc, "create", definition["kind"])
        except ConflictError:
            raise VeleroError("A %s named %s already exists." % (definition["kind"], definition["metadata"].get("name")))
        except DynamicApiError as exc:
            raise VeleroError("The API server refused the %s: %s" % (definition["kind"], _api_message(exc)))

    def patch(self, kind, name, patch, namespace=None, api_version=API_VERSION, strategic=False):
        """A JSON merge patch of an object (Velero's by default), or with ``strategic`` a strategic merge patch (core kinds)."""
        namespace = namespace or self.namespace
        content_type = "application/strategic-merge-patch+json" if strategic else "application/merge-patch+json"
        try:
            return _plain(
                self._api("patch", self.resource(kind, api_version), patch, name=name, namespace=namespace, content_type=content_type)
            )
        except ForbiddenError as exc:
            raise self._forbidden(exc, "patch", kind, namespace, api_version)
        except DynamicApiError as exc:
            raise VeleroError("The API server refused the change to %s %s: %s" % (kind, name, _api_message(exc)))

    def delete(self, kind, name):
        try:
            return _plain(self._api("delete", self.resource(kind), name=name, namespace=self.namespace))
        except NotFoundError:
            return None
        except ForbiddenError as exc:
            raise self._forbidden(exc, "delete", kind)

    def allowed(self, review):
        """Whether the API server grants the caller what a SelfSubjectAccessReview asks (velero/access.py builds them)."""
        answer = self._api("create", self.resource("SelfSubjectAccessReview", "authorization.k8s.io/v1"), review)
        return bool((_plain(answer).get("status") or {}).get("allowed"))

    def server_version(self):
        """The API server's version, such as v1.34.4, read at connection time (no extra call)."""
        return ((self.api.client.version or {}).get("kubernetes") or {}).get("gitVersion")

    def default_storage_location(self):
        """The BackupStorageLocation marked default, else the one Velero names "default"."""
        for bsl in self.list("BackupStorageLocation"):
            if (bsl.get("spec") or {}).get("default"):
                return bsl["metadata"]["name"]
        return "default"

    def watch(self, kind, name, resource_version, timeout):
        """The raw event stream of one object (velero_waiter.watch_until resumes it and decides when to stop)."""
        return self.api.client.watch(
            self.resource(kind),
            namespace=self.namespace,
            field_selector="metadata.name=%s" % name,
            resource_version=resource_version,
            timeout=timeout,
        )

    def _forbidden(self, exc, verb, kind, namespace="", api_version=API_VERSION):
        """Permission denied, naming the verb and resource to grant; ``namespace`` None means every namespace."""
        group = api_version.rpartition("/")[0]
        resource = kind.lower() + "s" + ("." + group if group else "")
        where = "in every namespace" if namespace is None else "in namespace %s" % (namespace or self.namespace)
        return VeleroError(
            "Permission denied: cannot %s %s %s (%s). Grant the job's service account the verb %r on "
            "%s, as in the collection's RBAC manifest." % (verb, kind, where, _api_message(exc), verb, resource)
        )

    def pod_volume_backups(self, backup_name):
        return self.list("PodVolumeBackup", label_selector="velero.io/backup-name=%s" % label_value(backup_name))

    def pod_volume_restores(self, restore_name):
        return self.list("PodVolumeRestore", label_selector="velero.io/restore-name=%s" % label_value(restore_name))
