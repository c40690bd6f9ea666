"""The one back-off policy (shared.retry) and what is tried again in a request."""

from __future__ import annotations

import httpx
import pytest

from cloud.parking.payments import NOT_SENT
from shared.retry import backoff_s, call


@pytest.mark.parametrize(("failures", "low", "high"), [
    (1, 1, 2), (2, 2, 3), (3, 4, 5), (6, 32, 33), (7, 60, 61), (50, 60, 61)])
def test_background_backoff_doubles_to_a_minute_with_jitter(failures, low, high):
    waits = [backoff_s(failures) for _ in range(200)]
    assert all(low <= w <= high for w in waits)
    assert max(waits) - min(waits) > 0.5  # jittered: boxes that failed together spread out


def test_a_request_that_never_left_is_tried_again_and_others_are_not():
    tries: list[str] = []

    def refused_twice() -> str:
        tries.append("x")
        if len(tries) < 3:
            raise httpx.ConnectError("connection refused")
        return "paid"

    assert call(refused_twice, retry_on=NOT_SENT) == "paid" and len(tries) == 3
    tries.clear()

    def read_timeout() -> str:  # it may have reached the provider: never sent twice
        tries.append("x")
        raise httpx.ReadTimeout("no answer")

    with pytest.raises(httpx.ReadTimeout):
        call(read_timeout, retry_on=NOT_SENT)
    assert len(tries) == 1
    tries.clear()

    def always_refused() -> str:
        tries.append("x")
        raise httpx.ConnectError(f"refused #{len(tries)}")

    with pytest.raises(httpx.ConnectError, match="refused #3"):
        call(always_refused, retry_on=NOT_SENT)
    assert len(tries) == 3
