# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place that imports kubernetes.core and the kubernetes client.

kubernetes.core does not promise a stable module_utils API, so every use of
it goes through here: if it moves, only this file changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.waiter import get_waiter

    HAS_K8S_CORE = True
    K8S_CORE_IMPORT_ERROR = None
except ImportError as exc:  # kubernetes.core or the kubernetes client is missing
    HAS_K8S_CORE = False
    K8S_CORE_IMPORT_ERROR = exc
    AUTH_ARG_SPEC = {}
    AnsibleK8SModule = None
    get_api_client = None
    get_waiter = None

    class CoreException(Exception):
        pass


try:
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, ForbiddenError, NotFoundError, ResourceNotFoundError
except ImportError:  # new_module() fails with a clear message first; these only keep the imports valid

    class ApiException(Exception):
        status = None

    class DynamicApiError(ApiException):
        pass

    class ConflictError(DynamicApiError):
        pass

    class ForbiddenError(DynamicApiError):
        pass

    class NotFoundError(DynamicApiError):
        pass

    class ResourceNotFoundError(Exception):
        pass


__all__ = [
    "AnsibleK8SModule",
    "ApiException",
    "ConflictError",
    "CoreException",
    "DynamicApiError",
    "ForbiddenError",
    "NotFoundError",
    "ResourceNotFoundError",
    "AUTH_ARG_SPEC",
    "api_client",
    "new_module",
    "rollout_waiter",
]


def new_module(argument_spec, **kwargs):
    """An AnsibleK8SModule, or a plain AnsibleModule that fails naming the missing dependency."""
    if not HAS_K8S_CORE:
        module = AnsibleModule(argument_spec=argument_spec, **kwargs)
        module.fail_json(
            msg="appsnap.velero needs the kubernetes.core collection (>=5.0.0) and the kubernetes Python library: "
            "ansible-galaxy collection install kubernetes.core && pip install kubernetes. (%s)" % K8S_CORE_IMPORT_ERROR
        )
    return AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argument_spec, **kwargs)


def api_client(module):
    return get_api_client(module=module)


def rollout_waiter(client, resource):
    """kubernetes.core's waiter for a Deployment's or StatefulSet's rollout (its readiness predicates); ``wait(timeout, sleep, name, namespace)``."""
    return get_waiter(client, resource, state="present")
