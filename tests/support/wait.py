"""Waiting on a condition with a deadline (never a bare sleep before an assertion)."""

from __future__ import annotations

import asyncio
import contextlib
import linecache
import time


async def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll an async predicate until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def _await_chain(coro) -> list[str]:
    """The frames a suspended coroutine waits in, outermost first, down to the future it waits on
    (``Task.print_stack`` shows the outermost frame alone)."""
    lines: list[str] = []
    while coro is not None and len(lines) < 40:
        frame = (
            getattr(coro, "cr_frame", None)
            or getattr(coro, "gi_frame", None)
            or getattr(coro, "ag_frame", None)
        )
        if frame is None:
            lines.append(f"    waiting on {coro!r:.300}")
            break
        code = frame.f_code
        source = linecache.getline(code.co_filename, frame.f_lineno).strip()
        lines.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}: {source}')
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "gi_yieldfrom", None)
            or getattr(coro, "ag_await", None)
        )
    return lines


def task_stacks(limit: int = 60) -> str:
    """Where every asyncio task of this loop waits, as text (pytest-timeout's dump shows threads only)."""
    out = []
    for task in list(asyncio.all_tasks())[:limit]:
        out.append(f"--- {task.get_name()}")
        out += _await_chain(task.get_coro())
    return "\n".join(out)


@contextlib.asynccontextmanager
async def budget(seconds: float, what: str):
    """Fail with every task's stack when ``what`` overruns ``seconds``, instead of hanging until the
    suite's timeout, which cannot say which await never returned. The stacks are taken before the
    step is cancelled (cancelling unwinds them)."""
    loop = asyncio.get_running_loop()
    scope = asyncio.timeout(None)
    stacks: list[str] = []

    def expire() -> None:
        stacks.append(task_stacks())
        scope.reschedule(loop.time())

    watchdog = loop.call_later(seconds, expire)
    try:
        async with scope:
            yield
    except TimeoutError:
        if not scope.expired():
            raise
        raise AssertionError(f"{what} did not finish within {seconds}s; the tasks:\n{stacks[0]}") from None
    finally:
        watchdog.cancel()
