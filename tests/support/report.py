"""A failure's traceback printed the moment it happens, not only in the summary at the end: a CI log cut
off by a later hang still says why an earlier test failed. A test that times out (pytest-timeout) also
gets every unfinished asyncio task's chain of awaits, since its traceback shows only the event loop."""

from __future__ import annotations

import asyncio
import gc

_config = None


def pytest_configure(config):
    global _config
    _config = config


def pytest_runtest_logreport(report):
    if not report.failed or _config is None:
        return
    reporter = _config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    try:
        reporter.write_line("")
        reporter.write_sep("!", f"FAILED {report.nodeid} ({report.when})")
        reporter.write_line(report.longreprtext[-20_000:])
        if "Timeout (>" in report.longreprtext:
            reporter.write_line(pending_tasks())
    except Exception as exc:  # a diagnostic must never end the run
        reporter.write_line(f"(could not print the failure early: {exc!r})")


def pending_tasks() -> str:
    """Where each unfinished asyncio task waits, outermost await first."""
    tasks = [t for t in gc.get_objects() if isinstance(t, asyncio.Task) and not t.done()]
    lines = [f"{len(tasks)} pending asyncio tasks:"]
    for task in tasks[:50]:
        lines.append(f"  {task.get_name()}:")
        coro, depth = task.get_coro(), 0
        while coro is not None and depth < 30:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
            if frame is not None:
                lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
            coro, depth = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None), depth + 1
        if coro is not None:
            lines.append(f"    awaiting {coro!r:.200}")
    return "\n".join(lines)[-30_000:]
