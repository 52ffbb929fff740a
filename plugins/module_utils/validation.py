# -*- coding: utf-8 -*-
# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validation of single input values, and the error every check raises.

Used by the manifest filters (pod_hooks), the PostgreSQL command builders
(pg_commands) and the Velero custom resources (velero_spec, spec_hooks).
Nothing here imports Ansible, so it also runs as module_utils on a managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

ON_ERROR_CHOICES = ("Fail", "Continue")

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Go's time.ParseDuration grammar, with a unit required on every number:
# Velero silently turns "300" in an annotation into its 30s default (velero#2599),
# and a "300" in a Backup's spec breaks its list/watch of all Backups (seen on 1.18.3).
_GO_DURATION = re.compile(r"^(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$")
_BARE_NUMBER = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_LABEL_PAIR = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*=\s*([A-Za-z0-9._-]*)\s*$")
# metav1.LabelSelectorRequirement operators, and whether each takes values.
SELECTOR_OPERATORS = {"In": True, "NotIn": True, "Exists": False, "DoesNotExist": False}


class InputError(ValueError):
    """Bad input to the collection's logic. The message names the problem and the fix."""


def validate_dns1123_label(value, what):
    if not isinstance(value, str) or not value:
        raise InputError("%s must be a non-empty string, got %r." % (what, value))
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:63].strip("-")
        hint = " For example %r." % suggestion if suggestion and _DNS1123_LABEL.match(suggestion) else ""
        raise InputError(
            "%s %r is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit.%s" % (what, value, hint)
        )
    return value


def validate_duration(value, what):
    """Return ``value`` if it is a Go duration with units, else raise."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError("%s must be a Go duration string such as '30s' or '5m', got %r." % (what, value))
    text = str(value).strip()
    if _BARE_NUMBER.match(text):
        raise InputError(
            "%s %r has no unit. Write it as a Go duration such as '%ss': Velero ignores a bare number in an annotation "
            "(and uses its 30s default), and cannot read a Backup or Schedule whose spec holds one (its watch of every "
            "Backup fails until that object is deleted)." % (what, value, text)
        )
    if text.startswith("-") or not _GO_DURATION.match(text):
        raise InputError(
            "%s %r is not a Go duration. Use a number with a unit (ns, us, ms, s, m, h), "
            "for example '90s', '5m' or '1h30m'." % (what, value)
        )
    return text


def validate_on_error(value, what):
    if value not in ON_ERROR_CHOICES:
        raise InputError("%s must be 'Fail' or 'Continue' (case-sensitive), got %r." % (what, value))
    return value


def validate_command(value, what):
    if isinstance(value, str):
        raise InputError(
            "%s must be a list of strings, not a string: Velero runs it without a shell. "
            'Write it as ["/bin/sh", "-c", %s].' % (what, json.dumps(value))
        )
    if not isinstance(value, (list, tuple)) or not value:
        raise InputError('%s must be a non-empty list of strings such as ["/bin/sh", "-c", "..."], got %r.' % (what, value))
    for item in value:
        if not isinstance(item, str):
            raise InputError("%s must contain only strings; %r is a %s. Quote it." % (what, item, type(item).__name__))
    return [str(item) for item in value]


def validate_env_name(value, what):
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise InputError("%s must be an environment variable name such as POSTGRES_USER, got %r." % (what, value))
    return value


def check_keys(value, allowed, required, what):
    if not isinstance(value, dict):
        raise InputError("%s must be a dict with the keys %s, got %r." % (what, ", ".join(sorted(allowed)), value))
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise InputError("%s has unknown keys %s; allowed keys are %s." % (what, ", ".join(unknown), ", ".join(sorted(allowed))))
    missing = [key for key in required if value.get(key) is None]
    if missing:
        raise InputError("%s is missing the required key(s) %s." % (what, ", ".join(missing)))


def _label_map(labels, what):
    if not isinstance(labels, dict):
        raise InputError("%s must be a dict of label names and values, got %r." % (what, labels))
    for key, value in labels.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise InputError("%s must map label names to strings; %r: %r is not. Quote the value in YAML ('1', 'true')." % (what, key, value))
    return dict(labels)


def _requirement(requirement, what):
    check_keys(requirement, ("key", "operator", "values"), ("key", "operator"), what)
    operator, values = requirement["operator"], requirement.get("values") or []
    if operator not in SELECTOR_OPERATORS:
        raise InputError("%s.operator must be one of %s (case-sensitive), got %r." % (what, ", ".join(SELECTOR_OPERATORS), operator))
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InputError("%s.values must be a list of strings, got %r." % (what, values))
    if SELECTOR_OPERATORS[operator] != bool(values):
        need = "needs at least one value" if SELECTOR_OPERATORS[operator] else "takes no values"
        raise InputError("%s: operator %s %s; got %r." % (what, operator, need, values))
    return dict(requirement)


def label_selector(value, what="label_selector"):
    """Accept 'a=b,c=d', a plain label dict, or a full LabelSelector; return a checked LabelSelector."""
    if value is None:
        return None
    if isinstance(value, str):
        labels = {}
        for pair in [p for p in value.split(",") if p.strip()]:
            match = _LABEL_PAIR.match(pair)
            if not match:
                raise InputError(
                    "%s %r is not a list of key=value pairs; write it as 'app=postgresql,tier=db' "
                    "or as a dict with matchLabels/matchExpressions." % (what, value)
                )
            labels[match.group(1)] = match.group(2)
        return {"matchLabels": labels}
    if isinstance(value, dict):
        if not set(value) & {"matchLabels", "matchExpressions"}:
            return {"matchLabels": _label_map(value, what)}
        check_keys(value, ("matchLabels", "matchExpressions"), (), what)
        selector = {}
        if value.get("matchLabels") is not None:
            selector["matchLabels"] = _label_map(value["matchLabels"], what + ".matchLabels")
        if value.get("matchExpressions") is not None:
            expressions = value["matchExpressions"]
            if not isinstance(expressions, list):
                raise InputError("%s.matchExpressions must be a list of {key, operator, values}, got %r." % (what, expressions))
            selector["matchExpressions"] = [_requirement(r, "%s.matchExpressions[%d]" % (what, i)) for i, r in enumerate(expressions)]
        return selector
    raise InputError("%s must be a string or a dict, got %r." % (what, value))


def duration_seconds(value):
    """Seconds in a Go duration such as '1h30m' or '250ms'."""
    text = validate_duration(value, "duration")
    units = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"([0-9.]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)", text))
