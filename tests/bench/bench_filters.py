#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: backup_volume then backup_hooks over N StatefulSet manifests, one core.

    python tests/bench/bench_filters.py [--count 10000] [--repeat 5]

Prints manifests per second for the best and the median run. Not a test:
it asserts nothing about speed, it measures.
"""

from __future__ import absolute_import, division, print_function

import argparse
import copy
import os
import platform
import statistics
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "build", "collections"))

from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import all_filters  # noqa: E402

FILTERS = all_filters()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with open(os.path.join(HERE, "..", "unit", "fixtures", "seed", "postgres-deployment.yaml")) as handle:
        seed = yaml.safe_load(handle)
    manifests = []
    for index in range(args.count):
        obj = copy.deepcopy(seed)
        obj["metadata"]["name"] = "pg-%d" % index
        manifests.append(obj)
    pre = FILTERS["pg_dump_hook"]("postgres")
    rates = []
    for _run in range(args.repeat):
        start = time.perf_counter()
        for obj in manifests:
            hooked = FILTERS["backup_volume"](obj, "postgresql-backup", "/backup")
            FILTERS["backup_hooks"](hooked, pre=pre, backup_volumes=["postgresql-backup"])
        rates.append(args.count / (time.perf_counter() - start))
    print("machine: %s, %s cores, Python %s" % (platform.processor() or platform.machine(), os.cpu_count(), platform.python_version()))
    print(
        "backup_volume + backup_hooks on %d StatefulSets: best %.0f/s, median %.0f/s (%d runs)"
        % (args.count, max(rates), statistics.median(rates), args.repeat)
    )


if __name__ == "__main__":
    main()
