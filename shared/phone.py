"""Residents' phone numbers: validated with libphonenumber (the ``phonenumbers`` package) and
kept in E.164 (``+919876543210``), so one person has one number however it was typed."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "IN"  # a number typed without a country code is read as Indian


def e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """*raw* as an E.164 number; ValueError says why it is not a valid one."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
