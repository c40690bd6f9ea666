"""The national registries a provider fronts, as ports, and their HTTP adapters:

- the **vehicle registry**: VRN → vehicle type, make and model (the seed's "vehicle details
  fetched earlier");
- the **FASTag registry**: VRN → the EPC of the vehicle's FASTag and its status (the seed's
  national-registry look-up), which a FITkit sticker binds to.

Each adapter is an httpx client with a timeout, tries a look-up again (it is a read) when the
registry could not be reached or answered 5xx (``shared.retry``), and sits behind a circuit
breaker (pybreaker): after ``fail_max`` failures in a row it answers ``ProviderUnavailable`` at
once for ``reset_s``, so a registry that is down costs residents no waiting and the registry no
storm of retries. A vehicle the registry does not know is an answer (None), not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

import httpx
import pybreaker
from pydantic import BaseModel, ValidationError

from shared.retry import call


@dataclass(frozen=True)
class VehicleDetails:
    """What the vehicle registry says of a vehicle."""

    vrn: str
    type: str  # 2W or 4W
    make: str
    model: str


@dataclass(frozen=True)
class Fastag:
    """What the FASTag registry says of a vehicle's FASTag."""

    vrn: str
    epc: str
    status: str  # active, blacklisted or closed

    @property
    def usable(self) -> bool:
        """Whether the gate may read it: only an active FASTag."""
        return self.status == "active"


class ProviderUnavailable(Exception):
    """The provider did not answer usefully: the resident is told to try again later."""


class VehicleRegistry(Protocol):
    """Looks vehicles up by VRN."""

    def lookup(self, vrn: str) -> VehicleDetails | None:
        """The vehicle, None if the registry does not know it; ``ProviderUnavailable`` if the
        registry cannot say."""
        ...


class FastagRegistry(Protocol):
    """Looks a vehicle's FASTag up by VRN."""

    def lookup(self, vrn: str) -> Fastag | None:
        """The vehicle's FASTag, None if it has none; ``ProviderUnavailable`` if the registry
        cannot say."""
        ...


class _Vehicle(BaseModel):
    vrn: str
    type: Literal["2W", "4W"]
    make: str = ""
    model: str = ""


class _Fastag(BaseModel):
    vrn: str
    epc: str
    status: Literal["active", "blacklisted", "closed"]


class _Retry(Exception):
    pass


M = TypeVar("M", bound=BaseModel)


class _HttpLookup:
    """A look-up over HTTP: timeout, retries on 5xx and connection failures, circuit
    breaker; 404 is "not known"."""

    name = "provider"

    def __init__(self, base_url: str, timeout_s: float = 2.0, attempts: int = 2,
                 fail_max: int = 5, reset_s: float = 30.0) -> None:
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self.attempts = attempts
        self.breaker = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_s)

    def _fetch(self, path: str, model: type[M]) -> M | None:
        try:
            return self.breaker.call(self._fetch_once, path, model)
        except pybreaker.CircuitBreakerError as exc:
            raise ProviderUnavailable(f"the {self.name} is not answering") from exc

    def _fetch_once(self, path: str, model: type[M]) -> M | None:
        try:
            resp = call(lambda: self._get(path), retry_on=(_Retry,), attempts=self.attempts)
        except (_Retry, httpx.HTTPError) as exc:
            raise ProviderUnavailable(f"the {self.name} failed: {exc}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise ProviderUnavailable(f"the {self.name} answered {resp.status_code}")
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            raise ProviderUnavailable(f"the {self.name}'s answer is garbled") from exc

    def _get(self, path: str) -> httpx.Response:
        try:
            resp = self.client.get(path)
        except httpx.TransportError as exc:
            raise _Retry(str(exc) or type(exc).__name__) from exc
        if resp.status_code >= 500:
            raise _Retry(f"HTTP {resp.status_code}")
        return resp

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


class HttpVehicleRegistry(_HttpLookup):
    """The vehicle registry over HTTP (``hardware_sim.registry``, docs/providers.md)."""

    name = "vehicle registry"

    def lookup(self, vrn: str) -> VehicleDetails | None:
        """The vehicle, None if unknown; ``ProviderUnavailable`` if down, slow or garbled."""
        got = self._fetch(f"/v1/vehicles/{vrn}", _Vehicle)
        return None if got is None else VehicleDetails(got.vrn, got.type, got.make, got.model)


class HttpFastagRegistry(_HttpLookup):
    """The FASTag registry over HTTP (``hardware_sim.registry``, docs/providers.md)."""

    name = "FASTag registry"

    def lookup(self, vrn: str) -> Fastag | None:
        """The vehicle's FASTag, None if it has none; ``ProviderUnavailable`` if down, slow
        or garbled."""
        got = self._fetch(f"/v1/fastags/{vrn}", _Fastag)
        return None if got is None else Fastag(got.vrn, got.epc.upper(), got.status)
