"""The Locust suite as a smoke test: every persona of ``loadtest/locustfile.py``, two users each, headless for
25 s against the session's gateway. No request may fail (the personas count a gap or a duplicate seq as a
failure named ``order``), and the chat's delivery time (``deliver``) must be reported with a p99.

Nothing here asserts a latency: the machine may be busy with other work, and this test is about the suite
running cleanly and measuring what it should, not about figures."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.members import Api, client_session, make_member

ROOT = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).parent / "locust")
PERSONAS = ("ChatMember", "LiveHost", "Audience", "Browser")
PER_PERSONA = 2
RUN_S = 25


async def _world(gateway, smtp, tmp_path: Path) -> Path:
    """Members for every simulated user, all in one club (so chat messages reach other simulated members and
    audiences find the hosts' sessions), with two upcoming events to RSVP to. Locust gets their access
    tokens: logins are rate-limited per client address, and all of Locust's come from one."""
    people = [await make_member(gateway.url, smtp, f"Locust {n}") for n in range(PER_PERSONA * len(PERSONAS))]
    async with client_session(gateway.url) as http:
        owner = Api(http, people[0])
        _, club = await owner.call(
            "POST",
            "/clubs",
            {"name": f"Locust smoke {uuid.uuid4().hex[:8]}", "description": "load test"},
            expect=201,
        )
        for person in people[1:]:
            await Api(http, person).call("POST", f"/clubs/{club['id']}/join", expect=200)
        for days in (1, 2):
            starts = datetime.now(UTC) + timedelta(days=days)
            await owner.call(
                "POST",
                f"/clubs/{club['id']}/events",
                {
                    "title": f"Meetup {days}",
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=2)).isoformat(),
                },
                expect=201,
            )
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"email": p.email, "token": p.token} for p in people]))
    return accounts


async def _run_locust(gateway_url: str, accounts: Path, tmp_path: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADTEST_", "LOCUST_"))}
    env.update(
        LOADTEST_ACCOUNTS=str(accounts),
        # Equal weights: PER_PERSONA users of each persona.
        **{f"LOADTEST_WEIGHT_{p.upper()}": "1" for p in PERSONAS},
        LOADTEST_SEND_RATE="1",
        # Short sessions and frequent drops, so one short run ends and starts live sessions and resumes
        # sockets with `since_seq` (their missed messages are checked like live ones).
        LOADTEST_LIVE_SESSION_S="8",
        LOADTEST_DROP_EVERY_S="6",
    )
    users = PER_PERSONA * len(PERSONAS)
    log = tmp_path / "locust.log"
    with open(log, "wb") as out:
        # A process group of its own (start_new_session), so an overrun stops Locust and anything it started.
        proc = await asyncio.create_subprocess_exec(
            LOCUST,
            "-f",
            str(ROOT / "loadtest" / "locustfile.py"),
            "--headless",
            "--host",
            gateway_url,
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{RUN_S}s",
            "--stop-timeout",
            "10",
            "--csv",
            str(tmp_path / "smoke"),
            "--only-summary",
            "--loglevel",
            "WARNING",
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            # The gateway runs in this test's event loop: awaiting (not blocking) keeps it serving.
            code = await asyncio.wait_for(proc.wait(), timeout=RUN_S + 120)
        finally:
            if proc.returncode is None:  # overran (or the test was interrupted): its group, by its id
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), timeout=10)
                except TimeoutError:
                    os.killpg(proc.pid, signal.SIGKILL)
                    await proc.wait()
    return code, log.read_text()[-6000:]


async def test_locust_personas_smoke(gateway, smtp, tmp_path):
    accounts = await _world(gateway, smtp, tmp_path)
    code, log = await _run_locust(gateway.url, accounts, tmp_path)

    failed = "\n".join(
        f"{name}:\n{path.read_text() if path.exists() else '(none)'}"
        for name, path in (
            ("failures", tmp_path / "smoke_failures.csv"),
            ("exceptions", tmp_path / "smoke_exceptions.csv"),
        )
    )
    assert code == 0, f"locust exited {code}\n{log}\n{failed}"
    with open(tmp_path / "smoke_stats.csv", newline="") as f:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    total = rows[("", "Aggregated")]
    assert int(total["Failure Count"]) == 0, failed
    assert ("socketio", "order") not in rows, failed

    # Every persona did its part: chat (with deliveries measured), resumes, both sides of live sessions,
    # and browsing.
    for key in [
        ("socketio", "message:send"),
        ("socketio", "deliver"),
        ("socketio", "reconnect"),
        ("POST", "/events/{id}/live/start"),
        ("socketio", "live:poll"),
        ("socketio", "live:state"),
    ]:
        assert key in rows and int(rows[key]["Request Count"]) > 0, (key, sorted(rows))
    # The Browser picks its tasks at random (feed, events, search, history, unread): in 25 s two of them
    # may skip any one task, so any of them counts.
    browsing = [("GET", "/feed"), ("GET", "/clubs?q="), ("GET", "/events"), ("GET", "/me/unread")]
    assert any(key in rows for key in browsing), sorted(rows)
    deliver = rows[("socketio", "deliver")]
    assert deliver["99%"] not in ("", "N/A"), deliver
    print(
        f"locust smoke: {total['Request Count']} requests, 0 failures; deliver p50 "
        f"{deliver['50%']} ms, p99 {deliver['99%']} ms over {deliver['Request Count']} deliveries"
    )


async def test_locust_distributed_master_and_two_workers(gateway, smtp, tmp_path):
    """`make loadtest --workers 2`'s way of running Locust (loadtest/run_locust.py): a master and two worker
    processes, the workers splitting the accounts (LOADTEST_WORKERS). The master records only what the
    workers report, so requests in its CSV show the workers ran; the summary and the plot come from them."""
    sys.path.insert(0, str(ROOT / "loadtest"))
    import run_locust

    accounts = await _world(gateway, smtp, tmp_path)
    env = {
        "LOADTEST_ACCOUNTS": str(accounts),
        **{f"LOADTEST_WEIGHT_{p.upper()}": "1" for p in PERSONAS},
        "LOADTEST_SEND_RATE": "1",
        "LOADTEST_LIVE_SESSION_S": "8",
    }
    out = tmp_path / "locust"
    users = PER_PERSONA * len(PERSONAS)
    # Blocking (it waits on its processes): in a thread, so this loop's gateway keeps serving.
    code = await asyncio.to_thread(
        run_locust.run_locust, gateway.url, users, users, 15, out, workers=2, env=env, grace_s=90
    )
    summary = run_locust.summarize(run_locust.read_stats(out))
    assert code == 0 and summary["total"], (code, summary)
    assert summary["total"]["requests"] > 0 and summary["failure_pct"] == 0, summary
    names = {(r["type"], r["name"]) for r in summary["names"]}
    assert ("socketio", "message:send") in names and ("socketio", "deliver") in names, names
    assert (out / "report.html").exists()
    assert run_locust.plot(out) is not None
    print(run_locust.table(summary))
