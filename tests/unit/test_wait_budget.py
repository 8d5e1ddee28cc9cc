"""The tests' own step budget (support.wait.budget): an overrun fails naming where each task waits."""

from __future__ import annotations

import asyncio

import pytest
from support.wait import budget


async def test_an_overrun_fails_with_the_stack_of_the_await_that_hung():
    async def never_answers():
        await asyncio.Event().wait()

    with pytest.raises(AssertionError) as failure:
        async with budget(0.2, "the step"):
            await never_answers()
    message = str(failure.value)
    assert message.startswith("the step did not finish within 0.2s")
    assert "in never_answers: await asyncio.Event().wait()" in message


async def test_a_timeout_of_the_step_itself_is_not_taken_for_an_overrun():
    with pytest.raises(TimeoutError):
        async with budget(30, "the step"):
            await asyncio.wait_for(asyncio.Event().wait(), 0.05)


async def test_a_step_within_its_budget_passes_its_result_through():
    async with budget(5, "the step"):
        value = await asyncio.sleep(0, result=42)
    assert value == 42
