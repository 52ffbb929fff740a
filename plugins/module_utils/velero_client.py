# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Talking to Velero through the Kubernetes API: pre-flight, watch, logs, volumes.

Never shells out to kubectl or velero, so the K8S_AUTH_* credentials that
AWX injects are the only ones needed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import gzip
import json
import os
import tempfile
import time
import uuid

from ansible_collections.appsnap.velero.plugins.module_utils import velero_spec
from ansible_collections.appsnap.velero.plugins.module_utils.k8s_shim import (
    ApiException,
    ConflictError,
    CoreException,
    DynamicApiError,
    ForbiddenError,
    NotFoundError,
    ResourceNotFoundError,
    api_client,
)

API_VERSION = "velero.io/v1"


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


class Velero(object):
    def __init__(self, module):
        self.module = module
        self.namespace = module.params["velero_namespace"]
        self.check_mode = module.check_mode
        try:
            self.client = api_client(module)
        except CoreException as exc:
            raise VeleroError("Could not connect to Kubernetes: %s. Set kubeconfig/context or host/api_key (or K8S_AUTH_*)." % exc)
        self._resources = {}

    # -- resources ---------------------------------------------------------

    def resource(self, kind, api_version=API_VERSION):
        key = (kind, api_version)
        if key not in self._resources:
            try:
                self._resources[key] = self.client.resource(kind, api_version)
            except ResourceNotFoundError:
                if api_version == API_VERSION:
                    raise VeleroError(
                        "Velero is not installed: the %s CRD (%s) is missing from the cluster. Install Velero "
                        "(velero install ...) or point kubeconfig/context at the cluster that runs it." % (kind, api_version)
                    )
                raise VeleroError("The cluster has no %s %s API." % (api_version, kind))
        return self._resources[key]

    def get(self, kind, name, namespace=None):
        try:
            return _plain(self.client.get(self.resource(kind), name=name, namespace=namespace or self.namespace))
        except NotFoundError:
            return None
        except ForbiddenError as exc:
            raise self._forbidden(exc, "get", kind)

    def list(self, kind, namespace=None, label_selector=None):
        try:
            items = self.client.get(self.resource(kind), namespace=namespace or self.namespace, label_selector=label_selector)
        except ForbiddenError as exc:
            raise self._forbidden(exc, "list", kind)
        return [_plain(item) for item in (_plain(items).get("items") or [])]

    def create(self, definition):
        definition.setdefault("apiVersion", API_VERSION)
        definition["metadata"].setdefault("namespace", self.namespace)
        try:
            return _plain(self.client.create(self.resource(definition["kind"]), definition, namespace=definition["metadata"]["namespace"]))
        except ForbiddenError as exc:
            raise self._forbidden(exc, "create", definition["kind"])
        except ConflictError:
            raise VeleroError("A %s named %s already exists." % (definition["kind"], definition["metadata"].get("name")))
        except DynamicApiError as exc:
            raise VeleroError("The API server refused the %s: %s" % (definition["kind"], _api_message(exc)))

    def patch(self, kind, name, patch):
        try:
            return _plain(
                self.client.patch(self.resource(kind), patch, name=name, namespace=self.namespace, content_type="application/merge-patch+json")
            )
        except ForbiddenError as exc:
            raise self._forbidden(exc, "patch", kind)
        except DynamicApiError as exc:
            raise VeleroError("The API server refused the change to %s %s: %s" % (kind, name, _api_message(exc)))

    def delete(self, kind, name):
        try:
            return _plain(self.client.delete(self.resource(kind), name=name, namespace=self.namespace))
        except NotFoundError:
            return None
        except ForbiddenError as exc:
            raise self._forbidden(exc, "delete", kind)

    def _forbidden(self, exc, verb, kind):
        return VeleroError(
            "Permission denied: cannot %s %s in namespace %s (%s). Grant the job's service account the verb %r on "
            "%s.velero.io, as in the collection's RBAC manifest." % (verb, kind, self.namespace, _api_message(exc), verb, kind.lower() + "s")
        )

    # -- pre-flight --------------------------------------------------------

    def preflight(self, storage_location=None, server_timeout=20):
        """Fail fast, before any write, when Velero cannot do the work."""
        for kind in ("Backup", "Restore", "BackupStorageLocation"):
            self.resource(kind)
        name = storage_location or self.default_storage_location()
        bsl = self.get("BackupStorageLocation", name)
        if bsl is None:
            raise VeleroError(
                "BackupStorageLocation %r does not exist in namespace %s. Create it (velero backup-location create) "
                "or set storage_location to one of: %s." % (name, self.namespace, ", ".join(self._names("BackupStorageLocation")) or "none")
            )
        phase = (bsl.get("status") or {}).get("phase")
        if phase != "Available":
            message = (bsl.get("status") or {}).get("message") or "no message"
            raise VeleroError(
                "BackupStorageLocation %r is %s: %s. Fix its bucket, credentials or s3Url (kubectl -n %s describe "
                "backupstoragelocation %s)." % (name, phase or "not yet validated", message, self.namespace, name)
            )
        self.server_answers(server_timeout)
        return bsl

    def default_storage_location(self):
        for bsl in self.list("BackupStorageLocation"):
            if (bsl.get("spec") or {}).get("default"):
                return bsl["metadata"]["name"]
        return "default"

    def _names(self, kind):
        return sorted(o["metadata"]["name"] for o in self.list(kind))

    def server_answers(self, timeout):
        """A ServerStatusRequest proves the Velero server is running; in check mode, the Deployment must be available."""
        if self.check_mode:
            deployment = self.get_deployment("velero")
            if deployment and int((deployment.get("status") or {}).get("availableReplicas") or 0) > 0:
                return
            raise VeleroError(
                "The Velero server is not running: deployment %s/velero has no available replica. Scale it up "
                "(kubectl -n %s scale deploy/velero --replicas=1) and check its logs." % (self.namespace, self.namespace)
            )
        request = self.create({"kind": "ServerStatusRequest", "metadata": {"generateName": "appsnap-"}, "spec": {}})
        name = request["metadata"]["name"]
        try:
            answered = self.watch_until("ServerStatusRequest", name, lambda o: (o.get("status") or {}).get("phase") == "Processed", timeout)
        finally:
            self.delete("ServerStatusRequest", name)
        if answered is None:
            raise VeleroError(
                "The Velero server is not answering: a ServerStatusRequest got no reply in %ds. Check that deployment "
                "%s/velero is running (kubectl -n %s get deploy velero; kubectl -n %s logs deploy/velero)."
                % (timeout, self.namespace, self.namespace, self.namespace)
            )

    def get_deployment(self, name):
        try:
            return _plain(self.client.get(self.client.resource("Deployment", "apps/v1"), name=name, namespace=self.namespace))
        except NotFoundError:
            return None

    # -- waiting -----------------------------------------------------------

    def watch_until(self, kind, name, done, timeout, on_event=None):
        """Watch one object until ``done(obj)``; return it, or None on timeout.

        The watch resumes from the last resourceVersion it saw, so no event
        is lost between the initial read and the stream.
        """
        deadline = time.monotonic() + timeout
        resource = self.resource(kind)
        obj = self.get(kind, name)
        while True:
            if obj is not None and done(obj):
                return obj
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            version = (obj or {}).get("metadata", {}).get("resourceVersion")
            try:
                for event in self.client.client.watch(
                    resource,
                    namespace=self.namespace,
                    field_selector="metadata.name=%s" % name,
                    resource_version=version,
                    timeout=max(1, int(remaining)),
                ):
                    if event["type"] == "DELETED":
                        obj = None
                        continue
                    if event["type"] not in ("ADDED", "MODIFIED"):
                        continue
                    obj = event["raw_object"]
                    if on_event:
                        on_event(obj)
                    if done(obj):
                        return obj
                    if time.monotonic() >= deadline:
                        return None
            except ApiException as exc:  # DynamicApiError from the call, ApiException from an error event in the stream
                # 410 Gone: the version expired. 504 "Too large resource version": the API server's
                # watch cache has not yet caught up with the version our read returned (older etcd
                # serves reads past the cache). Both: read again and resume watching.
                if getattr(exc, "status", None) not in (410, 504):
                    raise
                time.sleep(0.2)
            obj = self.get(kind, name)

    def wait_terminal(self, kind, name, timeout):
        obj = self.watch_until(kind, name, lambda o: velero_spec.is_terminal((o.get("status") or {}).get("phase")), timeout)
        if obj is None:
            partial = self.get(kind, name)
            raise VeleroError(
                "Timed out after %ds waiting for %s %s to finish; it is still %s. Raise wait_timeout, or check the Velero "
                "server log." % (timeout, kind, name, ((partial or {}).get("status") or {}).get("phase") or "New"),
                result=partial,
                phase=((partial or {}).get("status") or {}).get("phase") or "New",
            )
        return obj

    def wait_deleted(self, kind, name, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(kind, name) is None:
                return True
            # The watch returns at the DELETED event; a modified object just loops.
            self.watch_until(kind, name, lambda o: False, min(5, max(1, deadline - time.monotonic())))
        return self.get(kind, name) is None

    # -- volumes and logs --------------------------------------------------

    def pod_volume_backups(self, backup_name):
        return self.list("PodVolumeBackup", label_selector="velero.io/backup-name=%s" % backup_name)

    def pod_volume_restores(self, restore_name):
        return self.list("PodVolumeRestore", label_selector="velero.io/restore-name=%s" % restore_name)

    def download(self, target_kind, name, timeout=60):
        """Fetch a BackupLog/RestoreLog through a DownloadRequest, as `velero backup logs` does."""
        request_name = "%s-%s" % (name[:200], uuid.uuid4().hex[:8])
        self.create({"kind": "DownloadRequest", "metadata": {"name": request_name}, "spec": {"target": {"kind": target_kind, "name": name}}})
        try:
            processed = self.watch_until("DownloadRequest", request_name, lambda o: bool((o.get("status") or {}).get("downloadURL")), timeout)
        finally:
            self.delete("DownloadRequest", request_name)
        if processed is None:
            raise VeleroError("Velero did not answer the DownloadRequest for the %s of %s within %ds." % (target_kind, name, timeout))
        # Imported here: urls pulls in ~75 ms of modules that only a log download needs.
        from ansible.module_utils.urls import open_url

        ca_pem, verify = self.storage_tls(target_kind, name)
        ca_file = None
        try:
            if ca_pem:
                # open_url takes a CA file, not data; the BSL's caCert is the trust anchor for a private object store.
                handle, ca_file = tempfile.mkstemp(suffix=".pem")
                with os.fdopen(handle, "wb") as ca_out:
                    ca_out.write(ca_pem)
            response = open_url(processed["status"]["downloadURL"], method="GET", timeout=timeout, validate_certs=verify, ca_path=ca_file)
            data = response.read()
        finally:
            if ca_file:
                os.unlink(ca_file)
        try:
            data = gzip.decompress(data)
        except OSError:
            pass
        return data.decode("utf-8", "replace")

    def storage_tls(self, target_kind, name):
        """How to trust the object store that holds the object: its BSL's caCert, and whether to verify at all.

        `velero backup logs` trusts the BSL's caCert; a BSL configured with
        insecureSkipTLSVerify "true" already told Velero not to verify that store.
        """
        backup_name = name
        if target_kind.startswith("Restore"):
            restore = self.get("Restore", name) or {}
            backup_name = (restore.get("spec") or {}).get("backupName")
        backup = self.get("Backup", backup_name) if backup_name else None
        location_name = ((backup or {}).get("spec") or {}).get("storageLocation") or self.default_storage_location()
        location = self.get("BackupStorageLocation", location_name) if location_name else None
        spec = (location or {}).get("spec") or {}
        ca_cert = (spec.get("objectStorage") or {}).get("caCert")
        insecure = str((spec.get("config") or {}).get("insecureSkipTLSVerify", "")).lower() == "true"
        return (base64.b64decode(ca_cert) if ca_cert else None), not insecure

    def failure_log_lines(self, target_kind, name):
        try:
            return velero_spec.relevant_log_lines(self.download(target_kind, name))
        except Exception as exc:  # the failure itself matters more than its log; say why the log is missing
            return ["(could not fetch the %s of %s: %s)" % (target_kind, name, exc)]


def _api_message(exc):
    body = getattr(exc, "body", None)
    if body:
        try:
            return json.loads(body).get("message") or str(body)
        except (ValueError, AttributeError):
            return str(body)
    return str(exc)
