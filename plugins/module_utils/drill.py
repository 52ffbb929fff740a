# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The restore drill: its scratch namespace, what its Restore changes so that namespace mapping cannot reach production,
and the record of a verified backup on the Backup object (which backup_verify's ``drilled`` reads back).

The drill role (roles/drill) runs these through filters; no cluster access here, so unit tests reach all of it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.appsnap.velero.plugins.module_utils.validation import InputError, validate_dns1123_label

# The annotations a successful drill writes on the Backup it restored: when, and what it verified. Never a secret.
VERIFIED_AT = "appsnap.velero/verified-at"
VERIFIED_TABLES = "appsnap.velero/verified-tables"
VERIFIED_ROWS = "appsnap.velero/verified-rows"
VERIFIED_IN = "appsnap.velero/verified-in"

SCRATCH_SUFFIX = "-drill"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def scratch_namespace(source, scratch=None):
    """The namespace a drill of ``source`` restores into: ``scratch``, or ``<source>-drill``; a DNS label, never ``source``."""
    validate_dns1123_label(source, "drill_namespace")
    if not scratch:
        scratch = source[:63 - len(SCRATCH_SUFFIX)].rstrip("-") + SCRATCH_SUFFIX
    validate_dns1123_label(scratch, "drill_scratch_namespace")
    if scratch == source:
        raise InputError(
            "drill_scratch_namespace %r is the source namespace; a drill never restores into it. Name another namespace, "
            "or leave drill_scratch_namespace empty for %r." % (scratch, source[:63 - len(SCRATCH_SUFFIX)].rstrip("-") + SCRATCH_SUFFIX)
        )
    return scratch


def scratch_restore_modifier(name):
    """A ConfigMap of Velero resource modifiers (the restore module's ``resource_modifier``) that makes each restored
    PersistentVolumeClaim provision a new volume.

    Velero 1.18 (pkg/restore/restore.go) keeps a restored claim's ``spec.volumeName`` unless it restores the claim's
    PersistentVolume for dynamic provisioning. The drill restores no PersistentVolume (a PV object restored as it was
    backed up - a Retain volume without a snapshot, or a renamed one when restorePVs is off - points at production's
    storage), so the claim would name production's volume and stay Pending; without ``volumeName`` it gets a new one
    from its storage class. A JSON merge patch removes the field when present and changes nothing otherwise.
    """
    validate_dns1123_label(name, "the resource modifier's name")
    rules = (
        "version: v1\n"
        "resourceModifierRules:\n"
        "- conditions:\n"
        "    groupResource: persistentvolumeclaims\n"
        "  mergePatches:\n"
        "  - patchData: '{\"spec\": {\"volumeName\": null}}'\n"
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "appsnap.velero"}},
        "data": {"modifiers.yaml": rules},
    }


def verified_annotations(replay, scratch, now=None):
    """The annotations recording a drill's verified replay on the Backup: ``replay`` is what was verified, the tables and rows
    (the pg_replay role's ``pg_replay_result.verified``)."""
    if not isinstance(replay, dict) or "tables" not in replay or "rows" not in replay:
        raise InputError("verified_annotations takes the pg_replay role's pg_replay_result.verified (with tables and rows), got %r." % (replay,))
    when = now or datetime.datetime.now(datetime.timezone.utc)
    return {
        VERIFIED_AT: when.strftime(TIMESTAMP_FORMAT),
        VERIFIED_TABLES: str(int(replay["tables"])),
        VERIFIED_ROWS: str(int(replay["rows"])),
        VERIFIED_IN: validate_dns1123_label(scratch, "the scratch namespace"),
    }


def verified_at(backup):
    """When a drill verified ``backup`` (its VERIFIED_AT annotation), or None when none did or the value is not a timestamp."""
    value = (((backup or {}).get("metadata") or {}).get("annotations") or {}).get(VERIFIED_AT)
    try:
        return datetime.datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=datetime.timezone.utc) if value else None
    except ValueError:
        return None
