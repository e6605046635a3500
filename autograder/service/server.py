"""``nngrade serve``: the check service over HTTP (tornado).

Why tornado: Jupyter already brings it (the notebook server and JupyterHub
run on it), so the service adds no dependency to a course machine, and
JupyterHub's service-auth helpers (:mod:`.auth`) are tornado-native.  The
IOLoop thread only parses, authenticates and rate-limits; judging runs in
three bounded thread pools — numeric, formula (SymPy, in warm worker
processes killed and replaced at the time limit, see
:mod:`autograder.formula_pool`) and function checks (in the sandbox, in separate
processes, under a CPU cap) — so a flood of slow formula or function
checks never waits in a numeric check's queue; function checks also run at
a lower CPU priority (:mod:`.priority`), so they do not take the cores from
numeric and formula checks either.  ``processes=N`` serves from ``N``
processes sharing the listening socket (one core each for parsing and
judging; one GIL is one core), their per-student rate and in-flight limits
in one shared file (:mod:`.shared`).

:func:`make_app` builds the application, :func:`serve` runs it until
interrupted (standalone or as a JupyterHub service), :func:`start_in_thread`
runs it on a private IOLoop in a thread (tests, benchmarks).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import tornado.httpserver
import tornado.netutil
import tornado.web

from .auth import token_of
from .judging import Checker
from .limits import Limits, RateLimiter, ServiceError, busy, rate_limited, too_large
from .priority import nice_sandbox
from .shared import LocalState, SharedState

__all__ = ["make_app", "serve", "start_in_thread", "ServiceState"]

log = logging.getLogger("nngrade.serve")

#: what tornado itself accepts as a declared body length; the service's own
#: (much smaller) cap answers 413 before reading a byte of the body
_SERVER_BODY_LIMIT = 1 << 30
#: connections waiting to be accepted (tornado's default is 128): a class
#: pressing *check* at the same instant opens one each, and a connection
#: beyond the backlog is dropped and retried by the client's TCP a second
#: later (the kernel caps it at ``net.core.somaxconn``)
BACKLOG = 2048


@dataclass
class ServiceState:
    checker: Checker
    auth: object                                   # .student(token) -> awaitable str | None
    limits: Limits
    language: str = "zh+en"
    #: per-student rate and in-flight limits (.take/.enter/.leave): in memory,
    #: or a :class:`~.shared.SharedState` shared by the server's processes
    students: object = None
    judge_pool: ThreadPoolExecutor = None
    fn_pool: ThreadPoolExecutor = None
    formula_pool: ThreadPoolExecutor = None
    fn_waiting: int = 0

    def __post_init__(self):
        self.students = self.students or LocalState(RateLimiter(self.limits.per_minute,
                                                                self.limits.burst))
        self.judge_pool = self.judge_pool or ThreadPoolExecutor(self.limits.judge_workers,
                                                                "nngrade-judge")
        self.fn_pool = self.fn_pool or ThreadPoolExecutor(self.limits.fn_workers, "nngrade-fn")
        self.formula_pool = self.formula_pool or ThreadPoolExecutor(self.limits.formula_workers,
                                                                    "nngrade-formula")


class _Base(tornado.web.RequestHandler):
    def initialize(self, state: ServiceState):
        self.state = state
        self.student: str | None = None

    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")

    def send_json(self, data: dict) -> None:
        self.finish(json.dumps(data, ensure_ascii=False, allow_nan=False))

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError):
            err = exc
        elif isinstance(exc, tornado.web.HTTPError) and exc.status_code < 500:
            err = ServiceError(exc.status_code, "bad_request",
                               f"请求无效（{exc.status_code}）。", f"Bad request ({exc.status_code}).")
        else:
            err = ServiceError(500, "internal_error",
                               "检查服务内部出错，已记录。请稍后重试或告知老师。",
                               "The check service failed internally (logged). Try again later "
                               "or tell your instructor.")
        self.set_status(err.status)
        if err.retry_after is not None:
            self.set_header("Retry-After", str(max(1, int(err.retry_after + 0.999))))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(err.body(self.state.language), ensure_ascii=False))

    def log_exception(self, typ, value, tb):
        if isinstance(value, ServiceError):
            log.info("%s %s -> %s %s (student %s)", self.request.method, self.request.path,
                     value.status, value.reason, self.student)
        else:
            super().log_exception(typ, value, tb)

    async def authenticate(self) -> str:
        try:
            student = await self.state.auth.student(token_of(self.request.headers.get("Authorization")))
        except Exception:  # noqa: BLE001 — the hub unreachable: say so, not 500
            log.exception("authentication failed")
            raise ServiceError(503, "auth_unavailable", "暂时无法验证身份，请稍后重试。",
                               "Cannot verify who you are right now; try again later.", 10.0)
        if not student:
            raise ServiceError(401, "unauthorized",
                               "检查服务不认识这个令牌：请确认 NNGRADE_TOKEN（或 JupyterHub 登录）。",
                               "The check service does not know this token: check NNGRADE_TOKEN "
                               "(or your JupyterHub login).")
        self.student = student
        return student

    def take_rate(self, student: str) -> None:
        wait = self.state.students.take(student)
        if wait > 0:
            raise rate_limited(wait)


class HealthHandler(_Base):
    def get(self):
        self.send_json({"ok": True})


class ManifestHandler(_Base):
    async def get(self, assignment: str):
        student = await self.authenticate()
        self.take_rate(student)
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(self.state.judge_pool, self.state.checker.manifest,
                                          assignment, student)
        self.send_json(data)


@tornado.web.stream_request_body
class CheckHandler(_Base):
    """POST v1/check (see :mod:`autograder.service`)."""

    async def prepare(self):
        self._chunks, self._size, self._over, self._holding = [], 0, False, False
        cap = self.state.limits.max_body_bytes
        declared = self.request.headers.get("Content-Length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            raise too_large(cap)
        student = await self.authenticate()
        self.take_rate(student)
        if not self.state.students.enter(student):
            raise busy("in_flight", "你的上一个检查还在进行中，请等它完成。",
                       "Your previous check is still running; wait for it to finish.", 2.0)
        self._holding = True

    def data_received(self, chunk: bytes):
        self._size += len(chunk)
        if self._size > self.state.limits.max_body_bytes:
            self._over = True
            self._chunks = []
        elif not self._over:
            self._chunks.append(chunk)

    async def post(self):
        if self._over:
            raise too_large(self.state.limits.max_body_bytes)
        try:
            body = json.loads(b"".join(self._chunks).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ServiceError(400, "bad_json", "请求不是有效的 UTF-8 JSON。",
                               "The request is not valid UTF-8 JSON.") from None
        state = self.state
        kind = state.checker.kind(body)
        loop = asyncio.get_running_loop()
        if kind == "function":
            if state.fn_waiting >= state.limits.fn_queue:
                raise busy("busy", "检查服务正忙（函数检查排队过多），请稍后重试。",
                           "The check service is busy (too many function checks queued); "
                           "try again shortly.", 10.0)
            state.fn_waiting += 1
            try:
                result = await loop.run_in_executor(state.fn_pool, _function_check, state,
                                                    self.student, body)
            finally:
                state.fn_waiting -= 1
        else:
            pool = state.formula_pool if kind == "formula" else state.judge_pool
            result = await loop.run_in_executor(pool, state.checker.check, self.student, body)
        self.send_json(result)

    def finish(self, chunk=None):
        # free the student's slot before the reply leaves: their next check
        # may reach another server process as soon as they have read this one
        self._release()
        return super().finish(chunk)

    def _release(self):
        if getattr(self, "_holding", False):
            self._holding = False
            self.state.students.leave(self.student)

    def on_finish(self):
        self._release()

    def on_connection_close(self):
        self._release()


def make_app(checker: Checker, auth, limits: Limits | None = None,
             prefix: str = "/", shared: str | None = None) -> tornado.web.Application:
    """The tornado application under URL ``prefix`` (a hub service's
    ``JUPYTERHUB_SERVICE_PREFIX``).  ``shared``: the file of per-student
    limits shared with the other server processes (:mod:`.shared`);
    ``None``: this process's memory."""
    from ..formula_pool import use_workers
    limits = limits or checker.limits
    use_workers(limits.formula_workers)    # warm formula workers, one per formula thread
    students = None if shared is None else SharedState(shared, limits.per_minute, limits.burst,
                                                       stale_after=2 * limits.fn_wall_seconds + 60)
    state = ServiceState(checker, auth, limits, language=checker.course.language,
                         students=students)
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    args = {"state": state}
    app = tornado.web.Application([
        (prefix + r"v1/health", HealthHandler, args),
        (prefix + r"v1/assignments/([A-Za-z0-9_]{1,40})", ManifestHandler, args),
        (prefix + r"v1/check", CheckHandler, args),
    ], default_handler_class=_NotFound, default_handler_args=args)
    app.service_state = state
    return app


def _function_check(state: ServiceState, student: str, body: dict) -> dict:
    """A function check, its sandbox at the lower CPU priority (.priority)."""
    nice_sandbox(state.limits.fn_nice)
    return state.checker.check(student, body)


class _NotFound(_Base):
    def prepare(self):
        raise ServiceError(404, "not_found", "没有这个地址。", "No such address.")


def _http_server(app) -> tornado.httpserver.HTTPServer:
    return tornado.httpserver.HTTPServer(app, max_body_size=_SERVER_BODY_LIMIT, xheaders=True)


def start_in_thread(app, host: str = "127.0.0.1", port: int = 0):
    """Serve ``app`` on a private IOLoop in a daemon thread; returns
    ``(base URL, stop)``. ``port=0``: a free port."""
    sockets = tornado.netutil.bind_sockets(port, host, backlog=BACKLOG)
    port = sockets[0].getsockname()[1]
    ready, holder = threading.Event(), {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = _http_server(app)
        server.add_sockets(sockets)
        holder.update(loop=loop, server=server)
        ready.set()
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=run, name="nngrade-serve", daemon=True)
    thread.start()
    ready.wait(60)

    def stop():
        holder["loop"].call_soon_threadsafe(holder["loop"].stop)
        thread.join(30)
    return f"http://{host}:{port}", stop


def serve(course, *, host: str = "127.0.0.1", port: int = 8765, tokens=None, hub: bool = False,
          limits: Limits | None = None, isolation: str = "auto",
          processes: int | None = None) -> None:
    """Run the service until interrupted.  ``tokens``: the token file
    (standalone); ``hub``: authenticate with JupyterHub (prefix, port and
    token from the service environment the hub sets).  ``processes``: server
    processes sharing the port (default: one per core), their per-student
    limits shared (:mod:`.shared`), the function-check and formula workers
    divided between them (at most one sandboxed run per core in all)."""
    from urllib.parse import urlparse

    import tornado.process

    from .priority import start_sandbox
    from .shared import state_file
    limits = limits or Limits()
    processes = max(1, int(processes or os.cpu_count() or 1))
    prefix = "/"
    if hub:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        if url:
            parsed = urlparse(url)
            host, port = parsed.hostname or host, parsed.port or port
    from .auth import HubTokens, TokenFile
    auth = HubTokens() if hub else TokenFile(tokens)    # a bad set-up fails here, once
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sockets = tornado.netutil.bind_sockets(port, host, backlog=BACKLOG)
    shared = None
    if processes > 1:
        # at most one sandboxed run per core in all (formula workers stay:
        # idle processes cost memory only, and a busy one means a fork)
        limits = replace(limits, fn_workers=max(1, limits.fn_workers // processes))
        shared, parent = state_file(), os.getpid()

        def _remove():
            if os.getpid() == parent:
                for suffix in ("", "-wal", "-shm"):
                    try:
                        os.unlink(shared + suffix)
                    except OSError:
                        pass
        import atexit
        atexit.register(_remove)
        log.info("check service: %d processes on http://%s:%s%s", processes, host, port, prefix)
        # the parent stays here, restarting a process that dies; each child
        # returns and serves (no thread of ours exists yet: safe to fork)
        tornado.process.fork_processes(processes, max_restarts=100)
        _die_with(parent)
    checker = Checker(course, limits, isolation=isolation)
    app = make_app(checker, auth, limits, prefix, shared=shared)
    start_sandbox(app.service_state.fn_pool, limits.fn_nice)   # warm, niced

    async def main():
        server = _http_server(app)
        server.add_sockets(sockets)
        log.info("check service on http://%s:%s%s (process %d)", host, port, prefix, os.getpid())
        await asyncio.Event().wait()

    asyncio.run(main())


def _die_with(parent: int) -> None:
    """A server process ends with the parent that forked it (``SIGTERM``
    on its death, Linux's parent-death signal): stopping ``nngrade serve``
    stops every process."""
    import ctypes
    import signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(0)
