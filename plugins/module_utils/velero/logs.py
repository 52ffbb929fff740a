# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Velero's backup and restore logs: the download, the object store's TLS trust, and the lines that explain a failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import gzip
import os
import re
import tempfile
import uuid

from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroError

_LOG_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')

# Fields that make a line long without explaining the failure (hookCommand repeats the whole script).
_NOISY_FIELDS = ("hookCommand", "logSource", "time")


def parse_log_line(line):
    """Split a logrus text line into its key=value fields."""
    fields = {}
    for key, value in _LOG_FIELD.findall(line):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        fields[key] = value
    return fields


def _compact(fields):
    parts = []
    for key, value in fields.items():
        if key in _NOISY_FIELDS:
            continue
        value = value.replace("\\n", " ").strip()
        parts.append('%s="%s"' % (key, value) if (" " in value or not value) else "%s=%s" % (key, value))
    return " ".join(parts)


def relevant_log_lines(text, limit=40):
    """The lines of a Velero backup/restore log that explain a failure.

    Errors, hook and pod-volume warnings, and the hooks' own non-empty
    stderr, which Velero logs at info level (that is where pg_dump says why).
    """
    lines = []
    for line in (text or "").splitlines():
        fields = parse_log_line(line)
        level = fields.get("level")
        lowered = line.lower()
        about_hooks_or_volumes = "hook" in lowered or "podvolume" in lowered or "pod volume" in lowered
        hook_stderr = fields.get("msg", "").startswith("stderr: ") and fields["msg"][8:].strip()
        if level in ("error", "fatal", "panic") or (level == "warning" and about_hooks_or_volumes) or hook_stderr:
            lines.append(_compact(fields))
    return lines[-limit:]


def _fetch(url, timeout, ca_pem, verify):
    """GET ``url``, trusting ``ca_pem`` (bytes or None) when ``verify``."""
    # Imported here: urls pulls in ~75 ms of modules that only a log download needs.
    from ansible.module_utils.urls import open_url

    ca_file = None
    try:
        if ca_pem:
            # open_url takes a CA file, not data; the BSL's caCert is the trust anchor for a private object store.
            handle, ca_file = tempfile.mkstemp(suffix=".pem")
            with os.fdopen(handle, "wb") as ca_out:
                ca_out.write(ca_pem)
        return open_url(url, method="GET", timeout=timeout, validate_certs=verify, ca_path=ca_file).read()
    finally:
        if ca_file:
            os.unlink(ca_file)


class VeleroLogs(object):
    """Fetches logs through DownloadRequests, as `velero backup logs` does."""

    def __init__(self, client, waiter):
        self.client = client
        self.waiter = waiter

    def download(self, target_kind, name, timeout=60):
        """Fetch a BackupLog/RestoreLog through a DownloadRequest, as `velero backup logs` does."""
        request_name = "%s-%s" % (name[:200], uuid.uuid4().hex[:8])
        self.client.create({"kind": "DownloadRequest", "metadata": {"name": request_name}, "spec": {"target": {"kind": target_kind, "name": name}}})
        try:
            processed = self.waiter.watch_until(
                "DownloadRequest", request_name, lambda o: bool((o.get("status") or {}).get("downloadURL")), timeout
            )
        finally:
            self.client.delete("DownloadRequest", request_name)
        if processed is None:
            raise VeleroError("Velero did not answer the DownloadRequest for the %s of %s within %ds." % (target_kind, name, timeout))
        ca_pem, verify = self.storage_tls(target_kind, name)
        data = _fetch(processed["status"]["downloadURL"], timeout, ca_pem, verify)
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
        client = self.client
        backup_name = name
        if target_kind.startswith("Restore"):
            restore = client.get("Restore", name) or {}
            backup_name = (restore.get("spec") or {}).get("backupName")
        backup = client.get("Backup", backup_name) if backup_name else None
        location_name = ((backup or {}).get("spec") or {}).get("storageLocation") or client.default_storage_location()
        location = client.get("BackupStorageLocation", location_name) if location_name else None
        spec = (location or {}).get("spec") or {}
        ca_cert = (spec.get("objectStorage") or {}).get("caCert")
        insecure = str((spec.get("config") or {}).get("insecureSkipTLSVerify", "")).lower() == "true"
        return (base64.b64decode(ca_cert) if ca_cert else None), not insecure

    def failure_log_lines(self, target_kind, name):
        try:
            return relevant_log_lines(self.download(target_kind, name))
        except Exception as exc:  # the failure itself matters more than its log; say why the log is missing
            return ["(could not fetch the %s of %s: %s)" % (target_kind, name, exc)]
