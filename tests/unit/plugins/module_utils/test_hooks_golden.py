# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The seed tutorial's hand-made diff, reproduced by the filters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re
import shlex

from ansible_collections.appsnap.velero.plugins.module_utils.postgres import dump as pg_dump
from ansible_collections.appsnap.velero.plugins.module_utils.hooks import pod as pod_hooks

PRE_COMMAND = "pre.hook.backup.velero.io/command"


def _apply_seed_filters(manifest):
    with_volume = pod_hooks.backup_volume(manifest, "postgresql-backup", "/backup")
    return pod_hooks.backup_hooks(with_volume, pre=pg_dump.pg_dump_hook("postgres"), backup_volumes=["postgresql-backup"])


def _template(obj):
    return obj["spec"]["template"]


def test_golden_annotations_volume_and_mount(seed_statefulset, seed_pgdump_statefulset):
    result = _apply_seed_filters(seed_statefulset)
    golden = _template(seed_pgdump_statefulset)
    ours = _template(result)

    golden_annotations = dict(golden["metadata"]["annotations"])
    our_annotations = dict(ours["metadata"]["annotations"])
    golden_annotations.pop(PRE_COMMAND)
    our_command = json.loads(our_annotations.pop(PRE_COMMAND))
    assert our_annotations == dict(golden_annotations, **{"pre.hook.backup.velero.io/on-error": "Fail"})
    assert ours["spec"]["volumes"] == golden["spec"]["volumes"]
    assert ours["spec"]["containers"][0]["volumeMounts"] == golden["spec"]["containers"][0]["volumeMounts"]

    # Nothing else changed: undo exactly the golden additions and compare with the input.
    undone = copy.deepcopy(result)
    template = _template(undone)
    del template["metadata"]["annotations"]
    del template["spec"]["volumes"]
    template["spec"]["containers"][0]["volumeMounts"].pop()
    assert undone == seed_statefulset

    # Our command is the atomic, quoted form of the seed's: same database,
    # same host, same credentials from the environment, same file.
    assert our_command[:2] == ["/bin/bash", "-c"]
    script = our_command[2]
    seed_script = json.loads(golden["metadata"]["annotations"][PRE_COMMAND])[2]
    assert "-d postgres" in seed_script and "-h 127.0.0.1" in seed_script and "> /backup/backup.sql" in seed_script
    assert "file_of() { printf '%s' /backup/backup.sql; }" in script
    assert "entries='postgres 706f737467726573'" in script  # the database, as hex so any name survives the shell
    dump_line = next(line for line in script.splitlines() if line.strip().startswith("dump_in_snapshot pg_dump"))
    # Run in the snapshot the manifest's counts were taken in (pg_manifest.py).
    assert 'PGDATABASE="$(name_of "$hex")"; export PGDATABASE' in script and 'run "$@" --snapshot="$snapshot"' in script
    words = shlex.split("pg_dump" + dump_line.split(" pg_dump", 1)[1])
    assert words[0] == "pg_dump" and "--create" in words and "--format=plain" in words
    assert '--file="$stage/db.$part"' in dump_line
    assert "--lock-wait-timeout=30000" in words  # never queue behind DDL for long
    exports = "\n".join(script.splitlines()[:4])
    assert "export PGUSER PGPASSWORD PGHOST=127.0.0.1 PGPORT=5432" in exports
    assert 'PGUSER="$(appsnap_env POSTGRES_USER postgres)"; PGPASSWORD="$(appsnap_env POSTGRES_PASSWORD)"' in exports
    assert "deadline=$((SECONDS + 165))" in script  # the 3m hook timeout less a 15s margin
    assert 'publish "$stage/db.postgres" "$(file_of)"' in script and 'publish "$stage/globals" /backup/globals.sql' in script


def test_golden_input_not_mutated(seed_statefulset):
    before = copy.deepcopy(seed_statefulset)
    _apply_seed_filters(seed_statefulset)
    assert seed_statefulset == before


def test_golden_twice_is_once(seed_statefulset):
    once = _apply_seed_filters(seed_statefulset)
    assert _apply_seed_filters(once) == once


def test_no_password_in_annotations(seed_statefulset):
    secret = "Xq7-not-in-any-annotation"
    manifest = copy.deepcopy(seed_statefulset)
    for env in manifest["spec"]["template"]["spec"]["containers"][0]["env"]:
        if env["name"] == "POSTGRES_PASSWORD":
            env["value"] = secret
    result = _apply_seed_filters(manifest)
    annotations = json.dumps(_template(result)["metadata"]["annotations"])
    assert secret not in annotations
    script = json.loads(_template(result)["metadata"]["annotations"][PRE_COMMAND])[2]
    # The only PGPASSWORD assignment reads the container's variable (or its _FILE) in the pod.
    assert re.findall(r"PGPASSWORD=(\S+)", script) == ['"$(appsnap_env']
    assert re.findall(r'PGPASSWORD="\$\(appsnap_env (\S+)\)"', script) == ["POSTGRES_PASSWORD"]
