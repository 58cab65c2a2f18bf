"""`X-Request-ID`: kept when the client (or ingress) sends a sane one, generated otherwise; echoed
on the answer and carried by every log line written while the request is answered."""

from __future__ import annotations

import re
import uuid

import falcon

from spotter.logs import request_id

HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


class RequestIdMiddleware:
    """Echoes the request id on every answer, errors included, so logs can be joined."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header(HEADER)
        # Anything else could smuggle log lines or huge values; replace rather than reject.
        req.context.request_id = given if given and _SANE.fullmatch(given) else uuid.uuid4().hex
        req.context.log_token = request_id.set(req.context.request_id)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        token = getattr(req.context, "log_token", None)
        if token is not None:
            request_id.reset(token)
        value = getattr(req.context, "request_id", None)
        if value:
            resp.set_header(HEADER, value)
