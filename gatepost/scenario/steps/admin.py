"""Steps of what only staff or a partner do through the cloud API (docs/scenarios.md): a
resident's own code (``resident_code: {who, ref?, site?}``), a committee seat (``committee:
{who, role?, flat?, external?, mandate_start?, mandate_end?, leave?}``), a company
(``company: {who, company?}``), a code payment (``code_payment: {who, paid_through}``), a
resident who leaves (``remove_resident: {who}``), the FASTag re-check (``fastag_recheck: {}``)
and a read of the partner API (``partner_read: {partner, read, site?, key_sites?}``).

A step that changes rules waits, as a ``cloud`` step does, until the edge holds every site's
new version while the link is up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Literal

import httpx
from pydantic import Field

from gatepost.scenario.base import CloudExpect, Model, check
from gatepost.scenario.context import Run
from gatepost.scenario.registry import step
from gatepost.scenario.sync import cloud_versions


class ResidentCodeStep(Model):
    who: str = Field(description="a cloud.residents ref: the resident given a code")
    ref: str | None = Field(None, description="the scenario's name for the code (``keypad`` "
                            "and ``guard_code`` steps type it by this ref)")
    site: str | None = None


class CommitteeStep(Model):
    who: str = Field(description="a cloud.residents ref")
    role: str = Field("member", description="president, secretary, treasurer, member…")
    flat: str | None = Field(None, description="the unit the member stands for")
    external: bool = Field(False, description="an external professional")
    mandate_start: date | None = None
    mandate_end: date | None = None
    leave: bool = Field(False, description="the member leaves the committee instead")
    site: str | None = None


class CompanyStep(Model):
    who: str = Field(description="a cloud.residents ref")
    company: bool = Field(True, description="false: a person again")


class CodePaymentStep(Model):
    who: str = Field(description="a cloud.residents ref")
    paid_through: date = Field(description="the last day the receipt's item covers")
    site: str | None = None


class RemoveResidentStep(Model):
    who: str = Field(description="a cloud.residents ref: the resident who leaves")


class FastagRecheck(Model):
    """The daily re-check of every FITkit binding against the FASTag registry, run now."""


class FastagRecheckExpect(Model):
    checked: int | None = Field(None, description="FITkit bindings checked")
    moved: int | None = None
    deactivated: int | None = None
    reactivated: int | None = None
    unavailable: int | None = None
    conflicts: int | None = None


class PartnerReadStep(Model):
    partner: Literal["mygate", "nobrokerhood", "zipgrid", "apnacomplex"]
    read: Literal["sites", "vehicles", "tags", "events"] = "vehicles"
    site: str | None = Field(None, description="default: the scenario's first site")
    key_sites: list[str] | None = Field(None, description="the partner key may read only "
                                        "these societies (set when its key is made, on the "
                                        "partner's first read)")


class PartnerReadExpect(Model):
    status: int | None = None
    reason: str | None = None
    count: int | None = Field(None, description="how many items the answer lists")
    vrns: list[str] | None = Field(None, description="the VRNs it shows (any order)")
    sites: list[str] | None = Field(None, description="``read: sites``: the societies")


def resident_id(run: Run, ref: str) -> str:
    """The cloud's id of the resident a ``cloud.residents`` ref names (asked of their app)."""
    if ref not in run.resident_ids:
        app = run.resident_apps.get(ref)
        if app is None:
            raise KeyError(f"no resident {ref!r} in cloud.residents")
        run.resident_ids[ref] = str(app.get("/api/v1/me").raise_for_status().json()["id"])
    return run.resident_ids[ref]


def _answer(action: str, r: httpx.Response) -> tuple[dict[str, Any], dict[str, Any]]:
    body = r.json()
    got: dict[str, Any] = {"action": action, "status": r.status_code}
    if r.status_code >= 300:
        detail = body.get("detail")
        got["reason"] = detail.get("reason") if isinstance(detail, dict) else None
        got["message"] = detail
    return got, body


def _synced(run: Run) -> list[str]:
    """Wait until the edge holds every site's current rules (what the step changed)."""
    errors: list[str] = []
    for site, version in cloud_versions(run).items():
        errors += run.wait_synced({"site": site, "rules_version": version})
    return errors


def _staff(run: Run, action: str, call: Callable[[], httpx.Response],
           expect: dict[str, Any] | None,
           on_ok: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
           ) -> dict[str, Any]:
    """Make the cloud API *call*; its answer as the step's line, once the edge holds what it
    changed (*on_ok* adds to the line from the answer's body)."""
    try:
        r = call()
    except KeyError as exc:
        return {"action": "?", "errors": [str(exc.args[0])]}
    got, body = _answer(action, r)
    errors: list[str] = []
    if r.status_code < 300:
        if on_ok is not None:
            on_ok(got, body)
        errors += _synced(run)
    elif expect is None:
        errors.append(f"cloud refused {action}: {r.status_code} {got.get('message')}")
    got.pop("message", None)
    return {**got, "errors": errors + check(expect, got)}


@step("resident_code", ResidentCodeStep, expect=CloudExpect)
def resident_code(run: Run, s: ResidentCodeStep, expect: dict[str, Any] | None
                  ) -> dict[str, Any]:
    """Staff give a resident their own access code."""
    def keep(got: dict[str, Any], body: dict[str, Any]) -> None:
        got.update({k: body[k] for k in ("id", "site", "rules_version") if k in body})
        if s.ref:
            run.codes[s.ref] = body

    return _staff(run, "resident_code", lambda: run.stack.cloud.post(
        f"/api/v1/sites/{s.site or run.sites[0]}/codes",
        json={"resident": resident_id(run, s.who)}), expect, keep)


@step("committee", CommitteeStep, expect=CloudExpect)
def committee(run: Run, m: CommitteeStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A resident takes (or leaves) a committee seat."""
    def call() -> httpx.Response:
        c = run.stack.cloud
        url = f"/api/v1/sites/{m.site or run.sites[0]}/committee/{resident_id(run, m.who)}"
        if m.leave:
            return c.delete(url)
        return c.put(url, json=m.model_dump(mode="json", exclude={"who", "leave", "site"},
                                            exclude_none=True))

    return _staff(run, "committee", call, expect)


@step("company", CompanyStep, expect=CloudExpect)
def company(run: Run, s: CompanyStep, expect: dict[str, Any] | None) -> dict[str, Any]:
    """A resident becomes a company (or a person again)."""
    return _staff(run, "company", lambda: run.stack.cloud.patch(
        f"/api/v1/residents/{resident_id(run, s.who)}", json={"company": s.company}), expect)


@step("code_payment", CodePaymentStep, expect=CloudExpect)
def code_payment(run: Run, p: CodePaymentStep, expect: dict[str, Any] | None
                 ) -> dict[str, Any]:
    """Staff record a resident's payment for their code."""
    return _staff(run, "code_payment", lambda: run.stack.cloud.post(
        f"/api/v1/sites/{p.site or run.sites[0]}/codes/payments", json={
            "resident": resident_id(run, p.who), "paid_through": p.paid_through.isoformat()}),
        expect)


@step("remove_resident", RemoveResidentStep, expect=CloudExpect)
def remove_resident(run: Run, s: RemoveResidentStep, expect: dict[str, Any] | None
                    ) -> dict[str, Any]:
    """A resident leaves the society."""
    return _staff(run, "remove_resident", lambda: run.stack.cloud.delete(
        f"/api/v1/residents/{resident_id(run, s.who)}"), expect)


@step("fastag_recheck", FastagRecheck, expect=FastagRecheckExpect,
      description="{}: the FASTag re-check of every FITkit binding, run now")
def fastag_recheck(run: Run, s: FastagRecheck, expect: dict[str, Any] | None
                   ) -> dict[str, Any]:
    """The FASTag re-check of every FITkit binding, run now."""
    def counts(got: dict[str, Any], body: dict[str, Any]) -> None:
        got.update(body.get("rechecked") or {})

    return _staff(run, "fastag_recheck", lambda: run.stack.cloud.post(
        "/api/v1/jobs/fastag-recheck"), expect, counts)


@step("partner_read", PartnerReadStep, expect=PartnerReadExpect)
def partner_read_step(run: Run, spec: PartnerReadStep, expect: dict[str, Any] | None
                      ) -> dict[str, Any]:
    """A partner reads the partner API with its own key."""
    return partner_read(run, spec, expect)


def partner_read(run: Run, spec: PartnerReadStep, expect: dict[str, Any] | None
                 ) -> dict[str, Any]:
    """Read the partner API with the partner's own key (made on its first read); what it
    shows, against *expect*."""
    keys = run.partner_keys
    if spec.partner not in keys:
        body: dict[str, Any] = {"partner": spec.partner}
        if spec.key_sites is not None:
            body["sites"] = spec.key_sites
        made = run.stack.cloud.post("/api/v1/partner-keys", json=body)
        if made.status_code >= 300:
            return {"action": "partner_read", "errors": [
                f"no key for {spec.partner}: {made.status_code} {made.text[:200]}"]}
        keys[spec.partner] = made.json()["key"]
    site = spec.site or run.sites[0]
    path = "/api/v1/partner/sites" if spec.read == "sites" else \
        f"/api/v1/partner/sites/{site}/{spec.read}"
    with httpx.Client(base_url=str(run.stack.cloud.base_url), timeout=30,
                      headers={"X-Api-Key": keys[spec.partner]}) as partner:
        r = partner.get(path)
    got, body = _answer("partner_read", r)
    got.pop("message", None)
    got |= {"partner": spec.partner, "read": spec.read}
    if r.status_code < 300:
        items = body.get(spec.read, [])
        got["count"] = len(items)
        if spec.read == "sites":
            got["sites"] = sorted(items)
        else:
            got["vrns"] = sorted({i["vrn"] for i in items if i.get("vrn")})
    want = dict(expect or {})
    for key in ("vrns", "sites"):  # shown in any order
        if isinstance(want.get(key), list):
            want[key] = sorted(want[key])
    return {**got, "errors": check(want, got)}
