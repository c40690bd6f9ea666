"""Steps of what only staff or a partner do through the cloud API (docs/scenarios.md): a
resident's own code (``resident_code: {who, ref?, site?}``), a committee seat (``committee:
{who, role?, flat?, external?, mandate_start?, mandate_end?, leave?}``), a company
(``company: {who, company?}``), a code payment (``code_payment: {who, paid_through}``), a
resident who leaves (``remove_resident: {who}``), the FASTag re-check (``fastag_recheck: {}``)
and a read of the partner API (``partner_read: {partner, read, site?, key_sites?}``).

A step that changes rules waits, as a ``cloud`` step does, until the edge holds every site's
new version while the link is up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from gatepost.scenario.sync import cloud_versions

if TYPE_CHECKING:
    from gatepost.scenario.runner import ScenarioRun
    from gatepost.scenario.schema import Step
    from gatepost.scenario.schema_admin import PartnerReadStep


def resident_id(run: ScenarioRun, ref: str) -> str:
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


def _synced(run: ScenarioRun) -> list[str]:
    """Wait until the edge holds every site's current rules (what the step changed)."""
    errors: list[str] = []
    for site, version in cloud_versions(run).items():
        errors += run._synced({"site": site, "rules_version": version})
    return errors


def _call(run: ScenarioRun, step: Step) -> tuple[str, httpx.Response]:
    c, first = run.stack.cloud, run.sites[0]
    if step.resident_code:
        s = step.resident_code
        return "resident_code", c.post(f"/api/v1/sites/{s.site or first}/codes",
                                       json={"resident": resident_id(run, s.who)})
    if step.committee:
        m = step.committee
        url = f"/api/v1/sites/{m.site or first}/committee/{resident_id(run, m.who)}"
        if m.leave:
            return "committee", c.delete(url)
        return "committee", c.put(url, json=m.model_dump(mode="json", exclude={
            "who", "leave", "site"}, exclude_none=True))
    if step.company:
        return "company", c.patch(f"/api/v1/residents/{resident_id(run, step.company.who)}",
                                  json={"company": step.company.company})
    if step.code_payment:
        p = step.code_payment
        return "code_payment", c.post(f"/api/v1/sites/{p.site or first}/codes/payments", json={
            "resident": resident_id(run, p.who), "paid_through": p.paid_through.isoformat()})
    if step.remove_resident:
        return "remove_resident", c.delete(
            f"/api/v1/residents/{resident_id(run, step.remove_resident.who)}")
    return "fastag_recheck", c.post("/api/v1/jobs/fastag-recheck")


def admin_step(run: ScenarioRun, step: Step) -> dict[str, Any] | None:
    """The step's line, if it is one of these steps (None: another module's)."""
    if step.partner_read:
        return partner_read(run, step.partner_read, step.expect)
    if not (step.resident_code or step.committee or step.company or step.code_payment
            or step.remove_resident or step.fastag_recheck):
        return None
    try:
        action, r = _call(run, step)
    except KeyError as exc:
        return {"action": "?", "errors": [str(exc.args[0])]}
    got, body = _answer(action, r)
    errors: list[str] = []
    if r.status_code < 300:
        if step.resident_code:
            got.update({k: body[k] for k in ("id", "site", "rules_version") if k in body})
            if step.resident_code.ref:
                run.codes[step.resident_code.ref] = body
        if step.fastag_recheck:
            got.update(body.get("rechecked") or {})
        errors += _synced(run)
    elif step.expect is None:
        errors.append(f"cloud refused {action}: {r.status_code} {got.get('message')}")
    got.pop("message", None)
    return {**got, "errors": errors + _check(step.expect, got)}


def _check(expect: dict[str, Any] | None, got: dict[str, Any]) -> list[str]:
    from gatepost.scenario.people import check  # people imports this module

    return check(expect, got)


def partner_read(run: ScenarioRun, spec: PartnerReadStep, expect: dict[str, Any] | None
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
    return {**got, "errors": _check(want, got)}
