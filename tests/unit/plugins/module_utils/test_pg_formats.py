# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plain-compressed format's shell parts, run by bash: the compressor the pod picks, the file the replay reads.

The pod's programs are stand-ins here (a pg_dump that prints a version, a zstd that exists or not); the real
programs run in tests/integration/pg_dump_hook (PostgreSQL 15: gzip) and on the lab (PostgreSQL 17: zstd).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands as pg_commands


def bash(script, path_dirs, cwd):
    env = {"PATH": ":".join(path_dirs + ["/usr/bin", "/bin"])}
    return subprocess.run(["/bin/bash", "-c", script], env=env, cwd=cwd, capture_output=True, text=True, check=False)


def program(directory, name, body):
    path = os.path.join(str(directory), name)
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)


@pytest.mark.parametrize("version, has_zstd, expected", [
    ("pg_dump (PostgreSQL) 17.6 (Debian 17.6-1)", True, "--compress=zstd .zst"),
    ("pg_dump (PostgreSQL) 16.0", True, "--compress=zstd .zst"),
    ("pg_dump (PostgreSQL) 17.6 (Debian 17.6-1)", False, "--compress=1 .gz"),
    ("pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)", True, "--compress=1 .gz"),
    ("something else", True, "--compress=1 .gz"),
])
def test_the_pod_picks_zstd_only_where_pg_dump_writes_it_and_zstd_reads_it(tmp_path, version, has_zstd, expected):
    # A PATH of stand-ins and sed only: the machine's own zstd must not be found.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program(bin_dir, "pg_dump", "echo '%s'" % version)
    os.symlink("/bin/sed" if os.path.exists("/bin/sed") else "/usr/bin/sed", str(bin_dir / "sed"))
    if has_zstd:
        program(bin_dir, "zstd", "exit 0")
    script = "\n".join(pg_commands.compressor_script("plain-compressed") + ['printf "%s %s" "$compress" "$ext"'])
    done = subprocess.run(["/bin/bash", "-c", "PATH=%s; %s" % (bin_dir, script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


def test_no_compressor_lines_for_the_other_formats():
    for other in ("plain", "custom", "directory"):
        assert pg_commands.compressor_script(other) == [] and pg_commands.compress_option(other) == "" and pg_commands.readable_script(other) == []
        assert pg_commands.pg_dump_format(other) == other
    assert pg_commands.pg_dump_format("plain-compressed") == "plain"


def file_of(tmp_path, databases, path):
    where = pg_commands.layout(path, databases)
    return pg_commands.file_of_script(where, "plain-compressed", reading=True)


def test_the_replay_reads_the_suffix_that_is_there_and_the_newer_of_two(tmp_path):
    path = str(tmp_path / "backup.sql")
    script = file_of(tmp_path, "postgres", path) + "\nfile_of"
    assert bash(script, [], str(tmp_path)).stdout == "%s.zst or %s.gz" % (path, path)
    with open(path + ".gz", "w") as handle:
        handle.write("old")
    assert bash(script, [], str(tmp_path)).stdout == path + ".gz"
    old = time.time() - 60
    os.utime(path + ".gz", (old, old))
    with open(path + ".zst", "w") as handle:
        handle.write("new")
    assert bash(script, [], str(tmp_path)).stdout == path + ".zst"
    os.utime(path + ".zst", (old - 60, old - 60))
    assert bash(script, [], str(tmp_path)).stdout == path + ".gz"
    # A plain dump at the bare path (what the format plain writes) is read too, when it is the newest.
    with open(path, "w") as handle:
        handle.write("plain")
    assert bash(script, [], str(tmp_path)).stdout == path


def test_the_replay_of_several_databases_reads_each_file(tmp_path):
    path = str(tmp_path / "backup.sql")
    with open(str(tmp_path / "backup.shop.sql.gz"), "w") as handle:
        handle.write("x")
    script = file_of(tmp_path, ["shop", "crm"], path) + "\nfile_of shop; echo; file_of crm"
    assert bash(script, [], str(tmp_path)).stdout.splitlines() == [
        str(tmp_path / "backup.shop.sql.gz"), "%s or %s" % (tmp_path / "backup.crm.sql.zst", tmp_path / "backup.crm.sql.gz")]


def test_a_zstd_dump_without_zstd_fails_before_anything_naming_the_fix(tmp_path):
    sed_dir = tmp_path / "tools"
    sed_dir.mkdir()
    script = "\n".join(['file=/backup/backup.sql.zst'] + [line.strip() for line in pg_commands.readable_script("plain-compressed")] + ["echo reached"])
    done = subprocess.run(["/bin/bash", "-c", "PATH=%s; %s" % (sed_dir, script)], capture_output=True, text=True, check=False)
    assert done.returncode == pg_commands.EXIT_NO_DECOMPRESSOR and "reached" not in done.stdout
    assert "add the zstd package to the image" in done.stderr and "/backup/backup.sql.zst" in done.stderr
    gz = subprocess.run(["/bin/bash", "-c", "PATH=%s; %s" % (sed_dir, script.replace(".zst", ".gz", 1))], capture_output=True, text=True, check=False)
    assert gz.returncode == 0 and gz.stdout == "reached\n"
