# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""When a Backup or Restore has finished and how it ended: the phase rules, and the watch that waits for them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.appsnap.velero.plugins.module_utils.velero.k8s_shim import ApiException
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroError

TERMINAL_PHASES = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
FAILED_PHASES = ("Failed", "FailedValidation")


def is_terminal(phase):
    """Only the four known end states are terminal; any other phase, known or not, is still running."""
    return phase in TERMINAL_PHASES


def failure_reason(summary, fail_on_partial):
    """Why a terminal object counts as failed, or None when it is good enough."""
    phase = summary["phase"]
    if phase in FAILED_PHASES:
        return "ended in phase %s" % phase
    if phase == "PartiallyFailed" and fail_on_partial:
        return "ended PartiallyFailed with %d error(s) and %d failed hook(s)" % (summary["error_count"], summary["hooks_failed"])
    return None


def _phase(obj):
    return ((obj or {}).get("status") or {}).get("phase")


class VeleroWaiter(object):
    """Waits on one object of a VeleroClient, watching rather than polling."""

    def __init__(self, client):
        self.client = client

    def watch_until(self, kind, name, done, timeout, on_event=None):
        """Watch one object until ``done(obj)``; return it, or None on timeout.

        The watch resumes from the last resourceVersion it saw, so no event
        is lost between the initial read and the stream.
        """
        deadline = time.monotonic() + timeout
        obj = self.client.get(kind, name)
        while True:
            if obj is not None and done(obj):
                return obj
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            version = (obj or {}).get("metadata", {}).get("resourceVersion")
            try:
                for event in self.client.watch(kind, name, version, max(1, int(remaining))):
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
            obj = self.client.get(kind, name)

    def wait_terminal(self, kind, name, timeout):
        obj = self.watch_until(kind, name, lambda o: is_terminal(_phase(o)), timeout)
        if obj is None:
            partial = self.client.get(kind, name)
            raise VeleroError(
                "Timed out after %ds waiting for %s %s to finish; it is still %s. Raise wait_timeout, or check the Velero "
                "server log." % (timeout, kind, name, _phase(partial) or "New"),
                result=partial,
                phase=_phase(partial) or "New",
            )
        return obj

    def wait_deleted(self, kind, name, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.get(kind, name) is None:
                return True
            # The watch returns at the DELETED event; a modified object just loops.
            self.watch_until(kind, name, lambda o: False, min(5, max(1, deadline - time.monotonic())))
        return self.client.get(kind, name) is None
