# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pre-flight: before any write, prove that Velero can do the work (CRDs, storage location, a running server)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.appsnap.velero.plugins.module_utils.velero_client import VeleroError


def default_storage_location(client):
    """The BackupStorageLocation marked default, else the one Velero names "default"."""
    for bsl in client.list("BackupStorageLocation"):
        if (bsl.get("spec") or {}).get("default"):
            return bsl["metadata"]["name"]
    return "default"


class Preflight(object):
    """Fail fast, before any write, when Velero cannot do the work."""

    def __init__(self, client, waiter):
        self.client = client
        self.waiter = waiter

    def run(self, storage_location=None, server_timeout=20):
        """Check the CRDs, the storage location and the server; return the BackupStorageLocation."""
        client = self.client
        for kind in ("Backup", "Restore", "BackupStorageLocation"):
            client.resource(kind)
        name = storage_location or default_storage_location(client)
        bsl = client.get("BackupStorageLocation", name)
        if bsl is None:
            raise VeleroError(
                "BackupStorageLocation %r does not exist in namespace %s. Create it (velero backup-location create) "
                "or set storage_location to one of: %s." % (name, client.namespace, ", ".join(self._names("BackupStorageLocation")) or "none")
            )
        phase = (bsl.get("status") or {}).get("phase")
        if phase != "Available":
            message = (bsl.get("status") or {}).get("message") or "no message"
            raise VeleroError(
                "BackupStorageLocation %r is %s: %s. Fix its bucket, credentials or s3Url (kubectl -n %s describe "
                "backupstoragelocation %s)." % (name, phase or "not yet validated", message, client.namespace, name)
            )
        self.server_answers(server_timeout)
        return bsl

    def _names(self, kind):
        return sorted(o["metadata"]["name"] for o in self.client.list(kind))

    def server_answers(self, timeout):
        """A ServerStatusRequest proves the Velero server is running; in check mode, the Deployment must be available."""
        client = self.client
        if client.check_mode:
            deployment = client.get("Deployment", "velero", api_version="apps/v1")
            if deployment and int((deployment.get("status") or {}).get("availableReplicas") or 0) > 0:
                return
            raise VeleroError(
                "The Velero server is not running: deployment %s/velero has no available replica. Scale it up "
                "(kubectl -n %s scale deploy/velero --replicas=1) and check its logs." % (client.namespace, client.namespace)
            )
        request = client.create({"kind": "ServerStatusRequest", "metadata": {"generateName": "appsnap-"}, "spec": {}})
        name = request["metadata"]["name"]
        try:
            answered = self.waiter.watch_until("ServerStatusRequest", name, lambda o: (o.get("status") or {}).get("phase") == "Processed", timeout)
        finally:
            client.delete("ServerStatusRequest", name)
        if answered is None:
            raise VeleroError(
                "The Velero server is not answering: a ServerStatusRequest got no reply in %ds. Check that deployment "
                "%s/velero is running (kubectl -n %s get deploy velero; kubectl -n %s logs deploy/velero)."
                % (timeout, client.namespace, client.namespace, client.namespace)
            )
