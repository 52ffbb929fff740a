# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shell scripts the collection builds, rendered for each format, database choice and option that changes their
text, and checked by shellcheck as bash, at every severity: the pg_dump hook's script, the replay, and pg_shell around them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import shutil
import subprocess

import pytest
from ansible_collections.appsnap.velero.plugins.module_utils.postgres import commands, dump, replay

SHELLCHECK = shutil.which("shellcheck")
FORMATS = ("plain", "plain-compressed", "custom", "directory")
DATABASES = ("postgres", ["shop", "stock"], "all")


def jobs_of(format):
    return 2 if format == "directory" else 1


def path_of(format):
    return {"custom": "/backup/backup.dump", "directory": "/backup/backup.dir"}.get(format, "/backup/backup.sql")


def dump_scripts():
    for format, databases, verify in itertools.product(FORMATS, DATABASES, ("counts", "checksums", "none")):
        yield "dump-%s-%s-%s" % (format, databases if isinstance(databases, str) else "list", verify), dump.pg_dump_script(
            databases, path_of(format), format, jobs_of(format), deadline=170, verify=verify)
    yield "dump-no-space-check", dump.pg_dump_script("postgres", space_check=False)


def replay_scripts():
    # auto: the replay of what the dump holds (the pg_replay role's default), for every format and for each file's own.
    for format, databases, verify, clean in itertools.product(FORMATS + ("auto",), DATABASES + ("auto",), ("auto", "required", "none"), (False, True)):
        yield "replay-%s-%s-%s-%s" % (format, databases if isinstance(databases, str) else "list", verify, clean), replay.pg_replay_command(
            databases, path_of(format), format, jobs_of(format), clean=clean, report=clean, verify=verify)


SCRIPTS = dict(itertools.chain(dump_scripts(), replay_scripts()))


@pytest.mark.skipif(SHELLCHECK is None, reason="shellcheck is not installed (tests/run installs it)")
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_rendered_script_passes_shellcheck(name):
    script = commands.pg_shell(SCRIPTS[name])
    proc = subprocess.run([SHELLCHECK, "--shell=bash", "--format=gcc", "-"], input=script,
                          capture_output=True, text=True, check=False, timeout=60)
    numbered = "\n".join("%4d  %s" % (i, line) for i, line in enumerate(script.splitlines(), 1))
    assert proc.returncode == 0, "%s\n%s" % (proc.stdout, numbered)
