"""Helpers of the helm tests: the chart's paths, a helm runner that parses `helm template`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from support.controlplane import REPO_ROOT, Testbin

#: The chart under test; SPOTTER_TEST_CHART points elsewhere (e.g. a packaged copy) if set.
CHART = Path(os.environ.get("SPOTTER_TEST_CHART") or REPO_ROOT / "charts" / "spotter")
CI_DIR = CHART / "ci"
CI_FILES = sorted(CI_DIR.glob("*.yaml"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The chart as released before the current one: `helm upgrade` must work from it.
PREVIOUS_CHART = FIXTURES / "spotter-0.1.0.tgz"
#: Structural subsets of the Prometheus Operator CRDs (written for these tests).
MONITORING_CRDS = FIXTURES / "monitoring-crds.yaml"


def ci_id(path: Path | None) -> str:
    return "defaults" if path is None else path.stem


class Helm:
    """Runs the real helm with an isolated home; ``render`` parses `helm template` output."""

    def __init__(self, testbin: Testbin) -> None:
        self.testbin = testbin
        self.binary = testbin.helm

    def run(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        return self.testbin.helm_run(*args, check=check, input=input, timeout=timeout)

    def template(
        self, *args: str, values: Sequence[Path] = (), release: str = "r",
        namespace: str = "spotter", chart: Path | str = CHART, check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = ["template", release, str(chart), "--namespace", namespace]
        for v in values:
            argv += ["-f", str(v)]
        return self.run(*argv, *args, check=check, input=input)

    def render(self, *args: str, **kwargs: Any) -> list[dict[str, Any]]:
        """The objects `helm template` prints, each with "_source" = its template path."""
        out = self.template(*args, **kwargs).stdout
        return parse_manifest(out)


def parse_manifest(text: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for chunk in text.split("\n---"):
        source = ""
        for line in chunk.splitlines():
            if line.startswith("# Source: "):
                source = line.removeprefix("# Source: ").strip()
                break
        doc = yaml.safe_load(chunk)
        if isinstance(doc, dict) and doc:
            doc["_source"] = source
            docs.append(doc)
    return docs


def strip_source(docs: list[dict[str, Any]]) -> str:
    """YAML of the docs without the "_source" key, ready for kubectl."""
    clean = [{k: v for k, v in d.items() if k != "_source"} for d in docs]
    return yaml.safe_dump_all(clean, sort_keys=False)


def find(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(hits) == 1, f"expected one {kind} named *{name_suffix}, got {len(hits)}"
    return hits[0]


def container(doc: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    containers = doc["spec"]["template"]["spec"]["containers"]
    if name is None:
        assert len(containers) == 1
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    """A container's env as {name: value or valueFrom}."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


