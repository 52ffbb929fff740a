# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter plugins: placement per kind, selectors, and clear errors on bad input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.appsnap.velero.plugins.plugin_utils.filters import all_filters

F = all_filters()
PRE = {"command": ["/bin/true"], "timeout": "30s"}


def pod_spec(*containers, volumes=None):
    spec = {"containers": [{"name": c, "image": "img:1"} for c in (containers or ("app",))]}
    if volumes:
        spec["volumes"] = [{"name": v, "emptyDir": {}} for v in volumes]
    return spec


def workload(kind, name="w", **spec_kw):
    containers = spec_kw.pop("containers", ())
    template = {"metadata": {"labels": {"app": name}}, "spec": pod_spec(*containers, **spec_kw)}
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "annotations": {"owner": "me"}}}
    if kind == "Pod":
        obj["spec"] = template["spec"]
        obj["metadata"]["labels"] = {"app": name}
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}}
    else:
        obj["spec"] = {"template": template}
    return obj


def pod_metadata(obj):
    if obj["kind"] == "Pod":
        return obj["metadata"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
    return obj["spec"]["template"]["metadata"]


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"])
def test_annotations_go_on_the_pod_not_the_workload(kind):
    obj = workload(kind)
    result = F["backup_hooks"](obj, pre=PRE, post={"command": ["/bin/echo", "done"], "on_error": "Continue"})
    annotations = pod_metadata(result)["annotations"]
    assert annotations["pre.hook.backup.velero.io/command"] == '["/bin/true"]'
    assert annotations["pre.hook.backup.velero.io/timeout"] == "30s"
    assert annotations["pre.hook.backup.velero.io/on-error"] == "Fail"
    assert annotations["post.hook.backup.velero.io/on-error"] == "Continue"
    assert "post.hook.backup.velero.io/timeout" not in annotations
    if kind != "Pod":
        assert result["metadata"]["annotations"] == {"owner": "me"}


def test_container_annotation_written_when_given():
    obj = workload("Deployment", containers=["app", "sidecar"])
    result = F["backup_hooks"](obj, pre=dict(PRE, container="sidecar"))
    assert pod_metadata(result)["annotations"]["pre.hook.backup.velero.io/container"] == "sidecar"


def test_backup_volumes_merge_keeps_order_and_drops_duplicates():
    obj = workload("Deployment", volumes=["a", "b", "c"])
    pod_metadata(obj)["annotations"] = {"backup.velero.io/backup-volumes": "b, a"}
    result = F["backup_hooks"](obj, backup_volumes=["a", "c", "c"])
    assert pod_metadata(result)["annotations"]["backup.velero.io/backup-volumes"] == "b,a,c"
    excluded = F["backup_hooks"](workload("Job", volumes=["x", "y"]), exclude_volumes=["y", "x", "y"])
    assert pod_metadata(excluded)["annotations"]["backup.velero.io/backup-volumes-excludes"] == "y,x"


def test_statefulset_claim_templates_count_as_volumes(seed_statefulset):
    result = F["backup_hooks"](seed_statefulset, backup_volumes=["postgresql-vct"])
    assert result["spec"]["template"]["metadata"]["annotations"]["backup.velero.io/backup-volumes"] == "postgresql-vct"


def test_lists_and_kind_list_keep_their_shape_and_pass_non_workloads(seed_statefulset, seed_service):
    as_list = F["backup_hooks"]([seed_service, seed_statefulset], pre=PRE)
    assert as_list[0] == seed_service
    assert "pre.hook.backup.velero.io/command" in as_list[1]["spec"]["template"]["metadata"]["annotations"]
    kind_list = {"apiVersion": "v1", "kind": "List", "items": [seed_service, seed_statefulset]}
    result = F["backup_hooks"](kind_list, pre=PRE)
    assert result["kind"] == "List" and result["items"][0] == seed_service
    assert result["items"][1] == as_list[1]


def test_selector_picks_targets():
    objs = [workload("Deployment", name="web"), workload("StatefulSet", name="db")]
    result = F["backup_hooks"](objs, pre=PRE, workload_name="db")
    assert "annotations" not in result[0]["spec"]["template"]["metadata"]
    assert "pre.hook.backup.velero.io/command" in result[1]["spec"]["template"]["metadata"]["annotations"]
    by_kind = F["backup_volume"](objs, "backup", "/backup", workload_kind="Deployment")
    assert by_kind[0]["spec"]["template"]["spec"]["volumes"] == [{"name": "backup", "emptyDir": {}}]
    assert "volumes" not in by_kind[1]["spec"]["template"]["spec"]


def test_backup_volume_options_and_idempotence():
    obj = workload("Deployment", containers=["app", "db"])
    once = F["backup_volume"](obj, "dump", "/dump/", container="db", size_limit="2Gi", medium="Memory")
    spec = once["spec"]["template"]["spec"]
    assert spec["volumes"] == [{"name": "dump", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}}]
    assert spec["containers"][1]["volumeMounts"] == [{"name": "dump", "mountPath": "/dump"}]
    assert "volumeMounts" not in spec["containers"][0]
    assert once["spec"]["template"]["metadata"]["annotations"] == {"backup.velero.io/backup-volumes": "dump"}
    assert F["backup_volume"](once, "dump", "/dump", container="db", size_limit="2Gi", medium="Memory") == once


def test_backup_volume_removes_its_own_exclusion():
    obj = workload("Deployment", volumes=["cache"])
    pod_metadata(obj)["annotations"] = {"backup.velero.io/backup-volumes-excludes": "cache,dump"}
    result = F["backup_volume"](obj, "dump", "/dump")
    assert pod_metadata(result)["annotations"]["backup.velero.io/backup-volumes-excludes"] == "cache"


def test_restore_hooks_write_every_key():
    post = {"command": ["/bin/sh", "-c", "psql -f /backup/backup.sql"], "container": "app", "wait_timeout": "10m", "exec_timeout": "5m"}
    init = {"container_image": "localhost/tools:1", "container_name": "prep", "command": ["/prep"]}
    result = F["restore_hooks"](workload("StatefulSet"), post=post, init=init)
    assert pod_metadata(result)["annotations"] == {
        "post.hook.restore.velero.io/command": json.dumps(post["command"]),
        "post.hook.restore.velero.io/container": "app",
        "post.hook.restore.velero.io/on-error": "Fail",
        "post.hook.restore.velero.io/exec-timeout": "5m",
        "post.hook.restore.velero.io/wait-timeout": "10m",
        "post.hook.restore.velero.io/wait-for-ready": "true",
        "init.hook.restore.velero.io/container-image": "localhost/tools:1",
        "init.hook.restore.velero.io/container-name": "prep",
        "init.hook.restore.velero.io/command": '["/prep"]',
    }


def test_pg_dump_hook_shape_and_formats():
    hook = F["pg_dump_hook"]("app", path="/backup/app.dir", format="directory", jobs=4, timeout="20m", container="db")
    assert hook["timeout"] == "20m" and hook["on_error"] == "Fail" and hook["container"] == "db"
    assert "--format=directory" in hook["command"][2] and "--jobs=4" in hook["command"][2]
    assert "--format=custom" in F["pg_dump_hook"]("app", format="custom")["command"][2]


def test_pg_dump_hook_quotes_identifiers():
    hook = F["pg_dump_hook"](["we'ird db; rm -rf /", "shop"], path="/backup/my dump.sql")
    script = hook["command"][2]
    # Names travel as hex, and become PGDATABASE in the pod: no name is ever parsed by the shell.
    assert "we'ird" not in script and "entries='x-77652769726420646203b20726d202d7266202f" not in script
    assert "x-776527697264206462" in script and "shop 73686f70" in script
    assert "file_of() { printf '%s' '/backup/my dump.'\"$1\"'.sql'; }" in script or "'/backup/my dump.'" in script


def test_pg_dump_hook_databases_choices():
    assert "pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate" in F["pg_dump_hook"]("all")["command"][2]
    one = F["pg_dump_hook"](["shop"], path="/data/shop.dump", format="custom")["command"][2]
    assert 'publish "$stage/db.shop" "$(file_of)"' in one and "/data/globals.sql" in one and 'publish "$stage/index" /data/shop.databases' in one
    several = F["pg_dump_hook"](["a", "b"], path="/data/d.sql")["command"][2]
    assert "/data/d.databases" in several and "file_of() { printf '%s' /data/d.\"$1\".sql; }" in several


@pytest.mark.parametrize("dump_format, jobs, expected", [
    ("plain", 1, 'psql -X -q -v ON_ERROR_STOP=1 --dbname=template1 --file="$file" >/dev/null'),
    ("custom", 1, 'pg_restore --create --exit-on-error --dbname=template1 "$file"'),
    ("custom", 3, 'pg_restore --create --exit-on-error --jobs=3 --dbname=template1 "$file"'),
    ("directory", 2, 'pg_restore --create --exit-on-error --jobs=2 --dbname=template1 "$file"'),
])
def test_pg_replay_command_per_format(dump_format, jobs, expected):
    script = F["pg_replay_command"]("app", format=dump_format, jobs=jobs)
    assert "  if ! %s; then" % expected in script
    assert "--no-owner" not in script


def test_pg_replay_command_auto_reads_the_index_and_each_files_format():
    script = F["pg_replay_command"]("auto", format="auto", jobs=2)
    assert 'entries="$(cat -- "$index")"' in script and "index=/backup/backup.databases" in script
    # A dump of one database (at the path) or of several (beside it): the newest file of either.
    assert 'for b in "$base" /backup/backup.sql; do for s in .zst .gz \'\';' in script
    assert 'if [ -d "$file" ] || [ "$(head -c 5 -- "$file" | tr -d \'\\000\')" = PGDMP ]; then pg_restore --create --exit-on-error --jobs=2' in script
    assert "zstd -dc" in script
    with pytest.raises(AnsibleFilterError, match="for the replay"):
        F["pg_dump_hook"]("auto")
    with pytest.raises(AnsibleFilterError, match="format must be one of plain, plain-compressed, custom, directory,"):
        F["pg_dump_hook"]("shop", format="auto")


def test_pg_dump_hook_plain_compressed():
    script = F["pg_dump_hook"]("app", format="plain-compressed")["command"][2]
    # pg_dump writes plain SQL, compressed with what the pod chose, to the dump path with its suffix.
    assert "pg_dump --create --no-tablespaces --format=plain --no-password" in script
    assert ' "$compress" --file="$stage/db.$part"' in script
    assert "compress=--compress=zstd; ext=.zst;" in script and "compress=--compress=1; ext=.gz;" in script
    assert "file_of() { printf '%s' /backup/backup.sql\"$ext\"; }" in script
    # The other formats are untouched by it.
    for other in ("plain", "custom", "directory"):
        assert "compress" not in F["pg_dump_hook"]("app", format=other)["command"][2]


def test_pg_replay_command_plain_compressed():
    script = F["pg_replay_command"]("app", format="plain-compressed")
    assert ('  if ! { case "$file" in *.zst) zstd -dc -- "$file" ;; *.gz) gzip -dc -- "$file" ;; *) cat -- "$file" ;; esac; } '
            '| psql -X -q -v ON_ERROR_STOP=1 --dbname=template1 >/dev/null; then') in script
    assert "for s in .zst .gz ''" in script and "exit 7" in script and "add the zstd package to the image" in script
    several = F["pg_replay_command"](["a", "b"], path="/d/x.sql", format="plain-compressed")
    assert "local base=/d/x.\"$1\".sql found" in several
    assert "zstd" not in F["pg_replay_command"]("app") and "exit 7" not in F["pg_replay_command"]("app", format="custom")


def test_pg_replay_command_clean_and_report():
    assert "clean=0" in F["pg_replay_command"]("app") and "clean=1" in F["pg_replay_command"]("app", clean=True)
    # The report line is printed only with report; the check against the manifest runs either way.
    assert "-v VERBOSITY=terse >/dev/null\n" in F["pg_replay_command"]("app")
    assert "-v VERBOSITY=terse >/dev/null" not in F["pg_replay_command"]("app", report=True)


@pytest.mark.parametrize("verify,uses_manifest,required", [("auto", True, False), ("required", True, True), ("none", False, False)])
def test_pg_replay_command_verify(verify, uses_manifest, required):
    script = F["pg_replay_command"]("app", path="/backup/my dump.sql", verify=verify)
    assert "manifest='/backup/my dump.manifest.json'" in script
    assert ('if [ -e "$manifest" ]; then cat' in script) is uses_manifest
    assert ("no manifest at $manifest" in script) is required
    assert 'if [ "$unverified" = 1 ]' in script and "exit 6" in script


@pytest.mark.parametrize("verify,md5", [("counts", "CASE WHEN false THEN"), ("checksums", "CASE WHEN true THEN")])
def test_pg_dump_hook_verify_records_a_manifest_in_the_dump_snapshot(verify, md5):
    script = F["pg_dump_hook"]("app", verify=verify, lock_wait_timeout="3s")["command"][2]
    assert "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" in script and "SET LOCAL lock_timeout = 3000;" in script
    assert "pg_export_snapshot()" in script and '--snapshot="$snapshot"' in script and md5 in script
    assert "write_manifest \"$stage/manifest\"" in script and "publish \"$stage/manifest\" /backup/backup.manifest.json" in script


def test_pg_dump_hook_without_verify_removes_the_old_manifest():
    script = F["pg_dump_hook"]("app", verify="none")["command"][2]
    assert "pg_export_snapshot" not in script and "--snapshot" not in script
    assert "rm -f -- /backup/backup.manifest.json" in script


@pytest.mark.parametrize("name,kwargs", [("pg_dump_hook", {"verify": "rows"}), ("pg_replay_command", {"verify": "counts"}),
                                         ("pg_replay_hook", {"verify": True})])
def test_verify_takes_only_its_choices(name, kwargs):
    with pytest.raises(AnsibleFilterError, match="verify must be one of"):
        F[name]("app", **kwargs)


def test_pg_query_named_and_plain():
    assert F["pg_query"]("shop", "checksums").startswith("psql -X -At -v ON_ERROR_STOP=1 --dbname=shop -c 'SELECT coalesce(json_object_agg(")
    assert F["pg_query"]("my db", "SELECT 1") == "psql -X -At -v ON_ERROR_STOP=1 --dbname='my db' -c 'SELECT 1'"


def test_pg_replay_command_quotes_identifiers():
    command = F["pg_replay_command"]("we'ird db; rm -rf /", path="/backup/my dump.sql")
    assert "we'ird" not in command and "file_of() { printf '%s' '/backup/my dump.sql'; }" in command


def test_pg_replay_hook_is_a_restore_post_hook_running_the_same_command():
    hook = F["pg_replay_hook"]("app", path="/backup/app.dir", format="directory", jobs=2, exec_timeout="1h", wait_timeout="5m",
                               ready_timeout=60, container="db")
    assert {k: v for k, v in hook.items() if k != "command"} == {
        "exec_timeout": "1h", "wait_timeout": "5m", "on_error": "Fail", "wait_for_ready": True, "container": "db"}
    script = hook["command"][2]
    assert hook["command"][:2] == ["/bin/bash", "-c"]
    assert F["pg_replay_command"]("app", path="/backup/app.dir", format="directory", jobs=2, ready_timeout=60) in script
    assert 'PGPASSWORD="$(appsnap_env POSTGRES_PASSWORD)"' in script
    assert 'if [ "$waited" -ge 60 ]' in script and "exit 4" in script
    annotated = F["restore_hooks"](workload("StatefulSet", containers=["db"]), post=hook)
    annotations = pod_metadata(annotated)["annotations"]
    assert json.loads(annotations["post.hook.restore.velero.io/command"]) == hook["command"]
    assert annotations["post.hook.restore.velero.io/exec-timeout"] == "1h"
    assert annotations["post.hook.restore.velero.io/wait-for-ready"] == "true"


PVC_POD = {
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c"}], "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "x"}}]},
}
BAD = [
    ("unsupported kind", lambda: F["backup_hooks"]({"kind": "Service", "metadata": {"name": "s"}}, pre=PRE),
     ["kind 'Service'", "supported kinds"]),
    ("missing pod template", lambda: F["backup_hooks"]({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}, pre=PRE),
     ["no pod template", "spec.template"]),
    ("no containers", lambda: F["backup_hooks"]({"kind": "Pod", "metadata": {"name": "p"}, "spec": {}}, pre=PRE), ["no containers"]),
    ("unknown container", lambda: F["backup_hooks"](workload("Deployment", containers=["app", "side"]), pre=dict(PRE, container="db")),
     ["'db'", "'app', 'side'"]),
    ("timeout without unit", lambda: F["backup_hooks"](workload("Pod"), pre=dict(PRE, timeout="300")), ["no unit", "'300s'"]),
    ("timeout unparsable", lambda: F["backup_hooks"](workload("Pod"), pre=dict(PRE, timeout="5 minutes")), ["not a Go duration", "'5m'"]),
    ("on_error", lambda: F["backup_hooks"](workload("Pod"), pre=dict(PRE, on_error="fail")), ["'Fail' or 'Continue'"]),
    ("command string", lambda: F["backup_hooks"](workload("Pod"), pre={"command": "pg_dump > x"}), ["not a string", '["/bin/sh", "-c", "pg_dump > x"]']),
    ("volume not in pod", lambda: F["backup_hooks"](workload("Pod", volumes=["data"]), backup_volumes=["dump"]), ["'dump'", "'data'", "backup_volume"]),
    ("invalid label", lambda: F["backup_volume"](workload("Pod"), "My_Volume", "/b"), ["DNS-1123", "'my-volume'"]),
    ("invalid container label", lambda: F["backup_hooks"](workload("Pod"), pre=dict(PRE, container="App")), ["DNS-1123"]),
    ("selector matches nothing", lambda: F["backup_hooks"]([workload("Pod", name="a")], pre=PRE, workload_name="b"), ["No workload matched", "Pod/a"]),
    ("restore without wait_timeout", lambda: F["restore_hooks"](workload("Pod"), post={"command": ["/bin/true"]}), ["wait_timeout is required", "Finalizing"]),
    ("unknown hook key", lambda: F["backup_hooks"](workload("Pod"), pre=dict(PRE, onError="Fail")), ["unknown keys onError"]),
    ("jobs without directory", lambda: F["pg_dump_hook"]("db", jobs=2), ["format 'directory'"]),
    ("bad format", lambda: F["pg_dump_hook"]("db", format="tar"), ["plain, plain-compressed, custom, directory"]),
    ("jobs with plain-compressed", lambda: F["pg_dump_hook"]("db", format="plain-compressed", jobs=2), ["format 'directory'"]),
    ("replay jobs with plain-compressed", lambda: F["pg_replay_command"]("db", format="plain-compressed", jobs=2), ["'custom' or 'directory'"]),
    ("bad env name", lambda: F["pg_dump_hook"]("db", password_env="PASS;rm"), ["environment variable name"]),
    ("conninfo database", lambda: F["pg_dump_hook"]("dbname=x password=y"), ["connection string"]),
    ("replay jobs with plain", lambda: F["pg_replay_command"]("db", jobs=2), ["'custom' or 'directory'", "jobs: 1"]),
    ("replay hook jobs with plain", lambda: F["pg_replay_hook"]("db", jobs=2), ["'custom' or 'directory'"]),
    ("replay relative path", lambda: F["pg_replay_hook"]("db", path="backup.sql"), ["absolute file path"]),
    ("replay ready_timeout", lambda: F["pg_replay_hook"]("db", ready_timeout="5m"), ["ready_timeout", "seconds"]),
    ("replay exec_timeout", lambda: F["pg_replay_hook"]("db", exec_timeout="30"), ["no unit"]),
    ("replay conninfo", lambda: F["pg_replay_command"]("host=x dbname=y"), ["connection string"]),
    ("empty database list", lambda: F["pg_dump_hook"]([]), ["non-empty list of names, or 'all'"]),
    ("database listed twice", lambda: F["pg_dump_hook"](["a", "b", "a"]), ["'a' more than once"]),
    ("template database", lambda: F["pg_dump_hook"](["template1"]), ["template database"]),
    ("database not a name", lambda: F["pg_replay_hook"]({"db": "x"}), ["a database name, a non-empty list of names, or 'all'"]),
    ("unknown connection option", lambda: F["pg_dump_hook"]("db", user="postgres"), ["unknown option(s) user", "user_env"]),
    ("hidden dump file", lambda: F["pg_dump_hook"]("db", path="/backup/.dump"), ["hidden file"]),
    ("replay clean not bool", lambda: F["pg_replay_command"]("db", clean="yes"), ["clean and report must be true or false"]),
    ("empty query", lambda: F["pg_query"]("db", " "), ["checksums, user_tables"]),
    ("text input", lambda: F["backup_hooks"]("kind: Pod", pre=PRE), ["from_yaml_all"]),
    ("mount path taken", lambda: F["backup_volume"](F["backup_volume"](workload("Pod"), "a", "/x"), "b", "/x"), ["already mounts volume 'a'"]),
    ("name used by pvc", lambda: F["backup_volume"](PVC_POD, "data", "/d"), ["persistentVolumeClaim", "another name"]),
    ("include and exclude", lambda: F["backup_hooks"](workload("Pod", volumes=["a"]), backup_volumes=["a"], exclude_volumes=["a"]),
     ["both in backup_volumes and exclude_volumes"]),
]


@pytest.mark.parametrize("case,call,fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_problem_and_fix(case, call, fragments):
    with pytest.raises(AnsibleFilterError) as info:
        call()
    message = str(info.value)
    assert message.startswith("appsnap.velero.")
    for fragment in fragments:
        assert fragment in message, (case, message)


def test_input_never_mutated_on_error():
    obj = workload("Deployment", containers=["app"])
    before = copy.deepcopy(obj)
    with pytest.raises(AnsibleFilterError):
        F["backup_volume"](obj, "dump", "/dump", container="nope")
    assert obj == before


def test_pg_shell_exports_credentials_from_the_container():
    import shlex

    command = F["pg_shell"]("psql -c 'SELECT 1'", user_env="DB_USER", port=5433)
    argv = shlex.split(command)
    assert argv[:2] == ["bash", "-c"] and len(argv) == 3
    lines = argv[2].splitlines()
    # The official image's convention: VAR, else the file VAR_FILE names; the user defaults to postgres.
    assert lines[0].startswith('appsnap_env() { local file="$1_FILE"; if [ -n "${!1:-}" ]; then printf')
    assert lines[1] == 'PGUSER="$(appsnap_env DB_USER postgres)"; PGPASSWORD="$(appsnap_env POSTGRES_PASSWORD)"'
    assert "POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) is not set in the container" in lines[2]
    assert lines[3] == "export PGUSER PGPASSWORD PGHOST=127.0.0.1 PGPORT=5433; psql -c 'SELECT 1'"
    with pytest.raises(AnsibleFilterError, match="environment variable name"):
        F["pg_shell"]("true", password_env="$(id)")


def test_an_empty_dump_path_is_the_one_default_everywhere():
    assert F["pg_dump_files"]("") == {
        "path": "/backup/backup.sql", "directory": "/backup", "globals": "/backup/globals.sql",
        "index": "/backup/backup.databases", "manifest": "/backup/backup.manifest.json",
    }
    assert F["pg_dump_files"]("/data/orders.dump")["globals"] == "/data/globals.sql"
    assert F["pg_replay_command"]("auto", path="") == F["pg_replay_command"]("auto", path="/backup/backup.sql")
    assert F["pg_dump_hook"]("shop", path="") == F["pg_dump_hook"]("shop")
    with pytest.raises(AnsibleFilterError, match="path must be an absolute file path such as '/backup/backup.sql'"):
        F["pg_dump_files"]("backup.sql")


@pytest.mark.parametrize("dump_format, path", [("plain", "/backup/backup.sql"), ("plain-compressed", "/backup/backup.sql"),
                                               ("custom", "/backup/backup.dump"), ("directory", "/backup/backup.dir")])
def test_a_default_dump_path_named_after_its_format(dump_format, path):
    assert F["pg_dump_files"]("", dump_format)["path"] == path
    assert F["pg_dump_files"]("/data/x.sql", dump_format)["path"] == "/data/x.sql"


def test_a_default_named_after_an_unknown_format_says_which_there_are():
    with pytest.raises(AnsibleFilterError, match="format must be one of plain, plain-compressed, custom, directory"):
        F["pg_dump_files"]("", "tar")


def test_the_replay_of_auto_never_puts_the_path_in_shell_text():
    script = F["pg_replay_command"]("auto", path='/backup/a "b" $(c).sql', format="auto")
    assert "dump_path='/backup/a \"b\" $(c).sql'" in script
    # The messages name the path through the variable, never as text inside double quotes.
    assert not [line for line in script.splitlines() if "echo" in line and "$(c)" in line]
    assert 'no dump at $dump_path (nor its index $index)' in script
