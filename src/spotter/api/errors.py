"""Every error the API answers, as JSON `{"error": {"code", "message"}}`, mapped in one place."""

from __future__ import annotations

import logging
import math
from typing import Any

import falcon

from spotter.api.deps import ALLOWED
from spotter.store import StoreUnavailable

log = logging.getLogger("spotter.api")

#: Seconds a client should wait before asking again when Redis is unreachable.
REDIS_RETRY_AFTER = 5

#: Every code the API can answer with, for the OpenAPI document.
ERROR_CODES: tuple[str, ...] = (
    "invalid_region", "invalid_instance_type", "invalid_product", "invalid_parameter",
    "unknown_region", "region_not_watched", "region_not_enabled", "instance_type_not_watched",
    "unknown_zone",
    "no_spot_offer", "not_yet_fetched", "no_fresh_data", "aws_unauthorized", "redis_unavailable",
    "not_found", "method_not_allowed", "bad_request", "internal_error",
)


class ApiError(Exception):
    """A domain answer that is not a 200: status, stable code, human message, optional retry."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def unavailable(code: str, message: str, retry_after: float) -> ApiError:
    return ApiError(503, code, message, retry_after=retry_after)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _answer(resp: falcon.Response, status: int, code: str, message: str) -> None:
    resp.status = status
    resp.media = error_body(code, message)
    resp.content_type = falcon.MEDIA_JSON


def _retry_after(resp: falcon.Response, seconds: float) -> None:
    resp.set_header("Retry-After", str(max(1, math.ceil(seconds))))


def _on_api_error(req: falcon.Request, resp: falcon.Response, ex: ApiError, params: Any) -> None:
    _answer(resp, ex.status, ex.code, ex.message)
    if ex.retry_after is not None:
        _retry_after(resp, ex.retry_after)


def _on_store_unavailable(
    req: falcon.Request, resp: falcon.Response, ex: StoreUnavailable, params: Any
) -> None:
    # Redis may come back at any moment; the pool reconnects by itself on the next request.
    log.warning("redis unavailable while answering %s %s: %s", req.method, req.path, ex)
    _answer(resp, 503, "redis_unavailable", "the price store (Redis) is unreachable; retry later")
    _retry_after(resp, REDIS_RETRY_AFTER)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def _on_http_error(
    req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
) -> None:
    status = ex.status_code
    if status == 404:
        message = f"no such resource: {req.path}; see /openapi.json"
    elif status == 405:
        allowed = ", ".join(ALLOWED)
        message = f"method {req.method} is not allowed; this API is read-only ({allowed})"
    else:
        message = ex.description or ex.title or "request failed"
    code = _HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    _answer(resp, status, code, message)
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)
    if status == 405:
        # Falcon would list OPTIONS too, which every resource refuses: the API is read-only.
        resp.set_header("Allow", ", ".join(ALLOWED))


def _on_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
    log.exception("unexpected error answering %s %s", req.method, req.path)
    _answer(resp, 500, "internal_error", "internal error; it has been logged")


def install(app: falcon.App) -> None:
    """Register the handlers; Falcon picks the most specific one for each exception."""
    app.add_error_handler(Exception, _on_unexpected)
    app.add_error_handler(falcon.HTTPError, _on_http_error)
    app.add_error_handler(StoreUnavailable, _on_store_unavailable)
    app.add_error_handler(ApiError, _on_api_error)
