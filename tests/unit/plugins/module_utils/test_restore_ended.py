# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The restore module's state ended without a cluster: a Restore's API replaced by a script of phases.
tests/integration/playbooks/test_drill.py ends a real stuck Restore on the lab."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.velero import runner
from ansible_collections.appsnap.velero.plugins.module_utils.velero.client import VeleroError


class Client(object):
    """A Restore that ends once no PodVolumeRestore of it is waiting; a new one appears after the first marking."""

    namespace = "velero"

    def __init__(self, volumes, check_mode=False, never_ends=False, late=None):
        self.volumes = dict(volumes)
        self.check_mode, self.never_ends, self.late = check_mode, never_ends, late
        self.patches = []

    def get(self, kind, name, namespace=None, api_version=None):
        waiting = [n for n, phase in self.volumes.items() if phase not in runner.POD_VOLUME_DONE]
        phase = "InProgress" if waiting or self.never_ends else "PartiallyFailed"
        return {"metadata": {"name": name}, "status": {"phase": phase}}

    def pod_volume_restores(self, name):
        return [{"metadata": {"name": n}, "status": {"phase": p} if p else {}} for n, p in sorted(self.volumes.items())]

    def patch(self, kind, name, patch):
        self.patches.append((kind, name, patch["status"]["phase"], patch["status"]["message"]))
        self.volumes[name] = patch["status"]["phase"]
        if self.late:
            self.volumes[self.late], self.late = None, None


class Velero(object):
    def __init__(self, client):
        self.client = client


def params(**over):
    return dict({"name": "drill-1", "end_reason": "the copy is gone", "wait_timeout": 30}, **over)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: None)


def test_marks_what_is_not_done_again_until_velero_ends_it():
    client = Client({"pvr-a": "InProgress", "pvr-b": "Completed", "pvr-c": None}, late="pvr-d")
    result = runner.restore_state(Velero(client), params(state="ended"))
    assert result["phase"] == "PartiallyFailed" and result["changed"] is True
    assert result["ended"] == ["pvr-a", "pvr-c", "pvr-d"]
    assert {p[1] for p in client.patches} == {"pvr-a", "pvr-c", "pvr-d"}
    assert all(p[0] == "PodVolumeRestore" and p[2] == "Failed" and p[3] == "the copy is gone" for p in client.patches)


def test_an_ended_restore_is_left_as_it_is():
    client = Client({"pvr-a": "Completed"})
    result = runner.restore_ended(Velero(client), params())
    assert result["changed"] is False and result["ended"] == [] and client.patches == []


def test_check_mode_names_what_it_would_mark():
    client = Client({"pvr-a": "InProgress"}, check_mode=True)
    result = runner.restore_ended(Velero(client), params())
    assert result["changed"] is True and result["ended"] == ["pvr-a"] and client.patches == []


def test_a_restore_that_never_ends_fails_naming_where_to_look(monkeypatch):
    clock = iter(range(0, 1000, 20))
    monkeypatch.setattr(runner.time, "monotonic", lambda: next(clock))
    with pytest.raises(VeleroError, match=r"Restore drill-1 is still InProgress after 30s.*velero restore describe drill-1") as error:
        runner.restore_ended(Velero(Client({}, never_ends=True)), params())
    assert error.value.result["phase"] == "InProgress"
