"""The hosted-CI workflow is valid YAML with its three jobs (CPU tests, Docker build, the smoke
benchmark inside the built image, uploading the report), and the Slurm examples of the manual
and docs/cluster.md shard consistently (`--array=0-(N-1)` with `--num_shards=N`)."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _uses(job: dict) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


def test_valid_yaml_with_triggers_and_three_jobs(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    assert set(workflow["jobs"]) == {"tests", "docker", "smoke"}
    for job in workflow["jobs"].values():
        assert job["runs-on"] and job["steps"] and job["timeout-minutes"] > 0


def test_tests_job_runs_scripts_test_on_cpu(workflow):
    job = workflow["jobs"]["tests"]
    assert "actions/checkout@v4" in _uses(job)
    assert re.search(r"^scripts/test\b", _runs(job), re.M)
    assert "gpu" not in str(job).lower()


def test_docker_job_lints_and_builds_the_image(workflow):
    runs = _runs(workflow["jobs"]["docker"])
    assert "hadolint Dockerfile" in runs
    build = next(line for line in runs.splitlines() if line.startswith("docker build"))
    assert "ACCELERATOR=cpu" in build and build.rstrip().endswith(" .")


def test_smoke_job_runs_the_smoke_config_in_the_built_image_and_uploads_the_report(workflow):
    jobs = workflow["jobs"]
    smoke = jobs["smoke"]
    assert smoke["needs"] == "docker" or "docker" in smoke["needs"]
    tag = shlex.split(_runs(jobs["docker"]).split("docker build", 1)[1].splitlines()[0])
    image = tag[tag.index("-t") + 1]
    command = _runs(smoke).replace("\\\n", " ")
    run_line = next(line for line in command.splitlines() if "docker run" in line)
    words = shlex.split(run_line)
    assert image in words  # the image the docker job built (passed on as an artifact)
    mounts = [words[i + 1] for i, w in enumerate(words) if w in ("-v", "--volume")]
    host, container = mounts[0].replace('"', "").rsplit(":", 1)
    assert container == "/work"
    flags = dict(w.split("=", 1) for w in words if w.startswith("--") and "=" in w)
    assert flags["--config"] == "hardnet/configs/smoke.py"
    assert (ROOT / flags["--config"]).is_file()
    workdir = flags["--workdir"]
    assert workdir.startswith("/work/")
    host_workdir = host.replace("$PWD/", "") + workdir.removeprefix("/work")
    upload = next(
        s for s in smoke["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    paths = upload["with"]["path"].split()
    assert f"{host_workdir}/report.md" in paths
    assert any(p.rstrip("/") == f"{host_workdir}/plots" for p in paths)


@pytest.mark.parametrize("doc", ["docs/manual.md", "docs/cluster.md"])
def test_slurm_array_matches_num_shards(doc):
    text = (ROOT / doc).read_text()
    arrays = re.findall(r"#SBATCH --array=0-(\d+)", text)
    shards = re.findall(r"--num_shards=(\d+)", text)
    assert arrays and shards
    assert {int(a) + 1 for a in arrays} == {int(s) for s in shards}
    assert '--shard_index="$SLURM_ARRAY_TASK_ID"' in text
