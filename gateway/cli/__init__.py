"""The ``clubhub`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from gateway.core.logs import setup_logging
from storage.services import ServiceError, Services, redact
from storage.settings import Settings, SettingsError, is_loopback

from .container import container_problem, demo_settings, mailbox_problem, read_mailbox

log = logging.getLogger("clubhub")


def _settings() -> Settings:
    try:
        return Settings()
    except SettingsError as exc:
        raise SystemExit(f"clubhub: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SystemExit(
            f"clubhub: invalid setting CLUBHUB_{str(first['loc'][0]).upper()}: {first['msg']}"
        ) from None


def cmd_services(args: argparse.Namespace) -> int:
    settings = _settings()
    services = Services(settings)
    try:
        if args.action == "up":
            started = services.up()
            print(f"started: {', '.join(started) or 'nothing (already up)'}")
        elif args.action == "down":
            stopped = services.down()
            print(f"stopped: {', '.join(stopped) or 'nothing (not running)'}")
            return 0
    except ServiceError as exc:
        print(f"clubhub: {exc}", file=sys.stderr)
        return 1
    statuses = services.status()
    for st in statuses:
        kind = "embedded" if st.embedded else "external"
        state = "answering" if st.answering else f"not answering ({st.detail or 'down'})"
        pid = f" pid {st.pid}" if st.pid else ""
        print(f"{st.name:<9} {kind:<9} {redact(st.url) or '-'}  {state}{pid}")
    return 0 if all(st.answering for st in statuses) else 1


def check_environment(settings: Settings) -> str | None:
    """Why this configuration must not serve, or None. ``dev`` (the default) has the dev mailbox and
    generated secrets, so it may only listen where no other machine can reach it."""
    if settings.env == "dev" and not is_loopback(settings.host):
        refusal = (
            f"CLUBHUB_ENV=dev serves only on loopback, not on {settings.host} "
            "(set CLUBHUB_ENV=prod with CLUBHUB_SECRET_KEY and CLUBHUB_SMTP_URL to serve other machines)"
        )
        if not settings.dev_container:
            return refusal
        # The container's own interface, reached only through the ports its host publishes.
        problem = container_problem()
        if problem:
            return f"{refusal}; CLUBHUB_DEV_CONTAINER is refused: {problem}"
    return check_production(settings)


def check_production(settings: Settings) -> str | None:
    if settings.env != "prod":
        return None
    if settings.secret_key is None and settings.jwt_keys_dir is None:
        return "CLUBHUB_ENV=prod needs CLUBHUB_SECRET_KEY or CLUBHUB_JWT_KEYS_DIR (no generated secret in production)"
    if settings.secret_key is not None and len(settings.secret_key.get_secret_value().encode()) < 32:
        return "CLUBHUB_SECRET_KEY must be at least 32 bytes in production (RFC 7518 §3.2 for HS256)"
    if not settings.smtp_url:
        return "CLUBHUB_ENV=prod needs CLUBHUB_SMTP_URL (verification mail must really be sent)"
    return None


def _bind_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    given = (
        ("host", args.host),
        ("port", args.port),
        ("workers", getattr(args, "workers", None)),
        ("ray_address", getattr(args, "ray_address", None)),
    )
    overrides = {k: v for k, v in given if v is not None}
    if not overrides:
        return settings
    try:
        # Validated like the variables they stand for (a --workers of 0 is refused as CLUBHUB_WORKERS=0 is).
        return Settings.model_validate({**settings.model_dump(), **overrides})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SystemExit(
            f"clubhub: invalid --{str(first['loc'][0]).replace('_', '-')}: {first['msg']}"
        ) from None


def _serve_or_supervise(settings: Settings, supervisor_fd: int | None) -> int:
    if supervisor_fd is not None:
        return run_gateway(settings, supervisor_fd=supervisor_fd)  # one worker of a supervisor
    if settings.workers > 1:
        return supervise(settings)
    return run_gateway(settings)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _bind_overrides(_settings(), args)
    return _serve_or_supervise(settings, args.supervisor_fd)


# What `clubhub gateway` needs from outside: it starts no store and no Ray of its own.
EXTERNAL = (
    ("postgres_url", "CLUBHUB_POSTGRES_URL"),
    ("mongo_url", "CLUBHUB_MONGO_URL"),
    ("redis_url", "CLUBHUB_REDIS_URL"),
    ("ray_address", "CLUBHUB_RAY_ADDRESS"),
)


def missing_external(settings: Settings) -> list[str]:
    return [variable for field, variable in EXTERNAL if not getattr(settings, field)]


def cmd_gateway(args: argparse.Namespace) -> int:
    # Starts nothing of its own: without CLUBHUB_S3_URL there is no object store (media answers unavailable),
    # without CLUBHUB_JANUS_URL no media server (live sessions run without audio).
    settings = _bind_overrides(_settings(), args).model_copy(
        update={"s3_embedded": False, "janus_embedded": False}
    )
    missing = missing_external(settings)
    if missing:
        print(
            f"clubhub gateway: {', '.join(missing)} not set (or its _FILE): the gateway alone serves against "
            "external stores and an existing Ray cluster; `clubhub run` starts embedded ones and a local Ray",
            file=sys.stderr,
        )
        return 2
    return _serve_or_supervise(settings, args.supervisor_fd)


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.env == "prod":
        print(
            "clubhub demo: the demo is dev mode (dev mailbox, generated secrets); with CLUBHUB_ENV=prod run "
            "`clubhub gateway` or `clubhub run`",
            file=sys.stderr,
        )
        return 2
    return run_gateway(demo_settings(settings, args.host, args.port))


def cmd_mailbox(args: argparse.Namespace) -> int:
    settings = _settings()
    problem = mailbox_problem(settings)
    if problem:
        print(f"clubhub mailbox: {problem}", file=sys.stderr)
        return 2
    try:
        mails = read_mailbox(settings, args.email)
    except Exception as exc:  # the services are down, Redis refused: one line, not a traceback
        print(f"clubhub mailbox: cannot read the dev mailbox: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(mails))
    else:
        for mail in mails:
            print(f"{mail['subject']}\n{mail.get('link') or mail['body']}\n")
    return 0 if mails else 1


def cmd_ray_node(args: argparse.Namespace) -> int:
    from .node import NodeError, ray_node

    settings = _settings()
    try:
        return ray_node(
            settings,
            head=args.head,
            address=args.address,
            resources=args.resources,
            num_cpus=args.num_cpus,
            extra=args.ray_args,
        )
    except NodeError as exc:
        print(f"clubhub ray-node: {exc}", file=sys.stderr)
        return 2


def run_gateway(settings: Settings, supervisor_fd: int | None = None) -> int:
    """Serve with ``settings`` until a signal (what run, gateway and demo end with)."""
    setup_logging(settings.log_level)
    problem = check_environment(settings)
    if problem:
        print(f"clubhub: {problem}", file=sys.stderr)
        return 2
    if settings.env == "dev" and not is_loopback(settings.host):
        log.warning(
            "DEV MODE ON THE CONTAINER'S NETWORK: generated secrets and a dev mailbox; publish the port on the "
            "host's loopback only (-p 127.0.0.1:PORT:%d), never on an address other machines reach",
            settings.port,
            extra={"host": settings.host, "public_url": settings.base_url},
        )
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        # asyncio.Runner cancels leftover background tasks (engine.io pings) before closing the loop.
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(settings, supervisor_fd))
    except ServiceError as exc:
        print(f"clubhub: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"clubhub: gateway cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0


async def serve(settings: Settings, supervisor_fd: int | None = None) -> None:
    """Start backends, serve until SIGINT/SIGTERM, drain, then close sockets and stop what we started.

    Draining: from the signal on, ``/readyz`` answers 503 for ``CLUBHUB_DRAIN_S`` seconds while everything
    else keeps working, so a load balancer (Kubernetes endpoints) stops routing new connections here before
    the open sockets close; their clients reconnect to another gateway. A second signal ends the wait.

    ``supervisor_fd``: this process is one worker of ``--workers N`` (see ``supervise``): it says "ready" on
    that socket once it listens, and stops as on a signal when the supervisor's end closes (the supervisor
    died without stopping it)."""
    from aiohttp import web

    from gateway.app import create_app, runner_options
    from gateway.http.health import DRAIN, Drain
    from gateway.http.keys import BACKENDS

    loop = asyncio.get_running_loop()
    app = create_app(settings)
    drain = app[DRAIN] = Drain()
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=5.0,
        **runner_options(settings),
    )
    # Backends (services, Ray, stores) start here. Ray installs a SIGTERM handler of its own that
    # kills the process outright, so ours are installed after it, replacing it.
    await runner.setup()
    stop, hurry = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        (hurry if stop.is_set() else stop).set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    address_file = None
    if app[BACKENDS].started_ray:
        address_file = write_ray_address(settings)
    link = socket.socket(fileno=supervisor_fd) if supervisor_fd is not None else None
    try:
        # Workers of one machine share the port; the kernel spreads new connections over them.
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=settings.workers > 1 or None)
        await site.start()
        log.info("gateway listening", extra={"url": f"http://{settings.host}:{settings.port}"})
        if link is not None:
            link.setblocking(False)
            await loop.sock_sendall(link, b"ready\n")

            def supervisor_gone() -> None:
                try:
                    data = link.recv(64)
                except BlockingIOError:
                    return
                except OSError:
                    data = b""
                if not data:
                    loop.remove_reader(link)
                    log.warning("the supervisor's link closed: stopping this worker")
                    on_signal()

            loop.add_reader(link, supervisor_gone)
        await stop.wait()
        drain.start()
        if settings.drain_s > 0:
            log.info(
                "draining: /readyz answers 503 before the sockets close", extra={"seconds": settings.drain_s}
            )
            try:
                await asyncio.wait_for(hurry.wait(), settings.drain_s)
                log.info("drain cut short by a second signal")
            except TimeoutError:
                pass
        log.info("shutting down")
    finally:
        if link is not None:
            loop.remove_reader(link)
            link.close()
        if address_file is not None:
            address_file.unlink(missing_ok=True)
        await runner.cleanup()


def ray_address_file(settings: Settings) -> Path:
    """Where ``clubhub run`` leaves the GCS address of the local Ray instance it started, so another gateway
    on this machine can join it: ``clubhub run --port 8081 --ray-address "$(cat .clubhub/ray/address)"``."""
    return settings.data_path / "ray" / "address"


def write_ray_address(settings: Settings) -> Path | None:
    from actors import runtime

    address = runtime.gcs_address()
    if not address:
        return None
    path = ray_address_file(settings)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(address + "\n")
    tmp.replace(path)  # a reader never sees half an address
    return path


# How long a stopping worker may take (beyond CLUBHUB_DRAIN_S) before the supervisor kills it, and how long
# a worker may take to listen (joining Ray, migrations on a cold first start).
WORKER_STOP_S = 30.0
WORKER_START_S = 180.0
# Embedded services a worker reaches by URL: the supervisor started them, the workers only connect.
EMBEDDED_URL_VARIABLES = (
    ("postgres_url", "postgres", "CLUBHUB_POSTGRES_URL"),
    ("mongo_url", "mongo", "CLUBHUB_MONGO_URL"),
    ("redis_url", "redis", "CLUBHUB_REDIS_URL"),
)


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None. Bound without SO_REUSEPORT on purpose: a gateway
    left running on the port with SO_REUSEPORT would otherwise silently share it with the new workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def gateway_command() -> list[str]:
    beside = Path(sys.executable).parent / "clubhub"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())"]


def worker_environment(settings: Settings, ray_address: str, urls: dict, index: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(
        CLUBHUB_DATA_DIR=str(settings.data_path),
        CLUBHUB_HOST=settings.host,
        CLUBHUB_PORT=str(settings.port),
        CLUBHUB_WORKERS=str(settings.workers),
        CLUBHUB_RAY_ADDRESS=ray_address,
    )
    for field, name, variable in EMBEDDED_URL_VARIABLES:
        if getattr(settings, field) is None and urls.get(name):
            env[variable] = urls[name]  # external ones stay as given (a variable or its _FILE)
    if not settings.s3_embedded:  # `clubhub gateway --workers N`: the workers start no SeaweedFS either
        env["CLUBHUB_S3_EMBEDDED"] = "false"
    if not settings.janus_embedded:  # nor Janus
        env["CLUBHUB_JANUS_EMBEDDED"] = "false"
    listener = settings.metrics_listener
    if listener is not None and listener[1]:
        # One /metrics per worker, each on a port of its own: a scrape must see every process.
        env["CLUBHUB_METRICS_PORT"] = str(listener[1] + index)
    return env


class Worker:
    """One gateway process of ``--workers N`` and our end of its link (a socket pair: the worker says
    "ready" on it; each side sees the other's death as end of file)."""

    def __init__(self, index: int, settings: Settings, ray_address: str, urls: dict) -> None:
        self.index = index
        ours, theirs = socket.socketpair()
        self.link = ours
        argv = [*gateway_command(), "run", "--supervisor-fd", str(theirs.fileno())]
        env = worker_environment(settings, ray_address, urls, index)
        # Not in our process group: a Ctrl-C reaches the supervisor alone, which stops each worker once.
        # The worker's own argv and environment, no shell.
        self.proc = subprocess.Popen(argv, env=env, pass_fds=(theirs.fileno(),), start_new_session=True)  # nosec B603
        theirs.close()
        self.ready = False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)


def _wait_ready(workers: list[Worker], stopping, deadline: float) -> str | None:
    """Wait until every worker listens; the reason it will not, or None."""
    import selectors

    with selectors.DefaultSelector() as selector:
        for worker in workers:
            if not worker.ready:
                selector.register(worker.link, selectors.EVENT_READ, worker)
        while any(not w.ready for w in workers):
            if stopping.is_set():
                return "stopped by a signal while starting"
            if time.monotonic() > deadline:
                return f"not every worker listened within {WORKER_START_S:.0f} s"
            for key, _ in selector.select(timeout=0.25):
                worker = key.data
                if worker.link.recv(64):
                    worker.ready = True
                else:
                    return f"worker {worker.index} (pid {worker.proc.pid}) stopped before it listened (its log is above)"
                selector.unregister(worker.link)
    return None


def supervise(settings: Settings) -> int:
    """``--workers N``: start the services and Ray once, then N gateway processes sharing the port
    (SO_REUSEPORT), each a whole gateway with its own gateway id and Socket.IO server, joined to that Ray.
    SIGINT/SIGTERM stop the workers, then what this process started. A worker that dies stops the rest (exit
    1): a process manager restarts the whole, as it would a single gateway."""
    setup_logging(settings.log_level)
    problem = check_environment(settings)
    if problem:
        print(f"clubhub: {problem}", file=sys.stderr)
        return 2
    if settings.port == 0:
        print("clubhub: --workers needs a fixed port (workers share it); give --port", file=sys.stderr)
        return 2
    busy = port_in_use(settings.host, settings.port)
    if busy:
        print(f"clubhub: gateway cannot listen on {settings.host}:{settings.port}: {busy}", file=sys.stderr)
        return 1
    supervisor = Supervisor(settings)
    try:
        return supervisor.run()
    except ServiceError as exc:
        print(f"clubhub: {exc}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop()


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        import threading

        self.settings = settings
        self.stopping = threading.Event()
        self.workers: list[Worker] = []
        self.services = Services(settings)
        self.started_services: list[str] = []
        self.started_ray = False
        self.address_file: Path | None = None
        self.install_handlers()

    def on_signal(self, signum, frame) -> None:
        self.stopping.set()
        for worker in self.workers:  # a second signal reaches them as theirs: it cuts their drain short
            worker.stop()

    def install_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.on_signal)

    def start_backends(self) -> tuple[str, dict]:
        from actors import runtime

        self.started_services = self.services.up()
        ray_address = self.settings.ray_address
        if not ray_address:
            self.started_ray = runtime.start_ray(self.settings)
            self.install_handlers()  # ray.init replaced the SIGTERM handler with one that exits at once
            ray_address = runtime.gcs_address()
            self.address_file = write_ray_address(self.settings)
        if not ray_address:
            raise ServiceError("the local Ray instance has no GCS address for the workers to join")
        return ray_address, self.services.urls()

    def run(self) -> int:
        ray_address, urls = self.start_backends()
        deadline = time.monotonic() + WORKER_START_S
        # The first alone: it applies migrations and creates the named actors the others then find.
        for count in (1, self.settings.workers - 1):
            if self.stopping.is_set():
                return 0
            batch = [Worker(len(self.workers) + i, self.settings, ray_address, urls) for i in range(count)]
            self.workers.extend(batch)
            problem = _wait_ready(batch, self.stopping, deadline)
            if problem and not self.stopping.is_set():
                print(f"clubhub: {problem}", file=sys.stderr)
                return 1
        if self.stopping.is_set():
            return 0
        log.info(
            "workers listening",
            extra={
                "url": f"http://{self.settings.host}:{self.settings.port}",
                "pids": [w.proc.pid for w in self.workers],
            },
        )
        while not self.stopping.wait(0.5):
            dead = next((w for w in self.workers if w.proc.poll() is not None), None)
            if dead is not None:
                print(
                    f"clubhub: worker {dead.index} (pid {dead.proc.pid}) exited with {dead.proc.returncode}; "
                    "stopping the others",
                    file=sys.stderr,
                )
                return 1
        return 0

    def stop(self) -> None:
        """Workers first (each drains and closes its sockets), then Ray and the services we started."""
        from actors import runtime

        for worker in self.workers:
            worker.stop()
        limit = time.monotonic() + self.settings.drain_s + WORKER_STOP_S
        for worker in self.workers:
            try:
                worker.proc.wait(max(0.1, limit - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker did not stop in time: killed", extra={"pid": worker.proc.pid})
                worker.proc.kill()
                worker.proc.wait()
            worker.link.close()
        if self.address_file is not None:
            self.address_file.unlink(missing_ok=True)
        if self.started_ray:
            runtime.stop_ray()
        if self.started_services:
            self.services.down(self.started_services)
            log.info("stopped embedded services", extra={"services": self.started_services})


async def _with_stores(settings: Settings, work):
    """Start the embedded services if needed, open the stores, run ``work(stores, config)``, close the
    stores and stop the services this call started (``config``: the ``ActorConfig`` an actor would get,
    for code that runs actor bodies in this process)."""
    from actors.config import ActorConfig
    from storage.stores import Stores

    services = Services(settings)
    started = services.up()
    try:
        urls = services.urls()
        stores = await Stores.open(settings, urls)
        config = ActorConfig.from_settings(settings, urls)
        try:
            return await work(stores, config)
        finally:
            await stores.close()
    finally:
        # A one-shot command leaves no server behind: what it started for itself, it stops (the data
        # stays in the data dir for the next `clubhub run`).
        if started:
            services.down(started)


def cmd_seed(args: argparse.Namespace) -> int:
    from .seed import seed

    settings = _settings()
    setup_logging(settings.log_level)

    async def work(stores, config):
        return await seed(
            stores,
            config,
            args.users,
            args.clubs,
            args.events,
            seed=args.seed,
            password=args.password,
            days=args.days,
            sessions_per_day=args.sessions_per_day,
        )

    try:
        result = asyncio.run(_with_stores(settings, work))
    except ServiceError as exc:
        print(f"clubhub: {exc}", file=sys.stderr)
        return 1
    if result.get("seeded"):
        print(
            f"seeded {result['users']} users, {result['clubs']} clubs, {result['events']} events and "
            f"{result['interactions']} interactions in {result['seconds']} s; every password is {args.password!r}"
        )
    return 0


def cmd_train_ranker(args: argparse.Namespace) -> int:
    from actors import runtime
    from ranking.train import NotEnoughData, train
    from storage.analytics import AnalyticsStore

    settings = _settings()
    if args.ray_address:
        settings = settings.model_copy(update={"ray_address": args.ray_address})
    setup_logging(settings.log_level)

    async def work(stores, config):
        store = AnalyticsStore(settings.analytics_url)
        return await train(
            store,
            stores.mongo,
            stores.redis,
            seed=args.seed,
            max_queries=args.max_queries,
            workers=args.workers,
            bars=sys.stderr.isatty() or args.progress,
        )

    started = False
    try:
        started = runtime.start_ray(settings)
        report = asyncio.run(_with_stores(settings, work))
    except ServiceError as exc:
        print(f"clubhub: {exc}", file=sys.stderr)
        return 1
    except NotEnoughData as exc:
        print(
            f"clubhub: cannot train the ranker yet: {exc} (try `clubhub seed` for a demo world)",
            file=sys.stderr,
        )
        return 1
    finally:
        if started:
            runtime.stop_ray()
    print(report.table())
    print(
        f"saved ranker model v{report.version} with {report.users_embedded} users' embeddings; running "
        f"gateways serve it once their interaction consumer has added what was sealed since (checked every "
        f"{settings.ranker_reload_s:g} s)"
    )
    if args.json:
        print(json.dumps({"version": report.version, **report.metrics()}))
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    """The OpenAPI document of every route a dev gateway serves (the dev mailbox included), as the web
    client's generated types are built from it; no service is needed."""
    from gateway.app import build_api

    document = build_api(_settings().model_copy(update={"env": "dev"})).openapi()
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gateway processes sharing the port (SO_REUSEPORT; default CLUBHUB_WORKERS or 1); above 1, "
        "Socket.IO clients must use the websocket transport",
    )
    # Given by the supervisor of --workers to each worker: the socket it says "ready" on.
    parser.add_argument("--supervisor-fd", type=int, default=None, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clubhub", description="ClubHoloHub: realtime server for clubs")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start services (embedded unless configured), Ray and the gateway")
    run.add_argument("--host", default=None, help="bind address (default CLUBHUB_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, default=None, help="bind port (default CLUBHUB_PORT or 8080)")
    _worker_arguments(run)
    run.add_argument(
        "--ray-address",
        default=None,
        help="join this Ray cluster (GCS host:port, or ray://host:10001) instead of starting a local instance "
        "(default CLUBHUB_RAY_ADDRESS)",
    )
    run.set_defaults(func=cmd_run)

    gateway = sub.add_parser(
        "gateway",
        help="the gateway alone, against external stores (CLUBHUB_POSTGRES_URL, _MONGO_URL, _REDIS_URL) and "
        "an existing Ray cluster (CLUBHUB_RAY_ADDRESS): a Kubernetes Deployment's pods",
    )
    gateway.add_argument("--host", default=None, help="bind address (default CLUBHUB_HOST or 127.0.0.1)")
    gateway.add_argument("--port", type=int, default=None, help="bind port (default CLUBHUB_PORT or 8080)")
    _worker_arguments(gateway)
    gateway.set_defaults(func=cmd_gateway)

    node = sub.add_parser(
        "ray-node",
        help="one node of the Ray cluster (ray start --block with the project's settings and token auth)",
        description="Arguments after -- go to `ray start` as they are (e.g. -- --dashboard-host=0.0.0.0).",
    )
    role = node.add_mutually_exclusive_group(required=True)
    role.add_argument("--head", action="store_true", help="start the cluster's head node")
    role.add_argument("--address", help="join the cluster whose GCS is at ADDR (host:6379)")
    node.add_argument(
        "--resources",
        help="custom resources this node offers, JSON (e.g. '{\"clubhub_shard\": 1}' for room shards, "
        "see CLUBHUB_RAY_SHARD_RESOURCE and CLUBHUB_RAY_RANKER_RESOURCE)",
    )
    node.add_argument(
        "--num-cpus", type=int, default=None, help="CPUs to offer (default CLUBHUB_RAY_NUM_CPUS or all)"
    )
    node.add_argument("ray_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    node.set_defaults(func=cmd_ray_node)

    demo = sub.add_parser(
        "demo",
        help="inside a container only: `run` in dev mode on the container's interfaces (publish the port on "
        "the host's loopback: -p 127.0.0.1:8080:8080)",
    )
    demo.add_argument(
        "--host", default=None, help="bind address (default 0.0.0.0: the container's interfaces)"
    )
    demo.add_argument("--port", type=int, default=None, help="bind port (default CLUBHUB_PORT or 8080)")
    demo.set_defaults(func=cmd_demo)

    mailbox = sub.add_parser("mailbox", help="dev mode: the mails the dev mailbox holds for an address")
    mailbox.add_argument("email")
    mailbox.add_argument("--json", action="store_true", help="print them as one JSON list")
    mailbox.set_defaults(func=cmd_mailbox)

    services = sub.add_parser(
        "services", help="the embedded PostgreSQL, MongoDB-wire, Redis and S3 (SeaweedFS) servers"
    )
    services.add_argument("action", choices=["up", "down", "status"])
    services.set_defaults(func=cmd_services)

    seed = sub.add_parser(
        "seed",
        help="a reproducible demo world: users with latent tastes, clubs, events, messages and interactions",
    )
    seed.add_argument("--users", type=int, default=500)
    seed.add_argument("--clubs", type=int, default=40)
    seed.add_argument("--events", type=int, default=200)
    seed.add_argument("--seed", type=int, default=1)
    seed.add_argument("--password", default="clubhub-demo", help="every demo user's password")
    seed.add_argument("--days", type=int, default=30, help="days of history to simulate")
    seed.add_argument("--sessions-per-day", type=float, default=0.6, help="mean app visits per user and day")
    seed.set_defaults(func=cmd_seed)

    trainer = sub.add_parser(
        "train-ranker",
        help="train the feed ranker on Ray from the analytics store (Parquet), print its evaluation, "
        "save a new model version with its users' embeddings",
    )
    trainer.add_argument(
        "--ray-address",
        default=None,
        help="an existing Ray cluster (default CLUBHUB_RAY_ADDRESS, else a local one)",
    )
    trainer.add_argument("--workers", type=int, default=1, help="Ray Train workers (LightGBM data-parallel)")
    trainer.add_argument("--progress", action="store_true", help="progress bars even when not on a terminal")
    trainer.add_argument("--seed", type=int, default=0)
    trainer.add_argument("--max-queries", type=int, default=4000, help="users sampled per time window")
    trainer.add_argument("--json", action="store_true", help="also print the metrics as one JSON line")
    trainer.set_defaults(func=cmd_train_ranker)

    openapi = sub.add_parser(
        "openapi", help="print the OpenAPI document (the web client's types are generated from it)"
    )
    openapi.add_argument("--out", default=None, help="write it to this file instead of stdout")
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
