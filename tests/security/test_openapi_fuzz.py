"""Schemathesis against /openapi.json of a live Gunicorn: generated and mutated requests for every
operation; zero server errors, and every answer's status, content type, headers and body match
the document.

The store is seeded (two watched regions, a catalog) so that generated requests get real answers
(200, 400, 403, 404), not `not_yet_fetched`/`redis_unavailable`. The 503s the API answers on
purpose (with Retry-After: e.g. `no_fresh_data` for /best-price?max_age=0, which generated input
reaches at will) are tolerated by `st_checks`, which replaces schemathesis's not_a_server_error
and fails every other 5xx. A bounded run is part of
`make test` (SPOTTER_FUZZ_EXAMPLES, 40 per operation); `make chaos` raises it and also runs the
schemathesis CLI with every check and phase.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance
from st_checks import no_server_error_but_an_honest_503

from spotter.api.openapi import document
from support.apiserver import ApiServer
from support.figures import FigureLog

EXAMPLES = int(os.environ.get("SPOTTER_FUZZ_EXAMPLES", "40"))
STATUSES: Counter[int] = Counter()


# The document the live server serves (checked below), loaded at collection: schemathesis
# 4.32's lazy `from_fixture` sets a node attribute pytest 9 no longer has.
schema = schemathesis.openapi.from_dict(document())


def test_the_live_server_serves_the_document_fuzzed(live_api: ApiServer) -> None:
    assert live_api.get("/openapi.json").json() == json.loads(json.dumps(document()))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_answer_matches_the_document(
    case: Any, live_api: ApiServer
) -> None:
    response = case.call(base_url=live_api.url, timeout=10)
    STATUSES[response.status_code] += 1
    # As in the CLI run below: st_checks' check for not_a_server_error, and no
    # positive_data_acceptance (a rule across parameters cannot be said in OpenAPI).
    case.validate_response(
        response, excluded_checks=[not_a_server_error, positive_data_acceptance],
        additional_checks=[no_server_error_but_an_honest_503],
    )


@pytest.mark.slow
def test_schemathesis_cli_every_check_and_phase(live_api: ApiServer, figures: FigureLog) -> None:
    examples = max(EXAMPLES, 300)
    # Every check, with schemathesis's not_a_server_error replaced by st_checks' own, and
    # without positive_data_acceptance: a rule across parameters (a history window's since
    # after its until is a 400) cannot be said in OpenAPI, so such a pair is schema-valid.
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "st_checks",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                          os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{live_api.url}/openapi.json",
         "--checks", "all", "--exclude-checks", "not_a_server_error,positive_data_acceptance",
         "--max-examples", str(examples), "--workers", "2",
         "--suppress-health-check", "all", "--request-timeout", "10"],
        capture_output=True, text=True, timeout=1800, env=env,
    )
    tail = run.stdout[-3000:]
    # Exit 0 and no failure; schemathesis's warnings (e.g. "most generated data rejected" for
    # an operation validated beyond its schema) are not failures.
    assert run.returncode == 0, tail
    assert "Failures:" not in run.stdout and " failed" not in run.stdout, tail
    generated = next(
        (line.strip() for line in run.stdout.splitlines() if "generated" in line), "?"
    )
    figures.record(
        f"Bad input: schemathesis CLI, all checks and phases, {examples} examples/operation",
        tried=generated,
        served="no server error (503 only as documented, with Retry-After); every answer per "
        "schema", lost="nothing",
        recovery="n/a (no failure)", group="input",
    )
