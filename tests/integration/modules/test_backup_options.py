"""The Backup options users reach for, sent by appsnap.velero.backup and shown to have reached Velero.

Each option is read back from the Backup object Velero kept, and its effect from what Velero did with it:
the resource list (`velero backup describe --details`), the backup log (`velero backup logs`) and the
PodVolumeBackups. The pre-flight check of volume_snapshot_locations and the check of ordered_resources
keys fail before any write.
"""
import json
import re
import subprocess
import uuid

import pytest
from velero_lab import apply, busybox_pod, find_velero, new_namespace

VSL = "appsnap-options-vsl"


def pvc(name):
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}},
    }


def pod_with(name, volume):
    pod = busybox_pod(name)
    pod["spec"]["volumes"] = [volume]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": volume["name"], "mountPath": "/" + volume["name"]}]
    return pod


@pytest.fixture(scope="module")
def velero_cli(velero_ready):
    binary = find_velero()
    assert binary, "the lab's velero CLI is missing (lab/lab up builds it)"

    def run(*args):
        proc = subprocess.run([binary, "--kubeconfig", velero_ready.kubeconfig, "-n", "velero"] + list(args),
                              capture_output=True, text=True, timeout=180, check=False)
        assert proc.returncode == 0, "velero %s: %s%s" % (" ".join(args), proc.stdout, proc.stderr)
        return proc.stdout

    return run


@pytest.fixture(scope="module")
def workload(velero_ready):
    """Pods zz-first (an emptyDir, not opted in) and aa-second (a claim, its PV cluster-scoped), and a VolumeSnapshotLocation."""
    kubectl = velero_ready
    namespace = new_namespace(kubectl, "opts")
    apply(kubectl, namespace, pvc("data"))
    apply(kubectl, namespace, pod_with("aa-second", {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}))
    apply(kubectl, namespace, pod_with("zz-first", {"name": "scratch", "emptyDir": {}}))
    kubectl.run("wait", "--for=condition=Ready", "pod/aa-second", "pod/zz-first", "--timeout=180s", namespace=namespace)
    location = {
        "apiVersion": "velero.io/v1",
        "kind": "VolumeSnapshotLocation",
        "metadata": {"name": VSL, "namespace": "velero"},
        "spec": {"provider": "aws", "config": {"region": "minio"}},
    }
    kubectl.run("apply", "-f", "-", input=json.dumps(location))
    yield namespace
    kubectl.run("-n", "velero", "delete", "volumesnapshotlocation", VSL, "--ignore-not-found", check=False)
    kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def backed_up_kinds(velero_cli, name):
    """The kinds of the resource list of a backup, e.g. {'v1/Pod', 'v1/PersistentVolume'}."""
    details = velero_cli("backup", "describe", name, "--details")
    listing = details.split("Resource List:", 1)[1]
    return set(re.findall(r"^  (\S+/\S+):$", listing, re.MULTILINE))


def test_options_reach_velero(run_module, velero_ready, velero_cli, workload):
    kubectl, namespace = velero_ready, workload
    name = "opts-" + uuid.uuid4().hex[:6]
    result = run_module("backup", {
        "name": name,
        "included_namespaces": [namespace],
        "include_cluster_resources": False,
        "volume_snapshot_locations": [VSL],
        "ordered_resources": {"pods": [namespace + "/zz-first", namespace + "/aa-second"]},
        "default_volumes_to_fs_backup": False,
        "snapshot_volumes": False,
    })
    assert result.get("failed") is not True, result
    assert result["backup_name"] == name and result["phase"] == "Completed", result
    spec = kubectl.json("-n", "velero", "get", "backup", name)["spec"]
    assert spec["includeClusterResources"] is False
    assert spec["volumeSnapshotLocations"] == [VSL]
    assert spec["orderedResources"] == {"pods": "%s/zz-first,%s/aa-second" % (namespace, namespace)}
    assert spec["defaultVolumesToFsBackup"] is False

    kinds = backed_up_kinds(velero_cli, name)
    assert "v1/Pod" in kinds and "v1/PersistentVolumeClaim" in kinds, kinds
    assert "v1/PersistentVolume" not in kinds, kinds
    # Velero backs the ordered pods up first, in the given order, although zz-first sorts after aa-second.
    log = velero_cli("backup", "logs", name)
    pods = re.findall(r'msg="Backing up item".*?name=(\S+) namespace=%s .*?resource=pods' % re.escape(namespace), log)
    assert pods[:2] == ["zz-first", "aa-second"], pods
    assert not kubectl.json("-n", "velero", "get", "podvolumebackups", "-l", "velero.io/backup-name=" + name)["items"]


def test_defaults_take_the_volume_and_its_pv(run_module, velero_ready, velero_cli, workload):
    """Unset include_cluster_resources: the claim's PV comes along; default_volumes_to_fs_backup copies the emptyDir that
    no annotation opted in (the lab's PV is a hostPath one, which file-system backup never takes)."""
    kubectl, namespace = velero_ready, workload
    name = "opts-" + uuid.uuid4().hex[:6]
    result = run_module("backup", {"name": name, "included_namespaces": [namespace], "default_volumes_to_fs_backup": True,
                                   "snapshot_volumes": False})
    assert result.get("failed") is not True, result
    assert "includeClusterResources" not in kubectl.json("-n", "velero", "get", "backup", name)["spec"]
    assert "v1/PersistentVolume" in backed_up_kinds(velero_cli, name)
    volumes = kubectl.json("-n", "velero", "get", "podvolumebackups", "-l", "velero.io/backup-name=" + name)["items"]
    assert [(v["spec"]["pod"]["name"], v["spec"]["volume"], v["status"]["phase"]) for v in volumes] == [("zz-first", "scratch", "Completed")]


def test_missing_snapshot_location_fails_before_any_write(run_module, velero_ready, workload):
    kubectl = velero_ready
    name = "opts-" + uuid.uuid4().hex[:6]
    result = run_module("backup", {"name": name, "included_namespaces": [workload], "volume_snapshot_locations": ["no-such-vsl"]})
    assert result["failed"] is True
    assert "no such VolumeSnapshotLocation" in result["msg"] and VSL in result["msg"], result["msg"]
    assert kubectl.run("-n", "velero", "get", "backup", name, check=False).returncode != 0


def test_ordered_resources_key_that_velero_would_ignore(run_module, workload):
    result = run_module("backup", {"name": "opts-x", "included_namespaces": [workload], "ordered_resources": {"Pod": workload + "/zz-first"}},
                        check=True)
    assert result["failed"] is True and "plural, lower-case resource name" in result["msg"], result
