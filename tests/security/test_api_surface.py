"""The API's surface under real Gunicorn: read-only, and odd or oversized requests refused cleanly.

"Cleanly": never a 5xx, and whatever the app itself answers is JSON (answers from the app carry
X-Request-ID). Gunicorn refuses what its HTTP parser cannot take (a request line over 8190 bytes,
a header over its field limit) before the app sees it, with its own short plain answer.
"""

from __future__ import annotations

from collections import Counter

import requests

from support.apiserver import ApiServer
from support.figures import FigureLog
from support.rawhttp import raw_request, status_of

ROUTES = (
    "/spot-prices/us-east-1/t3.micro", "/spot-prices/us-east-1/t3.micro/history",
    "/best-price/t3.micro", "/regions", "/health", "/metrics", "/openapi.json",
)
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def from_app(answer: requests.Response) -> bool:
    return "X-Request-ID" in answer.headers


def assert_clean(answer: requests.Response) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if from_app(answer):
        assert answer.headers["content-type"].startswith(("application/json", "text/plain"))
        assert "<html" not in answer.text.lower()
        if answer.status_code >= 400:
            assert set(answer.json()["error"]) == {"code", "message"}


def test_the_api_is_read_only(live_api: ApiServer, figures: FigureLog) -> None:
    tried = 0
    for route in ROUTES:
        for method in WRITE_METHODS:
            answer = live_api.session.request(method, live_api.url + route, data=b"x", timeout=10)
            tried += 1
            assert answer.status_code == 405, (method, route, answer.status_code)
            assert answer.json()["error"]["code"] == "method_not_allowed"
            assert answer.headers["Allow"] == "GET, HEAD"
    figures.record(
        "Security: write methods (POST, PUT, DELETE, PATCH, OPTIONS) on every route",
        tried=f"{tried} requests",
        served=f"{tried}x405 JSON method_not_allowed, Allow: GET, HEAD",
        lost="nothing (no key written)", recovery="n/a", group="security",
    )


def test_head_is_answered_on_every_route_without_a_body(live_api: ApiServer) -> None:
    for route in ROUTES:
        get = live_api.get(route)
        head = live_api.session.head(live_api.url + route, timeout=10)
        assert (head.status_code, head.content) == (get.status_code, b""), route
        assert head.headers["content-type"] == get.headers["content-type"]
        assert int(head.headers["content-length"]) > 0, route


ODD_PATHS = [
    "/spot-prices/us-east-1/t3.micro/../../health", "/../../etc/passwd", "//spot-prices",
    "/spot-prices/%00/t3.micro", "/spot-prices/us-east-1%00/t3.micro", "/spot-prices/%ff/x",
    "/spot-prices/us-east-1/t3.micro%0d%0aSet-Cookie:x=1", "/spot-prices/" + "a" * 4000 + "/x",
    "/spot-prices/us-east-1/" + "t" * 7000, "/" + "/".join(["a"] * 2000),
    "/spot-prices/ÿ/t3.micro", "/spot-prices/us-east-1/t3.micro?" + "a=1&" * 1500,
    "/best-price/t3.micro?regions=" + ",".join(["us-east-1"] * 500),
    "/best-price/t3.micro?max_age=" + "9" * 5000, "/spot-prices/us-east-1/t3.micro?product=%00",
    "/spot-prices/us-east-1/t3.micro/history?since=" + "1" * 3000,
    "/health?" + "x" * 8000, "/%2e%2e/%2e%2e/", "/spot-prices/us-east-1/t3.micro/history/x/y",
]


def test_odd_and_oversized_paths_are_refused_cleanly(
    live_api: ApiServer, figures: FigureLog
) -> None:
    statuses: Counter[int] = Counter()
    for path in ODD_PATHS:
        answer = live_api.session.get(live_api.url + path, timeout=10)
        statuses[answer.status_code] += 1
        assert_clean(answer)
    # A request line longer than Gunicorn takes: its own 414, before the app.
    long_line = raw_request(live_api, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    statuses[status_of(long_line)] += 1
    assert status_of(long_line) == 414
    assert "Traceback" not in live_api.output()
    figures.record(
        "Security: odd and oversized paths and queries",
        tried=f"{sum(statuses.values())} requests",
        served=", ".join(f"{n}x{s}" for s, n in sorted(statuses.items())) + "; no 5xx, no HTML",
        lost="nothing", recovery="n/a", group="security",
    )


def test_odd_and_oversized_headers_are_refused_cleanly(
    live_api: ApiServer, figures: FigureLog
) -> None:
    statuses: Counter[int] = Counter()
    cases: list[dict[str, str]] = [
        {"X-Request-ID": "a" * 5000},
        {"X-Request-ID": "x\xffy"},
        {"X-Request-ID": "<script>"},
        {"Accept": "text/html"},
        {"Accept": "application/xml"},
        {"Accept-Encoding": "gzip, deflate, br, zstd, " + "x;q=0.1, " * 200},
        {"Content-Type": "multipart/form-data; boundary=" + "-" * 1000},
        {"Content-Length": "0", "Transfer-Encoding": "chunked"},
        {"Host": "evil.example:99999"},
        {"X-Forwarded-For": "1.2.3.4, " * 300},
        {"Range": "bytes=0-1,2-3," * 100},
        {"If-None-Match": "*"},
    ]
    for headers in cases:
        answer = live_api.session.get(
            live_api.url + "/spot-prices/us-east-1/t3.micro", headers=headers, timeout=10
        )
        statuses[answer.status_code] += 1
        assert_clean(answer)
        if "X-Request-ID" in headers:  # a bad id is replaced, never echoed
            assert answer.headers["X-Request-ID"] != headers["X-Request-ID"]
    raws = [
        # A header line over Gunicorn's field limit; a hundred and fifty headers; a header
        # smuggling a second line; a body on a GET; a bare LF request; HTTP/0.9 and a bad version.
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: v\r\n" % n for n in range(150)) + b"\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\rInjected: 1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        b"GET /health HTTP/1.1\nHost: x\n\n",
        b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 3\r\n\r\n0\r\n\r\n",
    ]
    for data in raws:
        raw = raw_request(live_api, data)
        if not raw:
            statuses[0] += 1  # the connection was closed without an answer
            continue
        status = status_of(raw)
        statuses[status] += 1
        assert status < 500, raw[:300]
        head, _, body = raw.partition(b"\r\n\r\n")
        if b"x-request-id" in head.lower():
            assert b"<html" not in body.lower()
    assert "Traceback" not in live_api.output()
    figures.record(
        "Security: odd and oversized headers (incl. raw malformed requests)",
        tried=f"{sum(statuses.values())} requests",
        served=", ".join(f"{n}x{s if s else 'closed'}" for s, n in sorted(statuses.items()))
        + "; no 5xx, no HTML from the app",
        lost="nothing", recovery="n/a", group="security",
    )
