"""The cloud's configuration, typed: flags, ``GATEPOST_*`` environment variables and systemd
credentials (``LoadCredential=``, read from ``$CREDENTIALS_DIRECTORY``), in that order of
precedence. Every cloud process of a deployment reads the same settings, so ``--workers N``
hands them to its workers through the environment."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.storage.engine import SQLITE_FILE

PREFIX = "GATEPOST_"


class CloudSettings(BaseSettings):
    """Everything ``gatepost cloud run`` needs to serve."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid",
                                      secrets_dir=os.environ.get("CREDENTIALS_DIRECTORY"))

    data_dir: Path = Field(Path("var/cloud"), title="Data directory",
                           description="the SQLite file lives here unless db says otherwise")
    db: str | None = Field(None, title="Database",
                           description="a SQLite file or postgresql://USER@HOST/DB "
                                       "(default: cloud.sqlite in data_dir)")
    mqtt_url: str | None = Field("mqtt://127.0.0.1:1883", title="Broker",
                                 description="mqtt://HOST:PORT; None: HTTP only")
    mqtt_user: str | None = Field(None, title="Broker user")
    mqtt_password: SecretStr | None = Field(None, title="Broker password",
                                            description="environment or credential only")
    mqtt_client_id: str = Field(
        default_factory=lambda: f"gatepost-cloud-{socket.gethostname()}-{os.getpid()}",
        title="MQTT client id", description="unique per process (a shared id would make "
        "processes kick each other off the broker)")
    mqtt_share_group: str = Field("gatepost-cloud", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                  title="Shared subscription group",
                                  description="processes of one group share the event "
                                              "stream: each event goes to one of them")
    host: str = Field("127.0.0.1", title="Bind address")
    port: int = Field(8080, ge=0, le=65535, title="HTTP port")
    workers: int = Field(1, ge=1, le=64, title="Processes",
                         description="HTTP and ingest processes on this machine")
    clock_file: Path | None = Field(None, title="Virtual clock (simulation only)")
    jobs_every_s: float = Field(30.0, ge=0, title="Status job period, s (0: on demand)")
    payments_url: str | None = Field(None, title="Payment provider base URL")
    vehicle_registry_url: str | None = Field(None, title="Vehicle registry base URL",
                                             description="VRN → type, make, model for "
                                                         "residents' vehicles")
    fastag_registry_url: str | None = Field(None, title="FASTag registry base URL",
                                            description="VRN → the vehicle's FASTag EPC, "
                                                        "for FITkit stickers")
    payments_secret: SecretStr | None = Field(None, title="Payment callback secret")
    public_url: str | None = Field(None, title="The cloud's own address",
                                   description="for provider callbacks (default "
                                               "http://HOST:PORT)")
    admin_key: SecretStr | None = Field(None, title="Bootstrap admin API key")
    webhook_url: str = Field("", title="Notifications are POSTed here")
    webhook_secret: SecretStr | None = Field(
        None, title="Notification webhook signing secret",
        description="signs every notification webhook call (Standard Webhooks: whsec_ and "
                    "base64, or any text); needed with webhook_url; environment or "
                    "credential only")
    partner_internal_targets: str = Field(
        "", title="Internal networks partner endpoints may reach",
        description="comma-separated networks (127.0.0.0/8, 10.20.0.0/16): a society's "
                    "partner endpoint on a loopback, private, link-local, multicast or "
                    "reserved address is refused unless one of these holds it")
    smtp: str = Field("", title="SMTP server HOST:PORT for e-mail")
    mail_from: str = Field("gatepost@localhost", title="Sender of e-mail")
    mqtt_tls_ca: Path | None = Field(None, title="Broker CA (PEM): MQTT over TLS; also with "
                                     "an mqtts:// URL (then the system's CAs by default)")
    mqtt_tls_cert: Path | None = Field(None, title="The cloud's client certificate (PEM), for "
                                       "a broker that requires one")
    mqtt_tls_key: Path | None = Field(None, title="Its key (PEM)")
    batch_max: int = Field(500, ge=1, le=3000, title="Events stored per transaction, at most")
    batch_wait_ms: float = Field(5.0, ge=0, le=100, title="How long the event writer waits, "
                                 "while events come faster than one a transaction, for more "
                                 "to store with the first (group commit)")
    job_lease_s: float = Field(120.0, ge=0.5, le=3600, title="Lease of a periodic job, s",
                               description="the process running a periodic job renews its "
                               "claim every third of this; a claim not renewed for this long "
                               "(its process died) is taken over by another process")
    allow_async_commit: bool = Field(False, title="Allow a PostgreSQL that may lose commits",
                                     description="start even on a PostgreSQL database with "
                                     "synchronous_commit=off or fsync=off, which can lose "
                                     "events already acknowledged to the boxes on a crash "
                                     "(throwaway test clusters only)")
    history_check_s: float = Field(5.0, ge=0, le=3600, title="How often each process checks "
                                   "that the rules history did not go back (a restore) or "
                                   "change epoch; 0: only on connect")

    @field_validator("partner_internal_targets")
    @classmethod
    def _networks(cls, v: str) -> str:
        from cloud.outbound import networks

        networks(v)  # a ValueError names the part that does not parse
        return v

    @model_validator(mode="after")
    def _signed_webhook(self) -> CloudSettings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("webhook_url needs webhook_secret (GATEPOST_WEBHOOK_SECRET): "
                             "every notification webhook call is signed")
        return self

    @field_validator("mqtt_url", "payments_url", "vehicle_registry_url", "fastag_registry_url",
                     "public_url", "db", "webhook_secret",
                     "mqtt_tls_ca", "mqtt_tls_cert", "mqtt_tls_key", "clock_file",
                     mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    def database(self) -> str:
        """The database to open: ``db`` when set, else the SQLite file in ``data_dir``."""
        if self.db:
            return self.db
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return str(self.data_dir / SQLITE_FILE)

    def callback_base(self) -> str:
        """Where the payment provider calls back."""
        return self.public_url or f"http://{self.host}:{self.port}"

    def secret(self, name: str) -> str | None:
        """A secret's text, or None."""
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None

    def to_environ(self) -> dict[str, str]:
        """These settings as ``GATEPOST_*`` variables, for processes started from this one
        (secrets included: they came from this process's environment or credentials)."""
        out = {}
        for name in type(self).model_fields:
            if name == "mqtt_client_id":
                continue  # each process makes its own
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            out[PREFIX + name.upper()] = "" if value is None else str(value)
        return out
