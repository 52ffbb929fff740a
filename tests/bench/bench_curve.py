#!/usr/bin/env python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the cost curve, the full cycle's phases against database size, per dump format and for the raw path.

    tests/bench/bench_curve.py [--scales 1,10,70] [--formats plain,plain-compressed,custom,directory] [--jobs 2]
                               [--image localhost/appsnap/postgres:17] [--plot-only]

Scales 300 and 700 (about 4.4 and 10 GiB) are opt-in: --scales 300,700 --formats plain-compressed.
Needs the lab (lab/lab up), the collection laid out (source tests/lib.sh; layout_collection) and
matplotlib (tests/bench/requirements.txt). For every scale and format it runs one cycle of
bench_cycle.py (deploy with the roles, seed pgbench, backup.yml, delete the namespace, restore.yml,
replay.yml, the phases taken from the lab's own records), and once per scale, in the first format's
pod, the raw path: pg_dump > file and psql -f file into a fresh database.

Every result is merged into build/bench/curve.json (one record per scale and format, the newest
kept, so runs of different scales add up); then the whole file is drawn to build/bench/curve.png:
seconds of the four phases (dump + upload + restore + replay; raw: dump + replay) against the
database's size, one line per format and one for the raw path, each with its least-squares line:
fixed cost (intercept, s) and slope (s/GiB). The table printed last is the README's.
"""

from __future__ import absolute_import, division, print_function

import argparse
import datetime
import json
import os
import platform
import time
import types

from bench_backup_module import Kubectl
from bench_cycle import LOG_DIR, cycle

PHASES = ("dump", "upload", "restore", "replay")
RAW = "raw"
FORMATS = ("plain", "plain-compressed", "custom", "directory")
RESULTS = os.path.join(LOG_DIR, "curve.json")
PICTURE = os.path.join(LOG_DIR, "curve.png")
GIB = float(2 ** 30)


def load():
    if os.path.exists(RESULTS):
        with open(RESULTS) as handle:
            return json.load(handle)
    return {"runs": []}


def save(data):
    with open(RESULTS + ".tmp", "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.rename(RESULTS + ".tmp", RESULTS)


def record(data, entry):
    """Keep one record per (scale, format): the newest."""
    data["runs"] = [run for run in data["runs"] if (run["scale"], run["format"]) != (entry["scale"], entry["format"])] + [entry]
    save(data)


def seconds(run):
    """The four phases of a cycle; the raw path has two (dump and replay)."""
    return sum(run.get(phase, 0) for phase in PHASES)


def fit(points):
    """Least squares over (GiB, seconds): (fixed seconds, seconds per GiB); None below two sizes."""
    if len(set(x for x, _y in points)) < 2:
        return None
    n = float(len(points))
    mean_x = sum(x for x, _y in points) / n
    mean_y = sum(y for _x, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _y in points)
    return mean_y - slope * mean_x, slope


def series(data):
    """{format: sorted [(GiB, seconds, run)]}, the raw path under RAW."""
    lines = {}
    for run in data["runs"]:
        lines.setdefault(run["format"], []).append((run["bytes"] / GIB, seconds(run), run))
    return {name: sorted(points, key=lambda p: p[0]) for name, points in lines.items()}


def plot(data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=110)
    order = [RAW] + [f for f in FORMATS if f != RAW]
    for name in order + sorted(set(series(data)) - set(order)):
        points = series(data).get(name)
        if not points:
            continue
        xs = [p[0] for p in points]
        line = fit([(p[0], p[1]) for p in points])
        label = "raw pg_dump > file + psql -f (in the pod)" if name == RAW else name
        if line:
            label += ": %.1f s + %.1f s/GiB" % line
        drawn = axes.plot(xs, [p[1] for p in points], marker="o", linestyle="-" if name != RAW else "--", label=label)[0]
        if line and len(points) > 2:
            axes.plot([0, max(xs)], [line[0], line[0] + line[1] * max(xs)], color=drawn.get_color(), linestyle=":", linewidth=1)
    axes.set_xlabel("database size (pg_database_size, GiB)")
    axes.set_ylabel("seconds: dump + upload + restore + replay")
    axes.set_title("The cycle's cost against database size (pgbench; %s, shared: load per point in curve.json)" % data.get("machine", "lab"), fontsize=10)
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend(title="format: fixed cost + slope (least squares; dotted)", fontsize=8, title_fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(PICTURE)
    return PICTURE


def table(data):
    """The README's table: per scale and format, the phases, the bytes Velero moved, and the ratio to the raw path."""
    raw = dict((run["scale"], run) for run in data["runs"] if run["format"] == RAW)
    rows = ["| scale | GiB | format | dump | upload | restore | replay | four phases | vs raw | bytes backed up | load (1 min) |", "|" + "---|" * 11]
    for run in sorted(data["runs"], key=lambda r: (r["scale"], r["format"] != RAW, r["format"])):
        base = raw.get(run["scale"])
        ratio = "%.2f×" % (seconds(run) / seconds(base)) if base and run["format"] != RAW else "–"
        cells = ["%.1f" % run[p] if p in run else "–" for p in PHASES]
        load = "%.1f" % run["loadavg"][0] if "loadavg" in run else "–"
        rows.append("| %d | %.2f | %s | %s | %.1f | %s | %s | %s |" % (
            run["scale"], run["bytes"] / GIB, run["format"] if run["format"] != RAW else "raw path", " | ".join(cells), seconds(run), ratio,
            "{:,}".format(run["dump_bytes"]), load))
    lines = series(data)
    # Each line's slope against the raw path's over the same sizes: the formats were not all run at every scale.
    fits = ["| line | scales | fixed (s) | s/GiB | raw path's s/GiB over those scales | slope vs raw |", "|---|---|---|---|---|---|"]
    for name, points in sorted(lines.items(), key=lambda item: (item[0] != RAW, item[0])):
        line = fit([(p[0], p[1]) for p in points])
        if not line:
            continue
        scales = set(p[2]["scale"] for p in points)
        raw_fit = fit([(p[0], p[1]) for p in lines.get(RAW, []) if p[2]["scale"] in scales])
        versus = "%.2f×" % (line[1] / raw_fit[1]) if raw_fit and name != RAW else "–"
        raw_slope = "%.2f" % raw_fit[1] if raw_fit and name != RAW else "–"
        label = name if name != RAW else "raw path"
        fits.append("| %s | %s | %.1f | %.2f | %s | %s |" % (label, ", ".join(str(x) for x in sorted(scales)), line[0], line[1], raw_slope, versus))
    return "\n".join(rows) + "\n\n" + "\n".join(fits)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1,10,70", help="pgbench scales; 300 and 700 (about 4.4 and 10 GiB) are opt-in")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--jobs", type=int, default=2, help="pg_dump and pg_restore jobs for the directory format")
    parser.add_argument("--image", default="localhost/appsnap/postgres:17", help="17: zstd for plain-compressed")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw path (when it was measured at these scales already)")
    parser.add_argument("--plot-only", action="store_true")
    options = parser.parse_args()
    os.makedirs(LOG_DIR, exist_ok=True)
    data = load()
    data["machine"] = "%s, %d cores" % (platform.machine(), os.cpu_count())
    if not options.plot_only:
        kubectl = Kubectl()
        formats = [f for f in options.formats.split(",") if f]
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown:
            raise SystemExit("unknown format(s) %s; choose from %s" % (", ".join(unknown), ", ".join(FORMATS)))
        for scale in [int(s) for s in options.scales.split(",") if s]:
            for index, dump_format in enumerate(formats):
                # What bench_cycle.cycle reads: one database, no partitions, the globals timed once, our namespace prefix and image.
                args = types.SimpleNamespace(scale=scale, partitions=0, databases="one", globals_repeat=1, namespace_prefix="curve",
                                             image=options.image)
                jobs = options.jobs if dump_format == "directory" else 1
                with_raw = index == 0 and not options.no_raw
                started = time.monotonic()
                result = cycle(kubectl, args, dump_format, jobs, raw=with_raw)
                stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                entry = dict((key, result[key]) for key in PHASES + ("bytes", "dump_bytes", "seed", "backup_wall", "restore_wall", "replay_wall"))
                # The machine is shared: the load average (1 and 15 minutes) when the cycle ended goes with its numbers.
                entry.update(scale=scale, format=dump_format, jobs=jobs, image=options.image, when=stamp, cycle_seconds=time.monotonic() - started,
                             loadavg=[round(v, 1) for v in os.getloadavg()[::2]])
                record(data, entry)
                if with_raw:
                    raw = dict(result["raw"], scale=scale, format=RAW, bytes=result["bytes"], image=options.image, when=stamp, loadavg=entry["loadavg"])
                    record(data, raw)
                print("scale %d %s: %.1f s in four phases (%s), %d bytes backed up; cycle with seeding %.0f s"
                      % (scale, dump_format, seconds(entry), ", ".join("%s %.1f" % (p, entry[p]) for p in PHASES), entry["dump_bytes"],
                         entry["cycle_seconds"]), flush=True)
    print("picture: %s" % plot(data))
    print(table(data))


if __name__ == "__main__":
    main()
