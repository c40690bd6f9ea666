"""Typed configuration of the edge daemon (TOML), failing loudly with key paths.

See ``config/edge.example.toml`` for a commented example.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.contract import SEGMENT
from shared.plates import COUNTRIES
from shared.vocab import AntiPassback, CredentialMode, Direction

_ID = SEGMENT.pattern


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReaderConfig(_M):
    """The gate's RFID reader."""

    url: str = Field(title="Serial URL", description="Device path or pyserial URL "
                     "(e.g. /dev/ttyUSB0, socket://127.0.0.1:7000)")
    protocol: Literal["uhf18"] = Field("uhf18", title="Protocol",
                                       description="Reader protocol family")
    baud: int = Field(57600, title="Baud rate", description="9600…115200",
                      ge=9600, le=115200)


class KeypadConfig(_M):
    """The gate's keypad reader on an OSDP (RS-485) line."""

    url: str = Field(title="Serial URL", description="Device path or pyserial URL of the "
                     "RS-485 adapter")
    address: int = Field(101, title="OSDP address", ge=0, le=126)
    scbk: str = Field(title="Secure channel key", pattern=r"^[0-9a-fA-F]{32}$",
                      description="the reader's SCBK, 16 bytes in hex")
    baud: int = Field(115200, title="Baud rate", ge=9600, le=230400)
    lock_after: int = Field(5, title="Wrong codes before a lock", ge=1, le=100)
    lock_window_s: float = Field(300.0, title="Within (s)", ge=1, le=86400)
    lock_s: float = Field(300.0, title="Lock for (s)", ge=1, le=86400)
    lock_max_s: float = Field(3600.0, title="Longest lock (s)", ge=1, le=604800,
                              description="a lock that comes back within a day lasts twice "
                              "the one before, up to this (at least lock_s)")


class RelayConfig(_M):
    """The Modbus relay board that drives the barrier, and its inputs."""

    url: str = Field(title="Bus URL", description="tcp://HOST:PORT for a gateway, "
                     "or a serial device for RTU")
    unit: int = Field(1, title="Unit id", description="Modbus unit id of the board",
                      ge=1, le=247)
    relay: int = Field(1, title="Open relay", description="Relay (1–8) wired to OPEN",
                       ge=1, le=8)
    hold_relay: int | None = Field(None, title="Hold relay", description="Relay (1–8) wired "
                                   "to the operator's STOP/hold input: the panel's hold-open",
                                   ge=1, le=8)
    loop_input: int = Field(1, title="Loop input", description="Input (1–8) of the "
                            "presence loop", ge=1, le=8)
    open_input: int = Field(2, title="Open limit input", description="Input (1–8)", ge=1, le=8)
    closed_input: int = Field(3, title="Closed limit input", description="Input (1–8)",
                              ge=1, le=8)
    baud: int = Field(9600, title="RTU baud rate", description="Serial buses only",
                      ge=1200, le=115200)
    timeout_ms: int = Field(500, title="Timeout", description="Per request, ms",
                            ge=20, le=5000)

    @model_validator(mode="after")
    def _distinct_inputs(self) -> RelayConfig:
        if len({self.loop_input, self.open_input, self.closed_input}) != 3:
            raise ValueError("loop_input, open_input and closed_input must differ")
        if self.hold_relay == self.relay:
            raise ValueError("hold_relay must differ from relay (OPEN)")
        return self


class CameraConfig(_M):
    """The gate's camera."""

    url: str = Field(title="Stream URL", description="rtsp://…, http://…mjpg, a video file, "
                     "or a device number")
    roi: tuple[float, float, float, float] | None = Field(
        None, title="Region of interest", description="x, y, width, height as fractions")
    country: str = Field("IN", title="Plate country", description=", ".join(COUNTRIES))
    trigger: Literal["motion", "loop", "always"] = Field(
        "motion", title="Trigger", description="recognise only while this says a vehicle is "
        "there: motion in the ROI, the barrier's loop input, or every frame")
    qr: bool = Field(False, title="QR passes", description="also search the frames the "
                     "trigger wants for visitor passes' QR codes (decided like typed codes)")
    qr_lock_after: int = Field(5, title="Wrong QR codes before a lock", ge=1, le=100)
    qr_lock_window_s: float = Field(300.0, title="Within (s)", ge=1, le=86400)
    qr_lock_s: float = Field(300.0, title="Lock QR for (s)", ge=1, le=86400)
    qr_lock_max_s: float = Field(3600.0, title="Longest QR lock (s)", ge=1, le=604800,
                                 description="a lock that comes back within a day lasts twice "
                                 "the one before, up to this (at least qr_lock_s)")

    @model_validator(mode="after")
    def _country(self) -> CameraConfig:
        if self.country.upper() not in COUNTRIES:
            raise ValueError(f"country must be one of {', '.join(COUNTRIES)}")
        return self


class GateConfig(_M):
    """One gate (lane) the box controls."""

    id: str = Field(title="Gate id", description="Unique on the box", pattern=_ID)
    site: str = Field(title="Site id", description="The society or parking", pattern=_ID)
    direction: Direction = Field(title="Direction", description="entry, exit or both")
    pulse_ms: int = Field(1000, title="Open pulse", description="Flash-on length, ms",
                          ge=100, le=25500)
    reader: ReaderConfig | None = Field(None, title="Reader", description="RFID reader")
    relay: RelayConfig | None = Field(None, title="Relay", description="Barrier relay")
    camera: CameraConfig | None = Field(None, title="Camera", description="Plate camera")
    keypad: KeypadConfig | None = Field(None, title="Keypad", description="OSDP keypad "
                                        "reader for access codes")
    credentials: CredentialMode = Field(
        CredentialMode.EITHER, title="Credentials", description="tag, plate, either or both")
    mismatch: Literal["deny", "alert"] = Field(
        "deny", title="On mismatch", description="a tag and a plate of different vehicles: "
        "deny, or open and raise an alert")
    accepts: list[Literal["tag", "plate"]] | None = Field(
        None, title="Accepts", description="credential kinds that may open this gate, "
        "overriding `credentials` (e.g. [\"tag\", \"plate\"])")
    agree: bool | None = Field(None, title="Agree", description="every accepted kind must "
                               "name the same vehicle before it opens (default: credentials = "
                               "both)")
    anti_passback: AntiPassback | None = Field(
        None, title="Anti-passback", description="off, soft (open and alert) or hard (deny "
        "with anti_passback) for a second entry or exit with no pass the other way between; "
        "default: policy.anti_passback")
    confirm_reads: int = Field(1, title="Confirm reads", description="identical EPCs needed "
                               "within confirm_window_ms before a tag is decided", ge=1, le=10)
    confirm_window_ms: int = Field(1000, title="Confirm window", description="ms within "
                                   "which confirm_reads identical EPCs must arrive",
                                   ge=50, le=10_000)


class CloudConfig(_M):
    """Where the cloud is."""

    mqtt_url: str = Field("mqtt://127.0.0.1:1883", title="Broker",
                          description="mqtt://HOST:PORT")
    http_url: str = Field("http://127.0.0.1:8080", title="Cloud API",
                          description="Base URL of the cloud's HTTP API")
    username: str | None = Field(None, title="MQTT user", description="Per-box user")
    password: str | None = Field(None, title="MQTT password", description="Per-box secret; "
                                 "better from the systemd credential `gatepost_mqtt_password` "
                                 "or `password_file`")
    password_file: Path | None = Field(None, title="MQTT password file", description="A file "
                                       "holding the password (mode 0600)")
    api_key: str | None = Field(None, title="Cloud API key", description="The box's key for "
                                "fetching its sites' rules (`gatepost cloud add-edge`); better "
                                "from the credential `gatepost_api_key` or `api_key_file`")
    api_key_file: Path | None = Field(None, title="Cloud API key file",
                                      description="A file holding the key (mode 0600)")
    queue_max_mb: int = Field(2048, title="Event log bound", description="The event log "
                              "(queue and local history) is kept under this many MB: history "
                              "the cloud has goes first; unsent events are never dropped (the "
                              "health's outbox_full says the bound is reached)", ge=16,
                              le=1_048_576)
    batch_max: int = Field(200, title="Events per message", description="A backlog is sent "
                           "this many events to a message (1: one event a message, for a cloud "
                           "of a release before event batches)", ge=1, le=500)
    drain_rate: float = Field(6000.0, title="Drain rate", description="Events a second, at "
                              "most, sent from a backlog, so that the gate's own work comes "
                              "first on a small box (0: as fast as the link goes)", ge=0)
    tls_ca: Path | None = Field(None, title="Broker CA", description="PEM of the CA that "
                                "signed the broker's certificate: the link uses TLS (also "
                                "with an mqtts:// URL, then the system's CAs by default)")
    tls_cert: Path | None = Field(None, title="Client certificate", description="PEM of this "
                                  "box's certificate, for a broker that requires one")
    tls_key: Path | None = Field(None, title="Client key", description="PEM of its key")

    @model_validator(mode="after")
    def _pairs(self) -> CloudConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self


def _loopback(host: str) -> bool:
    """Whether *host* (an address or a name) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class PeerConfig(_M):
    """Another box of the same site, reachable on the site's network."""

    id: str = Field(title="Peer id", description="The other box's `id`", pattern=_ID)
    url: str = Field(title="Peer URL", description="Base URL of its local API, e.g. "
                     "http://10.0.0.12:8081", pattern=r"^https?://[^\s/]+(/\S*)?$")


class PeersConfig(_M):
    """The boxes of this box's sites that share single-use pass spends with it."""

    boxes: list[PeerConfig] = Field(default_factory=list, title="Peer boxes",
                                    description="The other boxes of the site; empty: none")
    secret: str | None = Field(None, title="Site secret", description="Shared by the site's "
                               "boxes: every peer call and answer is signed with it; better "
                               "from the credential `gatepost_peer_secret` or `secret_file`",
                               min_length=32)
    secret_file: Path | None = Field(None, title="Site secret file",
                                     description="A file holding the secret (mode 0600)")
    timeout_ms: int = Field(300, title="Claim timeout", description="How long a box waits "
                            "for its peers (asked in parallel) before a single-use pass opens; "
                            "a peer that has not answered by then is skipped", ge=50, le=5000)

    @model_validator(mode="after")
    def _secret(self) -> PeersConfig:
        if self.boxes and not self.secret:
            raise ValueError("peers.boxes needs peers.secret (or secret_file)")
        ids = [b.id for b in self.boxes]
        if len(ids) != len(set(ids)):
            raise ValueError(f"peer ids must be unique: {ids}")
        return self


class ApiConfig(_M):
    """The local HTTP API and panel."""

    host: str = Field("127.0.0.1", title="Bind address", description="Local address")
    port: int = Field(8081, title="Port", description="0 picks a free port", ge=0, le=65535)
    idle_logout_min: float = Field(15.0, title="Idle logout", description="A panel session "
                                   "with no request for this many minutes ends", gt=0, le=720)
    login_wait_s: float = Field(1.0, title="Wait after wrong passwords", description="After "
                                "a device's 5 free wrong passwords, it waits this long before "
                                "its next try, doubled per try (up to 15 minutes)", ge=0.1,
                                le=300)
    secure_cookies: bool = Field(False, title="Secure cookies", description="Mark session "
                                 "cookies Secure (set when the panel is served over HTTPS)")
    journal_days: int = Field(30, title="Journal days", description="Local event history "
                              "kept for the panel's Events page", ge=1, le=3650)
    token: str | None = Field(None, title="API token", description="When the panel is bound "
                              "beyond loopback, /api/* needs this bearer token or a signed-in "
                              "panel session; better from the credential `gatepost_api_token` "
                              "or `token_file`", min_length=16)
    token_file: Path | None = Field(None, title="API token file",
                                    description="A file holding the token (mode 0600)")
    timezone: str | None = Field(None, title="Panel time zone", description="IANA zone the "
                                 "panel shows times in for a site whose zone the cloud has "
                                 "not sent (with its schedules); default: the box's own")
    locale: str = Field("en_IN", title="Panel locale", description="How the panel writes "
                        "dates and times (a CLDR locale: en_IN, hi_IN, pt_BR…)")

    @model_validator(mode="after")
    def _clock(self) -> ApiConfig:
        from babel import Locale, UnknownLocaleError

        from shared.schedule import zone

        if self.timezone is not None:
            zone(self.timezone)  # ValueError names the zone
        try:
            Locale.parse(self.locale)
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(f"locale: unknown locale {self.locale!r}") from exc
        return self


class PolicyConfig(_M):
    """Decision tunables."""

    dedup_hold_s: float = Field(5.0, title="De-dup hold", description="A tag must be "
                                "absent this long before it is decided again", ge=0, le=600)
    pass_window_s: float = Field(60.0, title="Pass window", description="A pass within this "
                                 "many seconds of an open is that vehicle's", gt=0, le=3600)
    fusion_window_s: float = Field(10.0, title="Fusion window", description="A tag and a "
                                   "plate this close together are the same vehicle's", gt=0,
                                   le=120)
    open_confirm_s: float = Field(8.0, title="Open confirm", description="A boom not at its "
                                  "open limit this long after a pulse raises barrier_failed; "
                                  "0 turns the check off (no open-limit switch wired)",
                                  ge=0, le=120)
    poll_ms: int = Field(50, title="Input poll", description="Loop input poll period, ms",
                         ge=10, le=2000)
    redecide_s: float = Field(3.0, title="Re-decide", description="A refused credential "
                              "still in the field is decided again this often (and at once "
                              "when the rules change)", gt=0, le=600)
    anti_passback: AntiPassback = Field(AntiPassback.OFF, title="Anti-passback",
                                        description="The box's default for its gates: off, "
                                        "soft or hard")
    device_wait_s: float = Field(5.0, title="Device wait", description="A reader or relay "
                                 "board that has not answered this long after start is "
                                 "reported down", gt=0, le=600)


class AlprConfig(_M):
    """Plate recognition."""

    models: Path | None = Field(None, title="Model folder", description="Detector and OCR "
                                "ONNX files (default: $GATEPOST_ALPR_MODELS)")
    threads: int = Field(1, title="Threads", description="onnxruntime threads", ge=1, le=8)
    min_score: float = Field(0.3, title="Minimum score", description="Weakest OCR slot a "
                             "candidate needs to count", ge=0, le=1)
    agreeing_reads: int = Field(1, title="Agreeing reads", description="Frames that must "
                                "name the same plate before it opens", ge=1, le=20)
    instant_score: float = Field(0.9, title="Instant score", description="An exact match "
                                 "scoring this opens at once, whatever agreeing_reads says",
                                 ge=0, le=1)


class EvidenceConfig(_M):
    """Where plate evidence goes."""

    max_mb: int = Field(500, title="Budget", description="MiB of JPEGs kept, oldest evicted",
                        ge=1)
    max_days: int = Field(30, title="Days kept", description="Photos older than this are "
                          "pruned (every 5 minutes while running)", ge=1, le=3650)


class HomeAssistantConfig(_M):
    """Home Assistant's MQTT discovery, on the box's broker connection."""

    enabled: bool = Field(False, title="Enabled", description="Publish discovery configs and "
                          "states (retained) for each gate: barrier, loop, devices, last decision")
    discovery_prefix: str = Field("homeassistant", title="Discovery prefix",
                                  description="Home Assistant's discovery prefix (the broker's "
                                  "ACL of `gatepost cloud provision` allows `homeassistant`)",
                                  pattern=r"^[A-Za-z0-9_-]+$")


class DiskConfig(_M):
    """The data directory's disk."""

    min_free_mb: int = Field(256, title="Free-space floor", description="Below this much free "
                             "space on the data directory's filesystem the box prunes evidence, "
                             "then acknowledged history, oldest first (never unsent events), "
                             "and raises a disk-low alert while still below", ge=0,
                             le=10_000_000)


class EdgeConfig(_M):
    """The whole edge daemon configuration."""

    id: str = Field(title="Edge id", description="Unique per box; MQTT client and topics",
                    pattern=_ID)
    data_dir: Path = Field(Path("/var/lib/gatepost"), title="Data directory",
                           description="SQLite cache and outbox")
    runtime_dir: Path | None = Field(None, title="Runtime directory", description="Where the "
                                     "box keeps what may outlive the daemon but never a power "
                                     "cut: the sites' code peppers, on a tmpfs (systemd's "
                                     "RuntimeDirectory). Default: $RUNTIME_DIRECTORY when "
                                     "systemd sets it; without either, peppers live in the "
                                     "daemon's memory alone")
    clock_file: Path | None = Field(None, title="Virtual clock file",
                                    description="Simulation only: shared clock offset")
    gates: list[GateConfig] = Field(min_length=1, title="Gates", description="Lanes")
    cloud: CloudConfig = Field(default_factory=CloudConfig, title="Cloud", description="Link")
    api: ApiConfig = Field(default_factory=ApiConfig, title="API", description="Local API")
    policy: PolicyConfig = Field(default_factory=PolicyConfig, title="Policy",
                                 description="Decision tunables")
    alpr: AlprConfig = Field(default_factory=AlprConfig, title="ALPR",
                             description="Plate recognition")
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig, title="Evidence",
                                     description="Plate evidence on disk")
    disk: DiskConfig = Field(default_factory=DiskConfig, title="Disk",
                             description="The data directory's free-space floor")
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig,
                                               title="Home Assistant",
                                               description="MQTT discovery")
    peers: PeersConfig = Field(default_factory=PeersConfig, title="Peers",
                               description="Boxes of the site sharing single-use pass spends")

    @model_validator(mode="after")
    def _unique(self) -> EdgeConfig:
        ids = [g.id for g in self.gates]
        if len(ids) != len(set(ids)):
            raise ValueError(f"gate ids must be unique: {ids}")
        for i, g in enumerate(self.gates):
            if g.credentials in (CredentialMode.PLATE, CredentialMode.BOTH) and not g.camera:
                raise ValueError(f"gates.{i}: credentials {g.credentials.value} needs a camera")
            if g.credentials in (CredentialMode.TAG, CredentialMode.BOTH) and not g.reader:
                raise ValueError(f"gates.{i}: credentials {g.credentials.value} needs a reader")
            if g.accepts is not None and not g.accepts:
                raise ValueError(f"gates.{i}: accepts names no credential kind")
        wired = [(g.relay.url, g.relay.unit, g.relay.relay) for g in self.gates if g.relay]
        if len(wired) != len(set(wired)):
            raise ValueError("two gates share one relay (same url, unit and relay)")
        if any(b.id == self.id for b in self.peers.boxes):
            raise ValueError("peers.boxes names this box itself")
        if _loopback(self.api.host):
            # The peers call this box's local API from the site's network; bound to loopback
            # it never answers them, and each box would admit every pass on its own.
            for i, b in enumerate(self.peers.boxes):
                if not _loopback(urlsplit(b.url).hostname or ""):
                    raise ValueError(
                        f"api.host: {self.api.host} is loopback, so peers.boxes.{i} ({b.id} at "
                        f"{b.url}) cannot reach this box: bind api.host to the box's address "
                        "on the site's network (or 0.0.0.0), with api.token")
        return self

    @property
    def sites(self) -> list[str]:
        """Sites served by this box, in gate order."""
        return list(dict.fromkeys(g.site for g in self.gates))


# Secrets: (section, field, its file field, systemd credential name).
SECRETS = [("cloud", "password", "password_file", "gatepost_mqtt_password"),
           ("cloud", "api_key", "api_key_file", "gatepost_api_key"),
           ("api", "token", "token_file", "gatepost_api_token"),
           ("peers", "secret", "secret_file", "gatepost_peer_secret")]


def load(path: str | Path) -> EdgeConfig:
    """Parse and validate a TOML file, then fill each secret left out of it from the service's
    systemd credentials (``$CREDENTIALS_DIRECTORY``), else from its ``…_file``, and the runtime
    directory from systemd's ``$RUNTIME_DIRECTORY``; raises ``ValidationError`` or
    ``ValueError``."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if runtime and raw.get("runtime_dir") is None:  # systemd's RuntimeDirectory=, a tmpfs
        raw["runtime_dir"] = runtime
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    for section, name, file_field, credential in SECRETS:
        part = raw.setdefault(section, {})
        if not isinstance(part, dict) or part.get(name) is not None:
            continue
        source = Path(creds) / credential if creds else None
        if source is None or not source.is_file():
            source = Path(part[file_field]) if part.get(file_field) else None
        if source is not None:
            try:
                part[name] = source.read_text().strip()
            except OSError as exc:
                raise ValueError(f"{section}.{file_field}: cannot read {source}: "
                                 f"{exc.strerror}") from exc
    return EdgeConfig.model_validate(raw)


def explain(exc: ValidationError) -> list[str]:
    """One line per error: ``key.path: message``."""
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        out.append(f"{path}: {err['msg']}")
    return out
