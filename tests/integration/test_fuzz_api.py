"""API fuzzing (issue 11, must-show 2): Schemathesis drives every operation of ``/api/v1/openapi.json``.

Authenticated as a member that owns a club (with a room and an event), every operation gets generated
input (valid per the schema) and schema-violating input (Schemathesis' negative mode); half of the
cases put the member's real ids in the path so they reach real objects, not only ``not_found``.
Checks on every response: no 5xx, the status is one the document lists for the operation, the body
conforms to the listed schema and the content type to the listed one.

Bounded smoke inside ``make test`` (``CLUBHUB_FUZZ_EXAMPLES`` per operation and mode, default 8); the
nightly-sized run is ``CLUBHUB_FUZZ_CASES=10000`` (``make fuzz``): rounds over every operation until at
least that many cases ran. The number of cases run is printed.

The gateway serves from this test's event loop, so Schemathesis (synchronous ``requests``) runs in a
worker thread while the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.members import client_session, make_member

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
EXAMPLES = int(os.environ.get("CLUBHUB_FUZZ_EXAMPLES", "8"))
TARGET_CASES = int(os.environ.get("CLUBHUB_FUZZ_CASES", "0"))
# Operations whose call would end the fuzz member's own login: they get a throwaway member's token.
SESSION_ENDING = {("POST", "/api/v1/auth/logout")}


@pytest.fixture(scope="module")
async def world(gateway, smtp):
    """The fuzz member, a club it owns with its general room and an event, and another member."""
    fuzzer = await make_member(gateway.url, smtp, "Fuzzer")
    other = await make_member(gateway.url, smtp, "Fuzz target")
    throwaway = await make_member(gateway.url, smtp, "Fuzz logout")
    headers = {"Authorization": f"Bearer {fuzzer.token}"}
    async with client_session(gateway.url) as http:
        resp = await http.post(
            "/api/v1/clubs", json={"name": "fuzz club", "visibility": "public"}, headers=headers
        )
        assert resp.status == 201, await resp.text()
        club_id = (await resp.json())["id"]
        resp = await http.post(
            f"/api/v1/clubs/{club_id}/join", json={}, headers={"Authorization": f"Bearer {other.token}"}
        )
        assert resp.status == 200, await resp.text()
        rooms = (await (await http.get(f"/api/v1/clubs/{club_id}/rooms", headers=headers)).json())["rooms"]
        resp = await http.post(
            f"/api/v1/clubs/{club_id}/events",
            headers=headers,
            json={
                "title": "fuzz night",
                "starts_at": "2031-01-01T18:00:00Z",
                "ends_at": "2031-01-01T20:00:00Z",
            },
        )
        assert resp.status == 201, await resp.text()
        event_id = (await resp.json())["id"]
        raw = await (await http.get("/api/v1/openapi.json")).json()
    ids = {
        "club_id": club_id,
        "room_id": rooms[0]["id"],
        "event_id": event_id,
        "user_id": [fuzzer.user_id, other.user_id],
    }
    return {"schema": raw, "fuzzer": fuzzer, "throwaway": throwaway, "ids": ids}


class Fuzzer:
    """Runs Hypothesis over every operation and mode, counting cases and collecting failures."""

    def __init__(self, base_url: str, world: dict) -> None:
        self.base_url = base_url
        self.world = world
        self.schema = schemathesis.openapi.from_dict(world["schema"])
        self.operations = [result.ok() for result in self.schema.get_all_operations()]
        self.session = requests.Session()
        self.cases = 0
        self.statuses: Counter = Counter()
        self.failures: dict[str, str] = {}
        self.no_input: set[str] = set()

    def headers_for(self, operation) -> dict:
        member = self.world[
            "throwaway" if (operation.method.upper(), operation.path) in SESSION_ENDING else "fuzzer"
        ]
        return {"Authorization": f"Bearer {member.token}"}

    def real_ids(self, case, draw) -> None:
        for name, value in self.world["ids"].items():
            if case.path_parameters and name in case.path_parameters:
                case.path_parameters[name] = (
                    draw(st.sampled_from(value)) if isinstance(value, list) else value
                )

    def run(self, operation, mode, examples: int) -> None:
        label = f"{operation.method.upper()} {operation.path} [{mode.value}]"
        if label in self.failures:
            return  # one failure per operation and mode is enough to report

        @settings(
            max_examples=examples,
            deadline=None,
            phases=[Phase.generate],
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
        def fuzz(case, data):
            if data.draw(st.booleans(), label="real ids"):
                self.real_ids(case, data.draw)
            response = case.call(
                base_url=self.base_url, session=self.session, headers=self.headers_for(operation), timeout=30
            )
            self.cases += 1
            self.statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Unsatisfiable:  # negative mode on an operation that takes no input: nothing to violate
            self.no_input.add(label)
        except (Exception, BaseExceptionGroup) as exc:  # a failed check: kept, the other operations still run
            self.failures[label] = f"{type(exc).__name__}: {exc}"[:3000]

    def run_all(self, examples: int, target: int) -> None:
        rounds = 0
        while True:
            for operation in self.operations:
                for mode in MODES:
                    self.run(operation, mode, examples)
            rounds += 1
            if self.cases >= target or rounds >= 50:
                return


async def test_fuzz_every_operation(gateway, world):
    fuzzer = Fuzzer(gateway.url, world)
    assert len(fuzzer.operations) >= 30, [op.path for op in fuzzer.operations]
    per_round = len(fuzzer.operations) * len(MODES)
    examples = max(EXAMPLES, math.ceil(TARGET_CASES / per_round)) if TARGET_CASES else EXAMPLES
    started = time.monotonic()
    await asyncio.to_thread(fuzzer.run_all, examples, TARGET_CASES)
    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis: {fuzzer.cases} cases over {len(fuzzer.operations)} operations x {len(MODES)} modes "
        f"in {elapsed:.1f} s; statuses {dict(sorted(fuzzer.statuses.items()))}; "
        f"no schema-violating input possible: {sorted(fuzzer.no_input)}"
    )
    assert not fuzzer.failures, "\n\n".join(f"{label}\n{text}" for label, text in fuzzer.failures.items())
    assert fuzzer.cases >= min(TARGET_CASES, 10_000) if TARGET_CASES else fuzzer.cases >= per_round
