# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection options are kubernetes.core's (kubernetes.core.k8s_auth_options), taken
    # from its argument spec through module_utils/k8s_shim.py; each falls back to K8S_AUTH_*.
    DOCUMENTATION = r"""
options:
  velero_namespace:
    description:
      - The namespace Velero is installed in, where its Backups, Restores, Schedules and storage locations live.
    type: str
    default: velero
notes:
  - Every connection option falls back to its C(K8S_AUTH_*) environment variable, as in kubernetes.core, which is how
    AWX and AAP pass credentials. No kubeconfig is needed when C(K8S_AUTH_HOST) and C(K8S_AUTH_API_KEY) are set.
  - The modules talk to the Kubernetes API only; they never run C(kubectl) or the C(velero) CLI.
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 5.4
"""

    WAIT = r"""
options:
  wait:
    description:
      - Wait until the object reaches a terminal phase (Completed, PartiallyFailed, Failed or FailedValidation).
      - Waiting uses the Kubernetes watch API on C(status.phase). Any other phase, including one this collection does not
        know, counts as still running.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait. On timeout the task fails with the partial object in RV(result).
    type: int
    default: 1800
  fail_on_partial:
    description:
      - Fail when the object ends PartiallyFailed, not only when it ends Failed or FailedValidation.
      - On failure the message carries the hook and pod-volume error lines of Velero's log, fetched through a DownloadRequest.
    type: bool
    default: true
"""
