"""The EE image (lab/images/ee.sh) and `ansible-builder create -f meta/execution-environment.yml` do not drift apart:
what the builder declares is what the image was built from, and every package it declares is installed in the image
at a version the declaration allows, at the supported stack's pins (tests/requirements.txt)."""
import json
import subprocess
import tarfile

import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements
from awx_job import REPO, ee_image
from packaging.requirements import Requirement

RECORD = "usr/share/appsnap-ee/"


def image_record(tarball):
    """The files the image keeps in /usr/share/appsnap-ee/, read from its OCI layers."""
    found = {}
    with tarfile.open(tarball) as oci:
        index = json.load(oci.extractfile("index.json"))
        manifest = json.load(oci.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
        for layer in manifest["layers"]:
            with tarfile.open(fileobj=oci.extractfile("blobs/sha256/" + layer["digest"].split(":")[1]), mode="r|*") as files:
                for member in files:
                    name = member.name.lstrip("./")
                    if name.startswith(RECORD) and member.isfile():
                        found[name[len(RECORD):]] = files.extractfile(member).read().decode()
    return found


def requirements(text):
    return [Requirement(line.split("#", 1)[0].strip()) for line in text.splitlines() if line.split("#", 1)[0].strip()]


def test_ee_image_matches_ansible_builder(tmp_path):
    tarball, _ref = ee_image()
    record = image_record(tarball)
    proc = subprocess.run(["ansible-builder", "create", "-f", str(REPO / "meta" / "execution-environment.yml"), "--context", str(tmp_path / "ctx")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = tmp_path / "ctx" / "_build"
    containerfile = (tmp_path / "ctx" / "Dockerfile").read_text()

    # the same declarations: the builder's Python, Galaxy and system requirements, and its ansible-core/ansible-runner refs
    for name in ("requirements.txt", "requirements.yml", "bindep.txt"):
        assert record[name] == (build / name).read_text(), name
    [refs] = [line.split("=", 1)[1].strip('"') for line in containerfile.splitlines() if line.startswith("ARG ANSIBLE_INSTALL_REFS=")]
    assert record["install-refs.txt"].split() == refs.split()

    # every declared Python package installed, at a version its declaration allows
    installed = {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(record["pip-list.json"])}
    declared = requirements(record["install-refs.txt"]) + requirements(record["requirements.txt"]) + requirements(record["introspected-requirements.txt"])
    assert {"ansible-core", "ansible-runner", "kubernetes", "pyyaml"} <= {r.name.lower() for r in declared}
    for req in declared:
        version = installed.get(req.name.lower().replace("_", "-"))
        assert version, "%s declared but not installed in the image" % req
        assert req.specifier.contains(version, prereleases=True), "%s installed at %s" % (req, version)
    # ... at the supported stack's pins
    for pin in requirements((REPO / "tests" / "requirements.txt").read_text()):
        if pin.name.lower() in ("ansible-core", "ansible-runner", "kubernetes"):
            assert installed[pin.name.lower()] == str(pin.specifier).lstrip("="), pin

    # every declared collection installed at an allowed version, and the collection itself at galaxy.yml's version
    collections = {name: info["version"] for path in json.loads(record["collections.json"]).values() for name, info in path.items()}
    for wanted in yaml.safe_load(record["requirements.yml"])["collections"]:
        assert wanted["name"] in collections, wanted
        assert meets_requirements(collections[wanted["name"]], wanted.get("version", "*")), (wanted, collections[wanted["name"]])
    assert collections["appsnap.velero"] == yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
