# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""How a log download trusts the object store: the caCert of the storage location that holds the backup.

Only the lookup from object to BackupStorageLocation is exercised here, with the
Kubernetes reads replaced by a dict; downloads themselves run on the lab
(tests/integration/modules), where MinIO speaks plain HTTP.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroClient
from ansible_collections.appsnap.velero.plugins.module_utils.velero.logs import VeleroLogs

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class ObjectsClient(object):
    """A VeleroClient whose reads come from a dict of (kind, name) -> object."""

    # The real client's lookup, over this client's list().
    default_storage_location = VeleroClient.default_storage_location

    def __init__(self, objects):
        self.objects = objects

    def get(self, kind, name, namespace=None):
        return self.objects.get((kind, name))

    def list(self, kind, namespace=None, label_selector=None):
        return [obj for (obj_kind, _name), obj in self.objects.items() if obj_kind == kind]


def logs_over(objects):
    """The log downloader over ObjectsClient; storage_tls only reads, so it needs no waiter."""
    return VeleroLogs(ObjectsClient(objects), None)


def location(name, ca=None, default=False, config=None):
    storage = {"bucket": "b"}
    if ca:
        storage["caCert"] = base64.b64encode(ca).decode("ascii")
    return {"metadata": {"name": name}, "spec": {"default": default, "objectStorage": storage, "config": config or {}}}


@pytest.fixture
def objects():
    return {
        ("BackupStorageLocation", "default"): location("default", default=True),
        ("BackupStorageLocation", "private"): location("private", ca=PEM),
        ("Backup", "in-private"): {"metadata": {"name": "in-private"}, "spec": {"storageLocation": "private"}},
        ("Backup", "in-default"): {"metadata": {"name": "in-default"}, "spec": {}},
        ("Restore", "from-private"): {"metadata": {"name": "from-private"}, "spec": {"backupName": "in-private"}},
    }


def test_backup_log_trusts_its_locations_ca(objects):
    assert logs_over(objects).storage_tls("BackupLog", "in-private") == (PEM, True)


def test_restore_log_follows_the_restore_to_its_backups_location(objects):
    assert logs_over(objects).storage_tls("RestoreLog", "from-private") == (PEM, True)


def test_no_ca_means_the_system_trust_store(objects):
    assert logs_over(objects).storage_tls("BackupLog", "in-default") == (None, True)


def test_backup_without_location_uses_the_default_location(objects):
    objects[("BackupStorageLocation", "default")] = location("default", ca=PEM, default=True)
    assert logs_over(objects).storage_tls("BackupResults", "in-default") == (PEM, True)


def test_a_location_marked_insecure_is_not_verified(objects):
    objects[("BackupStorageLocation", "default")] = location("default", default=True, config={"insecureSkipTLSVerify": "true"})
    assert logs_over(objects).storage_tls("BackupLog", "in-default") == (None, False)
    objects[("BackupStorageLocation", "default")] = location("default", default=True, config={"insecureSkipTLSVerify": "false"})
    assert logs_over(objects).storage_tls("BackupLog", "in-default") == (None, True)
