"""Guard for the engine.io / Socket.IO internals the gateway patches, wraps or subclasses (no services).

gateway/websocket.py replaces ``AsyncSocket.poll`` and ``AsyncSocket.handle_post_request`` with copies of
its own, subclasses the aiohttp driver's ``WebSocket`` (installed through ``eio_server._async["websocket"]``)
and swaps ``Packet.json`` in both packet layers and the ``message`` handler; gateway/limits.py wraps
``_handle_eio_connect``/``_handle_eio_disconnect``; gateway/delivery.py subclasses ``AsyncRedisManager``.
None of that is public API, so python-engineio is pinned (setup.cfg). Before widening the pin, run this
file on the new version: each failure names what moved. The library code is read from its source files,
not from the live classes, because a gateway created earlier in the same pytest session has already
replaced ``poll`` and friends.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
from pathlib import Path

import engineio
import engineio.async_socket
import engineio.packet
import engineio.payload
import pytest
import socketio
import socketio.async_server
import socketio.packet
from packaging.requirements import Requirement
from packaging.version import Version

from gateway.socket import websocket

ROOT = Path(__file__).resolve().parents[2]

# Functions gateway/websocket.py carries a modified copy of, fingerprinted (docstrings and formatting
# ignored) as they were in python-engineio 4.15.1 when the copies were written. A new fingerprint means
# the library changed the code the copy replaces: port the change into the copy, then record the new one.
COPIED = {
    ("engineio.async_socket", "AsyncSocket.poll"): ("gateway.socket.websocket._poll", "e65ca9f757c5"),
    ("engineio.async_socket", "AsyncSocket.handle_post_request"): (
        "gateway.socket.websocket._handle_post_request",
        "f922c1c16154",
    ),
    ("engineio.async_drivers.aiohttp", "WebSocket.__call__"): (
        "gateway.socket.websocket.UncompressedWebSocket.__call__",
        "a969eeea92fe",
    ),
}


def library_function(module: str, qualname: str) -> ast.AsyncFunctionDef | ast.FunctionDef:
    """The library's own definition of ``Class.method``, parsed from its source file."""
    path = importlib.util.find_spec(module).origin
    scope = ast.parse(Path(path).read_text())
    for part in qualname.split("."):
        found = [
            n
            for n in scope.body
            if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == part
        ]
        assert found, f"{module}: {qualname} is gone ({part} not found in {path})"
        scope = found[0]
    return scope


def fingerprint(node: ast.AST) -> str:
    node = ast.parse(ast.unparse(node)).body[0]  # a copy, formatting and comments dropped
    if (
        node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and isinstance(node.body[0].value.value, str)
    ):
        node.body = node.body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(node).encode()).hexdigest()[:12]


def params(node) -> list[str]:
    a = node.args
    return (
        [p.arg for p in a.posonlyargs + a.args]
        + (["*" + a.vararg.arg] if a.vararg else [])
        + [p.arg for p in a.kwonlyargs]
        + (["**" + a.kwarg.arg] if a.kwarg else [])
    )


def resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_engineio_version_is_the_pinned_one():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = [ln.strip() for ln in config["options"]["install_requires"].splitlines()]
    pins = [Requirement(ln) for ln in lines if ln.startswith("python-engineio")]
    assert pins, "setup.cfg install_requires must pin python-engineio (the gateway patches its internals)"
    installed = Version(importlib.metadata.version("python-engineio"))
    assert pins[0].specifier.contains(installed), (
        f"python-engineio {installed} is installed but setup.cfg pins {pins[0].specifier}"
    )
    assert Version("4.15") <= installed < Version("4.16"), (
        f"python-engineio {installed}: the patches were checked on 4.15.x only; review them, then move the pin"
    )


@pytest.mark.parametrize("library", list(COPIED), ids=[qualname for _, qualname in COPIED])
def test_copied_library_functions_are_unchanged(library):
    module, qualname = library
    copy_name, expected = COPIED[library]
    original = library_function(module, qualname)
    ours = resolve(copy_name)
    assert isinstance(original, ast.AsyncFunctionDef) == inspect.iscoroutinefunction(ours), (
        f"{module}.{qualname} changed between sync and async; {copy_name} must follow"
    )
    assert params(original) == list(inspect.signature(ours).parameters), (
        f"{module}.{qualname} now takes {params(original)}; {copy_name} takes {list(inspect.signature(ours).parameters)}"
    )
    assert fingerprint(original) == expected, (
        f"{module}.{qualname} changed upstream (fingerprint {fingerprint(original)}, was {expected}): "
        f"{copy_name} is a modified copy of it; port the change, then update COPIED"
    )


# (module, qualified name, parameters the gateway calls it with or wraps it by, async?)
SIGNATURES = [
    ("engineio.async_socket", "AsyncSocket.receive", ["self", "pkt"], True),  # _handle_post_request
    ("engineio.async_socket", "AsyncSocket.close", ["self", "wait", "abort", "reason"], True),  # drop()
    ("engineio.async_drivers.aiohttp", "WebSocket.__init__", ["self", "handler", "server"], False),
    ("engineio.async_drivers.aiohttp", "WebSocket.wait", ["self"], True),  # UncompressedWebSocket.wait
    ("engineio.async_drivers.aiohttp", "WebSocket.send", ["self", "message"], True),  # .send
    ("engineio.async_drivers.aiohttp", "WebSocket.close", ["self"], True),  # drop()
    ("engineio.payload", "Payload.__init__", ["self", "packets", "encoded_payload"], False),
    ("engineio.packet", "Packet.__init__", ["self", "packet_type", "data", "encoded_packet"], False),
    ("engineio.base_server", "BaseServer.on", ["self", "event", "handler"], False),  # eio.on(...)
    ("engineio.async_server", "AsyncServer.disconnect", ["self", "sid"], True),  # limits, app shutdown
    # SocketAdmission.install wraps these two with handlers of the same parameters
    ("socketio.async_server", "AsyncServer._handle_eio_connect", ["self", "eio_sid", "environ"], True),
    ("socketio.async_server", "AsyncServer._handle_eio_disconnect", ["self", "eio_sid", "reason"], True),
    ("socketio.async_server", "AsyncServer._handle_eio_message", ["self", "eio_sid", "data"], True),
    # refuse_malformed_packets replaces it per server with on_event(eio_sid, namespace, id, data)
    (
        "socketio.async_server",
        "AsyncServer._handle_event",
        ["self", "eio_sid", "namespace", "id", "data"],
        True,
    ),
    ("socketio.async_server", "AsyncServer._send_packet", ["self", "eio_sid", "pkt"], True),
    (
        "socketio.packet",
        "Packet.__init__",
        ["self", "packet_type", "data", "namespace", "id", "binary", "encoded_packet"],
        False,
    ),
    # RoomDelivery
    ("socketio.async_pubsub_manager", "AsyncPubSubManager._handle_emit", ["self", "message"], True),
    ("socketio.async_redis_manager", "AsyncRedisManager._redis_listen_with_retries", ["self"], True),
    ("socketio.async_redis_manager", "AsyncRedisManager._redis_connect", ["self"], False),
    ("socketio.base_manager", "BaseManager.get_participants", ["self", "namespace", "room"], False),
    ("socketio.base_manager", "BaseManager.sid_from_eio_sid", ["self", "eio_sid", "namespace"], False),
    ("socketio.base_manager", "BaseManager.eio_sid_from_sid", ["self", "sid", "namespace"], False),
    ("socketio.base_manager", "BaseManager.is_connected", ["self", "sid", "namespace"], False),
]


@pytest.mark.parametrize("module, qualname, expected, is_async", SIGNATURES, ids=[s[1] for s in SIGNATURES])
def test_signatures_the_gateway_relies_on(module, qualname, expected, is_async):
    node = library_function(module, qualname)
    assert isinstance(node, ast.AsyncFunctionDef) == is_async, (
        f"{module}.{qualname} is {'no longer' if is_async else 'now'} a coroutine function"
    )
    assert params(node) == expected, (
        f"{module}.{qualname} takes {params(node)}, the gateway expects {expected}"
    )


def test_redis_manager_init_takes_what_room_delivery_passes():
    node = library_function("socketio.async_redis_manager", "AsyncRedisManager.__init__")
    missing = {"url", "channel", "redis_options"} - set(params(node))
    assert not missing, f"AsyncRedisManager.__init__ lost {missing} (RoomDelivery.__init__ passes them)"


# Calls inside library code that make a patch take effect: (module, function, source fragment, why).
CALLS = [
    (
        "engineio.async_socket",
        "AsyncSocket._upgrade_websocket",
        "self.server._async['websocket'](self._websocket_handler, self.server)",
        "use_uncompressed_websockets installs the websocket class per server, and UncompressedWebSocket finds "
        "its engine.io socket as handler.__self__",
    ),
    (
        "engineio.async_socket",
        "AsyncSocket._websocket_handler",
        "packets = await self.poll()",
        "the websocket writer must take packets through poll (use_fast_poll, the in_flight count)",
    ),
    (
        "engineio.async_socket",
        "AsyncSocket._websocket_handler",
        "await ws.send(pkt.encode())",
        "the writer sends one frame per packet taken (UncompressedWebSocket.send counts in_flight down)",
    ),
    (
        "engineio.async_server",
        "AsyncServer.handle_request",
        "await socket.handle_post_request(environ)",
        "long-polling POSTs go through the patched handle_post_request",
    ),
    ("engineio.packet", "Packet.decode", "self.json.loads(", "Packet.json = SafeJson must reach decoding"),
    ("socketio.packet", "Packet.decode", "self.json.loads(", "Packet.json = SafeJson must reach decoding"),
    (
        "socketio.async_server",
        "AsyncServer._handle_eio_message",
        "await self._handle_event(",
        "refuse_malformed_packets replaces _handle_event on the instance",
    ),
    (
        "socketio.async_pubsub_manager",
        "AsyncPubSubManager._thread",
        "await self._handle_emit(data)",
        "RoomDelivery._handle_emit receives the shards' publishes",
    ),
    (
        "socketio.async_redis_manager",
        "AsyncRedisManager._listen",
        "self._redis_listen_with_retries()",
        "RoomDelivery overrides the listener loop",
    ),
]


@pytest.mark.parametrize("module, qualname, fragment, why", CALLS, ids=[f"{c[1]}:{c[2][:30]}" for c in CALLS])
def test_library_calls_the_patched_names(module, qualname, fragment, why):
    source = ast.unparse(library_function(module, qualname))
    assert fragment.replace("'", '"') in source.replace("'", '"'), (
        f"{module}.{qualname} no longer contains {fragment!r}: {why}"
    )


def test_packet_layers_read_json_from_the_class():
    for cls in (engineio.packet.Packet, socketio.packet.Packet):
        assert "json" in vars(cls), (
            f"{cls.__module__}.Packet has no class attribute json (SafeJson replaces it)"
        )


def test_installation_points_on_a_fresh_server():
    """What the install functions read: the driver table, the engine.io handler table Socket.IO filled,
    and the server attributes the patched code uses."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    eio = sio.eio
    assert isinstance(eio._async, dict) and issubclass(
        websocket.UncompressedWebSocket, eio._async["websocket"]
    ), "eio._async['websocket'] is no longer the aiohttp driver's WebSocket"
    for event, name in (
        ("connect", "_handle_eio_connect"),
        ("message", "_handle_eio_message"),
        ("disconnect", "_handle_eio_disconnect"),
    ):
        assert eio.handlers.get(event) == getattr(sio, name), (
            f"socketio.AsyncServer no longer registers {name} as engine.io's {event!r} handler"
        )
    missing = [
        a
        for a in ("sockets", "max_http_buffer_size", "ping_interval", "ping_timeout", "reason")
        if not hasattr(eio, a)
    ]
    missing += [f"reason.{a}" for a in ("SERVER_DISCONNECT",) if not hasattr(eio.reason, a)]
    missing += [
        f"sio.{a}"
        for a in ("_binary_packet", "reserved_events", "packet_class", "manager")
        if not hasattr(sio, a)
    ]
    assert not missing, f"engine.io/Socket.IO server attributes the gateway uses are gone: {missing}"


async def test_socket_has_the_state_poll_and_delivery_use():
    """_poll and RoomDelivery._put read an engine.io socket's queue (an asyncio.Queue) and its
    closed/closing/upgraded flags."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    sock = engineio.async_socket.AsyncSocket(sio.eio, "sid")
    missing = [a for a in ("queue", "closed", "closing", "upgraded", "server", "sid") if not hasattr(sock, a)]
    assert not missing, f"engine.io's AsyncSocket lost {missing}"
    for method in ("empty", "get", "get_nowait", "put_nowait", "task_done", "qsize"):
        assert callable(getattr(sock.queue, method, None)), f"AsyncSocket.queue has no {method}()"
