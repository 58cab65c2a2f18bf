"""The framework ceiling: a bare Falcon app answering the API's routes with constant JSON bytes.

Gunicorn target `bench.baseline_app:app`. The bodies come from the file named by
SPOTTER_BENCH_BODIES (JSON: route template -> body text), so each answer has exactly the size of
the API's real answer on the same route.
"""

from __future__ import annotations

import json
import os

import falcon


class Constant:
    """Answers GET with one fixed JSON body, whatever the path parameters."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def on_get(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
        resp.data = self.body
        resp.content_type = falcon.MEDIA_JSON


def create_app(bodies: dict[str, str]) -> falcon.App:
    app = falcon.App()
    for template, body in bodies.items():
        app.add_route(template, Constant(body.encode()))
    return app


def _bodies() -> dict[str, str]:
    path = os.environ.get("SPOTTER_BENCH_BODIES")
    if not path:
        return {"/best-price/{instance_type}": "{}", "/spot-prices/{region}/{instance_type}": "{}"}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


app = create_app(_bodies())
