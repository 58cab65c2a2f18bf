"""Dockerfile.api and Dockerfile.operator without a Docker engine.

hadolint lints them (hack/lint-dockerfiles.sh installs it from PyPI). Then each Dockerfile's build
stage is replayed on this machine: its ENV, WORKDIR, COPY and RUN instructions, in order, into a
fresh virtual environment that stands in for the image's /opt/spotter. The runtime stage's
ENTRYPOINT and CMD must then resolve in that environment and start.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from support.controlplane import REPO_ROOT

DOCKERFILES = {"api": REPO_ROOT / "Dockerfile.api", "operator": REPO_ROOT / "Dockerfile.operator"}


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


def parse(path: Path) -> list[Stage]:
    """Instructions per stage; continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")))
    stages: list[Stage] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        op, _, arg = line.strip().partition(" ")
        op, arg = op.upper(), arg.strip()
        if op == "FROM":
            parts = arg.split()
            stages.append(Stage(base=parts[0], name=parts[2] if len(parts) > 2 else ""))
        else:
            stages[-1].instructions.append((op, arg))
    return stages


def parse_env(arg: str) -> list[tuple[str, str]]:
    return [tuple(item.split("=", 1)) for item in shlex.split(arg)]  # type: ignore[misc]


def exec_form(arg: str) -> list[str]:
    import json

    value = json.loads(arg)
    assert isinstance(value, list), f"{arg} is not the exec (JSON) form"
    return value


# --- static shape --------------------------------------------------------------------------------


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_dockerfile_is_multi_stage_pinned_non_root_with_deps_before_code(image: str):
    stages = parse(DOCKERFILES[image])
    assert len(stages) >= 2, "multi-stage: a build stage and a runtime stage"
    for st in stages:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[a-f0-9]{64})?", st.base), (
            f"{st.base}: pin an exact python:3.11.x-slim-bookworm tag or digest")
    build, runtime = stages[0], stages[-1]
    ops = [(o, a) for o, a in build.instructions if o in ("COPY", "RUN")]
    copy_src = next(i for i, (o, a) in enumerate(ops) if o == "COPY" and a.startswith("src"))
    deps = next(i for i, (o, a) in enumerate(ops) if o == "RUN" and "requirements" in a)
    pyproject = next(i for i, (o, a) in enumerate(ops) if o == "COPY" and "pyproject" in a)
    assert pyproject < deps < copy_src, "dependencies must be installed before the code is copied"
    (user,) = runtime.all("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000, f"USER {user}: a numeric non-root UID"
    assert any(a.startswith("--from=build") for a in runtime.all("COPY"))
    assert not runtime.all("RUN") or all("pip" not in a for a in runtime.all("RUN"))
    (entry,) = runtime.all("ENTRYPOINT")
    assert exec_form(entry)[0] == {"api": "gunicorn", "operator": "kopf"}[image]


def test_dockerignore_keeps_the_context_to_the_package():
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines and "!src/" in lines and "!pyproject.toml" in lines


def test_hadolint_finds_nothing():
    proc = subprocess.run(["bash", str(REPO_ROOT / "hack" / "lint-dockerfiles.sh")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Haskell Dockerfile Linter" in proc.stderr


# --- the install steps, replayed ----------------------------------------------------------------


@dataclass
class Replayed:
    venv: Path
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]


def replay(dockerfile: Path, work: Path) -> Replayed:
    stages = parse(dockerfile)
    build, runtime = stages[0], stages[-1]
    venv = work / "opt-spotter"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    cwd = work
    for op, arg in build.instructions:
        if op == "ENV":
            for key, value in parse_env(arg):
                value = value.replace("/opt/spotter", str(venv)).replace("$PATH", env["PATH"])
                if key == "PIP_NO_CACHE_DIR":
                    continue  # a build-time size setting; the replay may reuse pip's cache
                env[key] = value
        elif op == "WORKDIR":
            cwd = work / arg.lstrip("/")
            cwd.mkdir(parents=True, exist_ok=True)
        elif op == "COPY":
            *sources, dest = shlex.split(arg)
            target = cwd / dest if not dest.startswith("/") else work / dest.lstrip("/")
            for pattern in sources:
                for src in sorted(REPO_ROOT.glob(pattern)):
                    if src.is_dir():  # Docker copies a directory's contents, not the directory
                        shutil.copytree(src, target,
                                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
                                        dirs_exist_ok=True)
                    else:
                        target.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, target / src.name)
        elif op == "RUN":
            proc = subprocess.run(["/bin/sh", "-c", arg], cwd=cwd, env=env, capture_output=True,
                                  text=True, timeout=900)
            assert proc.returncode == 0, f"RUN {arg}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTTER_", "REDIS_"))}
    for op, arg in runtime.instructions:
        if op == "ENV":
            for key, value in parse_env(arg):
                run_env[key] = value.replace("/opt/spotter", str(venv)).replace(
                    "$PATH", os.environ.get("PATH", ""))
    (entry,) = runtime.all("ENTRYPOINT")
    (cmd,) = runtime.all("CMD")
    return Replayed(venv=venv, env=run_env, entrypoint=exec_form(entry), cmd=exec_form(cmd))


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Replayed]:
    cache: dict[str, Replayed] = {}

    class Lazy(dict):  # each image is replayed once, when a test first asks for it
        def __missing__(self, key: str) -> Replayed:
            cache[key] = replay(DOCKERFILES[key], tmp_path_factory.mktemp(f"image-{key}"))
            self[key] = cache[key]
            return cache[key]

    return Lazy()


def resolve(r: Replayed, exe: str) -> str:
    path = r.venv / "bin" / exe
    assert path.exists(), f"{exe} is not in the image's environment ({r.venv / 'bin'})"
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_api_image_install_steps_give_a_gunicorn_that_checks_and_serves(
    replayed: dict[str, Replayed], tmp_path: Path,
):
    r = replayed["api"]
    assert r.entrypoint == ["gunicorn"]
    gunicorn = resolve(r, "gunicorn")
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    port = free_port()
    env = {**r.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics), "API_HOST": "127.0.0.1",
           "API_PORT": str(port), "GUNICORN_WORKERS": "1",
           "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # nothing listens: Redis is down
    check = subprocess.run([gunicorn, "--check-config", *r.cmd], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr

    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen([gunicorn, *r.cmd], env=env, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.3)
        assert resp.status_code == 503  # serving, and honest that Redis is unreachable
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_operator_image_install_steps_give_kopf_the_operator_and_the_fetcher(
    replayed: dict[str, Replayed], tmp_path: Path,
):
    r = replayed["operator"]
    assert r.entrypoint == ["kopf", "run"]
    assert r.cmd[:2] == ["-m", "spotter.operator"]
    kopf = resolve(r, r.entrypoint[0])
    help_run = subprocess.run([kopf, *r.entrypoint[1:], "--help"], env=r.env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0 and "--liveness" in help_run.stdout, help_run.stderr
    python = resolve(r, "python")
    imported = subprocess.run([python, "-c", "import spotter.operator, kopf, kubernetes"],
                              env=r.env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=60)
    assert imported.returncode == 0, imported.stderr
    # the fetcher runs from the same image, its command overriding the entrypoint
    spotter = resolve(r, "spotter")
    fetch = subprocess.run([spotter, "fetch", "--help"], env=r.env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert fetch.returncode == 0 and "--regions" in fetch.stdout, fetch.stdout + fetch.stderr
    # installed, not editable: the code lives in the environment, not in the source tree
    where = subprocess.run([python, "-c", "import spotter.config as c; print(c.__file__)"],
                           env=r.env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip().startswith(str(r.venv)), where.stdout
