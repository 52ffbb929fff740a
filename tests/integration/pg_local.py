# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A throwaway PostgreSQL 15 cluster on 127.0.0.1 (Debian's postgresql-15, which tests/run installs).

Used by the dump/replay script tests and by tests/bench/bench_manifest.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import subprocess
import tempfile

import pg_state

PG_BIN = "/usr/lib/postgresql/15/bin"
USER = "appuser"
PASSWORD = "Pw-'quoted\"$x"


def as_postgres(argv, **kwargs):
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server(object):
    """One PostgreSQL cluster on 127.0.0.1, superuser USER with ``password``."""

    def __init__(self, password=PASSWORD):
        self.password = password
        self.root = tempfile.mkdtemp(prefix="appsnap-pg-")
        os.chmod(self.root, 0o777)
        self.data = os.path.join(self.root, "data")
        pwfile = os.path.join(self.root, "pw")
        with open(pwfile, "w") as handle:
            handle.write(password)
        os.chmod(pwfile, 0o644)
        self.port = free_port()
        as_postgres([PG_BIN + "/initdb", "-D", self.data, "-U", USER, "--pwfile", pwfile, "--auth=scram-sha-256", "--locale=C.UTF-8"])
        self.log = os.path.join(self.root, "server.log")
        as_postgres([PG_BIN + "/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o", "-h 127.0.0.1 -p %d -k %s" % (self.port, self.root), "start"])

    def env(self, password=None):
        return dict(os.environ, PGPASSWORD=password or self.password, PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER=USER)

    def psql(self, sql, db="postgres", password=None):
        """Run ``sql`` from standard input, one statement at a time (so CREATE DATABASE works), and return the output."""
        return subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", db], input=sql, env=self.env(password), check=True, capture_output=True, text=True
        ).stdout

    def state(self):
        return pg_state.server_state(self.psql)

    def stop(self):
        as_postgres([PG_BIN + "/pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)
