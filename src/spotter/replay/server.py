"""The replay endpoint's HTTP server: EC2 calls on `/`, control on `/__replay__/`.

A stdlib ThreadingHTTPServer on its own thread; `port=0` picks a free port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from spotter.replay import wire
from spotter.replay.calls import CallLog
from spotter.replay.clock import ReplayClock
from spotter.replay.dataset import Dataset
from spotter.replay.faults import Faults
from spotter.replay.options import ReplayOptions
from spotter.replay.service import ReplayService
from spotter.replay.wire import ApiError

__all__ = ["ReplayOptions", "ReplayServer"]

log = logging.getLogger(__name__)
ADMIN_PREFIX = "/__replay__/"
_MAX_BODY = 1 << 20


class ReplayServer:
    """An EC2-compatible endpoint serving `dataset`; use as a context manager or start()/stop()."""

    def __init__(self, dataset: Dataset, options: ReplayOptions | None = None) -> None:
        self.dataset = dataset
        self.options = options or ReplayOptions()
        self.faults = Faults(**self.options.fault_knobs())
        self.calls = CallLog()
        self.service: ReplayService | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the replay server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def clock(self) -> ReplayClock:
        if self.service is None:
            raise RuntimeError("the replay server is not started")
        return self.service.clock

    def start(self) -> ReplayServer:
        """Bind, start serving on a background thread, and return self."""
        if self._httpd is not None:
            return self
        # The clock starts with the server: with `speed`, replay time runs from here.
        clock = ReplayClock.for_dataset(
            self.dataset.start, self.dataset.end, self.options.clock, self.options.speed
        )
        self.service = ReplayService(
            self.dataset, clock=clock, faults=self.faults, page_size=self.options.page_size
        )
        self._httpd = _HTTPServer((self.options.host, self.options.port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"replay-{self._httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and wake any handler that is sleeping."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.drop_connections()
        if self._thread is not None:
            self._thread.join(5)

    def reset(self) -> None:
        """Forget the calls and put the faults back to the start-up options."""
        self.calls.clear()
        self.faults.reset()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Fetchers open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, replay: ReplayServer) -> None:
        self.replay = replay
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, conn: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(conn)

    def drop_connections(self) -> None:
        # Kept-alive connections would otherwise go on being served after stop().
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("replay: connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "spotter-replay"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("replay: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        target = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            return
        if target.path.startswith(ADMIN_PREFIX):
            self._admin(target.path[len(ADMIN_PREFIX) :], body)
        else:
            self._ec2(body if self.command == "POST" else target.query.encode())

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return None
        return self.rfile.read(length) if length else b""

    def _ec2(self, body: bytes) -> None:
        request_id = str(uuid.uuid4())
        note: dict[str, Any] = {"action": "", "region": None, "params": {}, "delay": 0.0}
        try:
            form = wire.parse_form(body)
            note.update(action=form.get("Action", ""), params=_loggable(form))
            note["region"] = wire.region_from_request(self.headers.get("Authorization"), form)
            if note["region"] is None:
                raise ApiError("MissingAuthenticationToken")
            self._answer(form, note, request_id)
        except ApiError as error:
            self._log(note, error.code, error.status)
            self._send(error.status, wire.render_error(error, request_id), request_id)

    def _answer(self, form: dict[str, str], note: dict[str, Any], request_id: str) -> None:
        replay = self.server.replay
        decision = replay.faults.decide(note["region"], note["action"])
        note["delay"] = decision.delay
        if decision.delay:
            self.server.stopping.wait(decision.delay)
        if decision.transport == "reset":
            self._log(note, "reset", 0)
            self._drop()
            return
        if decision.transport == "malformed":
            self._log(note, "malformed", 200)
            broken = wire.render_malformed(note["action"] or "Unknown", request_id)
            self._send(200, broken, request_id)
            return
        if decision.error:
            raise ApiError(decision.error)
        assert replay.service is not None
        answer = replay.service.call(note["action"], note["region"], form, request_id)
        self._log(note, "timeout" if decision.transport == "timeout" else "ok", 200, answer.records)
        self._send(200, answer.body, request_id)

    def _log(self, note: dict[str, Any], outcome: str, status: int, records: int = 0) -> None:
        self.server.replay.calls.add(
            outcome=outcome, status=status, records=records, at=time.time(), **note
        )

    def _send(self, status: int, body: bytes, request_id: str, kind: str = "text/xml") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind};charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", request_id)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            # The client gave up (e.g. its read timeout fired during an injected delay).
            self.close_connection = True

    def _drop(self) -> None:
        """Close without answering; SO_LINGER 0 makes it a TCP reset, as a dying peer would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _admin(self, path: str, body: bytes) -> None:
        replay = self.server.replay
        try:
            if self.command == "GET" and path == "calls":
                result: Any = {"calls": [c.to_json() for c in replay.calls.all()]}
            elif self.command == "GET" and path == "faults":
                result = replay.faults.snapshot()
            elif self.command == "GET" and path == "health":
                result = _health(replay)
            elif self.command == "POST" and path == "reset":
                replay.reset()
                result = {"ok": True}
            elif self.command == "POST" and path == "faults":
                knobs = json.loads(body or b"{}")
                if not isinstance(knobs, dict):
                    raise ValueError("the body must be a JSON object of fault options")
                replay.faults.configure(**knobs)
                result = replay.faults.snapshot()
            else:
                self._json(404, {"error": f"no admin endpoint {self.command} {path}"})
                return
        except ValueError as exc:
            self._json(400, {"error": str(exc)})
            return
        self._json(200, result)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "-", kind="application/json")


def _health(replay: ReplayServer) -> dict[str, Any]:
    assert replay.service is not None
    data = replay.dataset
    return {
        "status": "ok",
        "replay_now": replay.service.clock.now().isoformat(),
        "dataset": {
            "source": data.source,
            "records": data.records,
            "regions": list(data.regions),
            "start": data.start.isoformat(),
            "end": data.end.isoformat(),
        },
    }


def _loggable(form: dict[str, str]) -> dict[str, Any]:
    """The call's parameters as nested values, without protocol and signing fields."""
    kept = {k: v for k, v in form.items() if k not in ("Action", "Version")}
    kept = {k: v for k, v in kept.items() if not k.startswith("X-Amz-")}
    try:
        return wire.unflatten(kept)
    except ApiError:
        return dict(kept)
