"""The EC2 query protocol on the wire: form parameters in, EC2-shaped XML out.

Also where the caller's region comes from: the SigV4 credential scope, so one endpoint serves all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from spotter.model import parse_timestamp

XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"

#: EC2's HTTP status and default message per error code.
ERRORS: dict[str, tuple[int, str]] = {
    "RequestLimitExceeded": (503, "Request limit exceeded."),
    "AuthFailure": (401, "AWS was not able to validate the provided access credentials"),
    "OptInRequired": (
        401,
        "You are not subscribed to this service. Please go to http://aws.amazon.com to subscribe.",
    ),
    "UnauthorizedOperation": (403, "You are not authorized to perform this operation."),
    "MissingAuthenticationToken": (403, "Request is missing Authentication Token"),
    "InternalError": (500, "An internal error has occurred"),
    "Unavailable": (503, "The server is overloaded and can't handle the request."),
    "DryRunOperation": (412, "Request would have succeeded, but DryRun flag is set."),
    "InvalidAction": (400, "The action is not valid for this web service."),
    "InvalidParameterValue": (400, "A parameter value is not valid."),
    "InvalidParameterCombination": (400, "The parameter combination is not valid."),
    "InvalidNextToken": (400, "The specified token is invalid."),
}

_CREDENTIAL_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/[a-z0-9-]+/aws4_request")


class ApiError(Exception):
    """An EC2 error answer: its code, message and HTTP status."""

    def __init__(self, code: str, message: str | None = None) -> None:
        status, default = ERRORS.get(code, (400, code))
        super().__init__(message or default)
        self.code = code
        self.message = message or default
        self.status = status


def parse_form(body: bytes) -> dict[str, str]:
    """A query-protocol form body (or query string) as a flat dict."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise ApiError("InvalidParameterValue", "The request is not UTF-8") from None


def region_from_request(authorization: str | None, form: Mapping[str, str]) -> str | None:
    """The region of a SigV4 credential scope, from the header or a presigned query."""
    scope = authorization or ""
    if "X-Amz-Credential" in form:
        scope = "Credential=" + form["X-Amz-Credential"]
    match = _CREDENTIAL_RE.search(scope)
    return match.group(1) if match else None


def unflatten(form: Mapping[str, str]) -> dict[str, Any]:
    """`Filter.1.Value.2=x` style keys as nested lists and dicts: `{"Filter": [{"Value": [x]}]}`."""
    root: dict[Any, Any] = {}
    for key, value in form.items():
        parts = [int(p) if p.isdigit() else p for p in key.split(".")]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ApiError("InvalidParameterValue", f"Parameter {key} conflicts with another")
        if isinstance(node.get(parts[-1]), dict):
            raise ApiError("InvalidParameterValue", f"Parameter {key} conflicts with another")
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_listify(node[k]) for k in sorted(node)]
    return {str(k): _listify(v) for k, v in node.items()}


def text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError("InvalidParameterValue", f"Parameter {name} must be a single value")
    return value


def text_list(params: Mapping[str, Any], name: str) -> list[str] | None:
    """A `Name.N` list, or None when absent."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError("InvalidParameterValue", f"Parameter {name} must be a list {name}.N")
    return value


def boolean(params: Mapping[str, Any], name: str) -> bool:
    value = text(params, name)
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise ApiError("InvalidParameterValue", f"Value ({value}) for parameter {name} is invalid")


def integer(params: Mapping[str, Any], name: str) -> int | None:
    value = text(params, name)
    if value is None:
        return None
    if not value.strip().lstrip("-").isdigit():
        raise ApiError("InvalidParameterValue", f"Value ({value}) for parameter {name} is invalid")
    return int(value)


def timestamp(params: Mapping[str, Any], name: str) -> datetime | None:
    value = text(params, name)
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise ApiError(
            "InvalidParameterValue", f"Value ({value}) for parameter {name} is invalid"
        ) from None


def filters(params: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """`Filter.N.Name` / `Filter.N.Value.M` pairs."""
    value = params.get("Filter") or []
    if not isinstance(value, list):
        raise ApiError("InvalidParameterValue", "Filter must be a list Filter.N")
    found = []
    for item in value:
        name = item.get("Name") if isinstance(item, dict) else None
        values = item.get("Value") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(values, list) or not values:
            raise ApiError("InvalidParameterValue", "Each filter needs a Name and a Value.N list")
        found.append((name, [str(v) for v in values]))
    return found


def wildcard(pattern: str) -> re.Pattern[str]:
    """EC2 filter wildcards: `*` any run of characters, `?` exactly one."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def matches_any(patterns: list[str], value: str) -> bool:
    return any(wildcard(p).fullmatch(value) for p in patterns)


def xml_time(moment: datetime) -> str:
    """EC2's timestamp form: `2022-05-31T23:59:47.000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def element(name: str, value: str | None) -> str:
    """`<name>value</name>`, or `<name/>` for an empty value; None leaves it out."""
    if value is None:
        return ""
    return f"<{name}>{escape(value)}</{name}>" if value else f"<{name}/>"


def render_response(action: str, request_id: str, body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{XMLNS}">'
        f"<requestId>{request_id}</requestId>{body}</{action}Response>"
    ).encode()


def render_error(error: ApiError, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"{element('Code', error.code)}{element('Message', error.message)}"
        f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
    ).encode()


def render_malformed(action: str, request_id: str) -> bytes:
    """A 200 body cut off mid-element, as a broken proxy or a dropped stream would leave it."""
    whole = render_response(action, request_id, "<item><instanceType>m5.large</instanceType>")
    return whole[: len(whole) // 2 + 7]
