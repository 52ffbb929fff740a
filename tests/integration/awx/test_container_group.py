"""backup.yml and restore.yml of the example AWX project (examples/awx/project) run as AWX runs a job template on a
container group: `ansible-runner transmit` -> a receptor work unit (work-kubernetes) -> a job pod of the EE image
(localhost/appsnap/ee, imagePullPolicy Never) running `ansible-runner worker` -> `ansible-runner process`.
The job's only credential is the K8S_AUTH_* environment of AWX's "OpenShift or Kubernetes API Bearer Token"
credential type, a token of rbac/appsnap-velero-job.yaml's ServiceAccount."""
import json
import pathlib

from awx_job import CA, CA_IN_POD, EXAMPLE, REPO, bearer_token_credential, ee_image, pod_spec, postgres_with_job_account, run_container_group_job

OUTSIDE_RBAC = REPO / "tests" / "integration" / "awx" / "files" / "schedule.yml"


def survey_answers(survey, **answers):
    """Extra variables as AWX passes a survey's answers: only the survey's variables, the required ones answered."""
    spec = json.loads((EXAMPLE / survey).read_text())["spec"]
    variables = {q["variable"] for q in spec}
    assert set(answers) <= variables, (answers, variables)
    assert {q["variable"] for q in spec if q["required"]} <= set(answers)
    return answers


def test_container_group_backup_restore_and_rbac(container_group, run_playbook, kubectl):
    node, jobs_namespace, kubeconfig = container_group
    _tarball, image = ee_image()
    assert pod_spec(jobs_namespace)["spec"]["containers"][0]["image"] == image
    assert pod_spec(jobs_namespace)["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    ca_pem = pathlib.Path(CA).read_text()
    with postgres_with_job_account(run_playbook, kubectl, "ee-awx-pg-") as (namespace, server, token):
        credential = bearer_token_credential(server, token, CA_IN_POD)

        def job(playbook, extravars, **kw):
            return run_container_group_job(node, kubectl, namespace=jobs_namespace, kubeconfig=kubeconfig, playbook=playbook,
                                           extravars=extravars, credential=credential, ca_pem=ca_pem, **kw)

        backup = namespace + "-cg"
        done = job("backup.yml", survey_answers("survey-backup.json", snapshot_namespace=namespace, snapshot_backup_name=backup))
        assert done.status == "successful", done.failure_messages()
        # the job pod, as Kubernetes saw it: the EE image, its worker's exit, its log (the event stream receptor read)
        assert done.pod["spec"]["containers"][0]["image"] == image
        assert done.pod["spec"]["automountServiceAccountToken"] is False
        assert done.exit_code == 0 and done.pod["status"]["phase"] == "Succeeded"
        assert '"status": "successful"' in done.pod_log and backup in done.pod_log
        [summary] = done.task_results("Summary")
        assert summary["snapshot_result"]["name"] == backup and summary["snapshot_result"]["phase"] == "Completed"
        assert token not in done.stdout
        # ... but the pod's log holds it: ansible-runner worker's "starting" status line carries the job's environment
        # (README "Running in AWX": who may read pods/log in the container group's namespace may read the job's token)
        assert token in done.pod_log
        # the set_stats artifacts, as `ansible-runner process` wrote them: the snapshot role's appsnap_snapshot
        assert done.artifact_data().get("appsnap_snapshot", {}).get("backup") == backup, done.artifact_data()
        assert done.artifact_data()["appsnap_snapshot"]["phase"] == "Completed"

        kubectl.run("delete", "namespace", namespace, "--timeout=300s")
        done = job("restore.yml", survey_answers("survey-restore.json", restore_namespace=namespace, restore_backup_name=backup))
        assert done.status == "successful", done.failure_messages()
        assert done.exit_code == 0 and done.pod["status"]["phase"] == "Succeeded"
        assert '"status": "successful"' in done.pod_log and backup in done.pod_log
        [summary] = done.task_results("Summary")
        assert summary["restore_result"]["backup_name"] == backup and summary["restore_result"]["phase"] == "Completed"
        # ... and the restore role's appsnap_restore
        assert done.artifact_data().get("appsnap_restore", {}).get("backup") == backup, done.artifact_data()
        assert done.artifact_data()["appsnap_restore"]["phase"] == "Completed"

        # outside the RBAC: the job's account may not manage schedules; the module says so, in the streamed events
        done = job("schedule.yml", {}, extra_files=[OUTSIDE_RBAC])
        assert done.status == "failed"
        assert done.exit_code != 0 and done.pod["status"]["phase"] == "Failed"
        denied = [m for m in done.failure_messages() if m and "Permission denied: cannot" in m and "Schedule" in m]
        assert denied and "Grant the job's service account" in denied[0], done.failure_messages()
        # the same message in the job pod's own log, as Kubernetes kept it
        in_pod = [json.loads(line) for line in done.pod_log.splitlines() if line.startswith("{")]
        assert denied[0] in [e["event_data"]["res"].get("msg") for e in in_pod if e.get("event") == "runner_on_failed"]
