"""One back-off policy for whatever is tried again: exponential with jitter (tenacity).

- In the background (a snapshot the cloud could not serve, a notification its channel refused):
  :func:`backoff_s` gives the wait before the next try, 1 s doubling to 60 s, each with up to
  1 s of jitter, so a thousand boxes that lost the cloud together do not come back in step.
- Inside a request (a call to a payment provider): :func:`call` tries again only on errors that
  prove the request never reached the other side (it could not connect), 3 tries within about
  a second; anything else is the caller's to handle, never sent twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

T = TypeVar("T")

BACKGROUND = wait_exponential(multiplier=1, min=1, max=60) + wait_random(0, 1)
IN_REQUEST = wait_exponential(multiplier=0.2, max=1) + wait_random(0, 0.1)


@dataclass
class _Attempt:
    attempt_number: int  # what tenacity's wait strategies read of a retry's state


def backoff_s(failures: int, policy: Callable = BACKGROUND) -> float:
    """Seconds to wait after the *failures*-th failure in a row (1, 2, …) before trying again."""
    return float(policy(_Attempt(max(1, failures))))


def call(fn: Callable[[], T], *, retry_on: tuple[type[BaseException], ...],
         attempts: int = 3) -> T:
    """``fn()``, tried again after an exception of *retry_on* (up to *attempts* in all); the
    last exception is raised as it was."""
    for attempt in Retrying(stop=stop_after_attempt(attempts), wait=IN_REQUEST,
                            retry=retry_if_exception_type(retry_on), reraise=True):
        with attempt:
            return fn()
    raise AssertionError("unreachable: Retrying reraises")  # pragma: no cover
