"""A small typed route layer over aiohttp: pydantic in, pydantic out, one OpenAPI 3 document.

A handler declares its body, query and response models; the wrapper parses and validates the
request (malformed JSON, wrong types and missing fields become 422 ``invalid`` with the contract's
error body), authenticates the bearer when asked, and serializes the result. The OpenAPI document
at ``/api/v1/openapi.json`` is generated from the same declarations, so it cannot drift.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, RootModel, ValidationError
from pydantic.json_schema import models_json_schema

from actors.domain.errors import CODES, DomainError
from gateway.core.logs import client_error
from gateway.schemas.common import describe_validation_error, storable

PREFIX = "/api/v1"
PATH_ID_MAX = 10**18 - 1  # the largest path id ``path_id`` accepts (18 digits, below bigint's 2**63)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


@dataclass
class Operation:
    method: str
    path: str
    handler: Callable[..., Awaitable[Any]]
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    tags: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    content_type: str = "application/json"
    extra: dict = field(default_factory=dict)
    # Other success statuses the handler may answer with the same response body (e.g. 200 for a create
    # that found the thing already made); the handler returns ``Api.answer(body, status)`` for them.
    also: tuple[int, ...] = ()


class Api:
    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body=None,
        query=None,
        response=None,
        status: int = 200,
        auth: bool = True,
        tags: tuple[str, ...] = (),
        errors: tuple[str, ...] = (),
        content_type: str = "application/json",
        also: tuple[int, ...] = (),
    ):
        """Declare an operation; ``path`` without a leading ``/api`` gets the ``/api/v1`` prefix."""
        full = path if path.startswith(("/healthz", "/readyz", "/metrics")) else PREFIX + path

        def decorate(fn):
            self.operations.append(
                Operation(
                    method.upper(),
                    full,
                    fn,
                    summary,
                    body,
                    query,
                    response,
                    status,
                    auth,
                    tags,
                    errors,
                    content_type,
                    also=also,
                )
            )
            return fn

        return decorate

    @staticmethod
    def answer(body: BaseModel | dict, status: int) -> web.Response:
        """A success body with a status other than the operation's own (one of its ``also``)."""
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json")
        return web.json_response(body, status=status)

    def include(self, other: Api) -> Api:
        self.operations.extend(other.operations)
        return self

    def register(self, app: web.Application, authenticate) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, _wrap(op, authenticate))
        app.router.add_get(PREFIX + "/openapi.json", self._serve_openapi)

    async def _serve_openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self.openapi())

    def openapi(self) -> dict:
        models: set[type[BaseModel]] = {ErrorBody}
        for op in self.operations:
            models.update(m for m in (op.body, op.response) if m is not None)
        _, schema = models_json_schema(
            [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
            ref_template="#/components/schemas/{model}",
        )
        paths: dict[str, dict] = {}
        for op in self.operations:
            item: dict[str, Any] = {
                "summary": op.summary,
                "operationId": op.handler.__name__,
                "tags": list(op.tags),
                "responses": {},
            }
            if op.auth:
                item["security"] = [{"bearer": []}]
            if op.query is not None:
                item["parameters"] = [
                    {
                        "name": name,
                        "in": "query",
                        "required": f.is_required(),
                        "schema": op.query.model_json_schema()["properties"][name],
                    }
                    for name, f in op.query.model_fields.items()
                ]
            for name in _path_params(op.path):
                item.setdefault("parameters", []).append(
                    {
                        "name": name,
                        "in": "path",
                        "required": True,
                        "schema": PATH_STRINGS.get(name)
                        or {"type": "integer", "minimum": 1, "maximum": PATH_ID_MAX},
                    }
                )
            if op.body is not None:
                item["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}
                    },
                }
            ok: dict[str, Any] = {"description": "success"}
            if op.response is not None:
                ok["content"] = {
                    op.content_type: {"schema": {"$ref": f"#/components/schemas/{op.response.__name__}"}}
                }
            elif op.content_type != "application/json":
                ok["content"] = {op.content_type: {"schema": {"type": "string"}}}
            item["responses"][str(op.status)] = ok
            for status in op.also:
                item["responses"][str(status)] = ok
            codes = set(op.errors) | ({"invalid", "too_large"} if op.body or op.query else set())
            if _path_params(op.path):
                codes.add("not_found")  # any id may not exist (or be one the caller cannot see)
            if op.auth:
                codes.add("unauthorized")
            for code in sorted(codes):
                item["responses"][str(CODES[code])] = {
                    "description": code,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                }
            if op.query is not None:
                # aiohttp's HTTP parser refuses a request line over 8 KB before any handler runs.
                item["responses"]["400"] = {"description": "request line too long for the HTTP server"}
            paths.setdefault(op.path, {})[op.method.lower()] = item
        return {
            "openapi": "3.1.0",
            "info": {"title": "ClubHoloHub API", "version": "1"},
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "schemas": schema.get("$defs", {}),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            },
        }


def _path_params(path: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", path)


# Path parameters that are not database integers: passed to the handler as the raw string (the action
# parses it and answers ``not_found`` for anything it did not hand out). Media ids are UUIDs (32 hex digits).
PATH_STRINGS: dict[str, dict[str, Any]] = {
    "media_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}


def path_value(name: str, raw: str) -> int | str:
    if name in PATH_STRINGS:
        return raw[:100]
    return path_id(name, raw)


def path_id(name: str, raw: str) -> int:
    """A path id as the database can hold it, else ``not_found`` like any id that does not exist.

    ASCII digits only: ``'²'.isdigit()`` is true but ``int('²')`` fails; 18 digits stay below 2**63.
    """
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(PATH_ID_MAX)):
        raise DomainError("not_found", f"no such {name.removesuffix('_id')}: {raw[:40]}")
    return int(raw)


def _wrap(op: Operation, authenticate):
    params = inspect.signature(op.handler).parameters

    async def handler(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if op.auth or "claims" in params:
            claims = await authenticate(request, required=op.auth)
            if "claims" in params:
                kwargs["claims"] = claims
        for name in _path_params(op.path):
            kwargs[name] = path_value(name, request.match_info[name])
        if op.query is not None:
            try:
                kwargs["query"] = op.query.model_validate(storable(dict(request.query)))
            except ValidationError as exc:
                raise DomainError("invalid", describe_validation_error(exc)) from None
        if op.body is not None:
            raw = await request.read()  # beyond client_max_size this raises 413, mapped to too_large
            try:
                # An empty body is an empty object: POST /clubs/{id}/join needs nothing for a public club.
                data = (
                    json.loads(raw) if raw.strip() else ({} if not issubclass(op.body, RootModel) else None)
                )
            except (ValueError, UnicodeDecodeError):
                raise DomainError("invalid", "request body is not valid JSON") from None
            except RecursionError:  # "[" * 1000: the parser gives up before the nesting ends
                client_error("deep_json", "request body nested too deeply", path=request.path)
                raise DomainError("invalid", "request body is nested too deeply") from None
            storable(data)
            expects_list = issubclass(op.body, RootModel)
            if not isinstance(data, list if expects_list else dict):
                raise DomainError(
                    "invalid", f"request body must be a JSON {'array' if expects_list else 'object'}"
                )
            try:
                kwargs["body"] = op.body.model_validate(data)
            except ValidationError as exc:
                raise DomainError("invalid", describe_validation_error(exc)) from None
        result = await op.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        return web.json_response(result, status=op.status)

    handler.__name__ = op.handler.__name__
    return handler
