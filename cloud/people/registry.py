"""The vehicle registry port: VRN → vehicle type, make and model (the seed's "vehicle details
fetched earlier"), and its HTTP adapter.

The adapter is an httpx client with a timeout, tries a look-up again (it is a read) when the
registry could not be reached or answered 5xx (``shared.retry``), and sits behind a circuit
breaker (pybreaker): after ``fail_max`` failures in a row it answers ``ProviderUnavailable`` at
once for ``reset_s``, so a registry that is down costs residents no waiting and the registry no
storm of retries. A vehicle the registry does not know is an answer (None), not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
import pybreaker
from pydantic import BaseModel, ValidationError

from shared.retry import call


@dataclass(frozen=True)
class VehicleDetails:
    """What the registry says of a vehicle."""

    vrn: str
    type: str  # 2W or 4W
    make: str
    model: str


class ProviderUnavailable(Exception):
    """The provider did not answer usefully: the resident is told to try again later."""


class VehicleRegistry(Protocol):
    """Looks vehicles up by VRN."""

    def lookup(self, vrn: str) -> VehicleDetails | None:
        """The vehicle, None if the registry does not know it; ``ProviderUnavailable`` if the
        registry cannot say."""
        ...


class _Answer(BaseModel):
    vrn: str
    type: Literal["2W", "4W"]
    make: str = ""
    model: str = ""


class _Retry(Exception):
    pass


class HttpVehicleRegistry:
    """The registry over HTTP (the protocol of ``hardware_sim.registry``, docs/providers.md)."""

    def __init__(self, base_url: str, timeout_s: float = 2.0, attempts: int = 2,
                 fail_max: int = 5, reset_s: float = 30.0) -> None:
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self.attempts = attempts
        self.breaker = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_s)

    def lookup(self, vrn: str) -> VehicleDetails | None:
        """The vehicle, None if unknown; ``ProviderUnavailable`` if down, slow or garbled."""
        try:
            return self.breaker.call(self._lookup, vrn)
        except pybreaker.CircuitBreakerError as exc:
            raise ProviderUnavailable("the vehicle registry is not answering") from exc

    def _lookup(self, vrn: str) -> VehicleDetails | None:
        try:
            resp = call(lambda: self._get(vrn), retry_on=(_Retry,), attempts=self.attempts)
        except (_Retry, httpx.HTTPError) as exc:
            raise ProviderUnavailable(f"the vehicle registry failed: {exc}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise ProviderUnavailable(f"the vehicle registry answered {resp.status_code}")
        try:
            got = _Answer.model_validate_json(resp.content)
        except ValidationError as exc:
            raise ProviderUnavailable("the vehicle registry's answer is not a vehicle") from exc
        return VehicleDetails(got.vrn, got.type, got.make, got.model)

    def _get(self, vrn: str) -> httpx.Response:
        try:
            resp = self.client.get(f"/v1/vehicles/{vrn}")
        except httpx.TransportError as exc:
            raise _Retry(str(exc) or type(exc).__name__) from exc
        if resp.status_code >= 500:
            raise _Retry(f"HTTP {resp.status_code}")
        return resp

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
