"""Configuration, read from the environment (prefix ``GEO_SERVICE_``).

One small class per concern, as tipg does, so each part of the service depends only
on the settings it uses. Settings are read at the application edge (CLI, app factory)
and passed inward.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo_service.errors import InsecureConfiguration

_PREFIX = "GEO_SERVICE_"


def _default_home() -> Path:
    """The project-local state folder: the source checkout when running from one, else cwd."""
    checkout = Path(__file__).resolve().parents[1]
    base = checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()
    return base / ".geo_service"


class DatabaseSettings(BaseSettings):
    """Where the data lives.

    With ``database_url`` unset the service uses the embedded cluster under ``home``.
    """

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    # The service's connection: a role that owns no table (``geo_service.grants``).
    database_url: str | None = None
    # The tables' owner, for the migrations (``geo-service db up``, ``serve``, ``demo``);
    # unset, the migrations use ``database_url`` too.
    database_owner_url: str | None = None
    home: Path = Field(default_factory=_default_home)
    embedded_port: int = 54329
    embedded_database: str = "geo_service"
    pool_size: int = 10


class ImportSettings(BaseSettings):
    """Limits and plausibility checks for uploaded files."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX + "IMPORT_", extra="ignore")

    max_upload_mb: int = 512
    max_unzipped_mb: int = 2048
    # Lon/lat box where data may lie (default: China), as JSON: [west, south, east, north].
    # Points outside are refused, and points that fall inside once x and y are exchanged
    # are reported as swapped. The default only: an administrator's area, stored in the
    # database, overrides it without a restart (``geo_service.ingest.area``).
    service_area: tuple[float, float, float, float] = (73.0, 3.0, 136.0, 54.0)

    @field_validator("service_area")
    @classmethod
    def _a_box(cls, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        west, south, east, north = box
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError(
                "GEO_SERVICE_IMPORT_SERVICE_AREA is [west, south, east, north] in degrees, "
                f"west < east within -180..180, south < north within -90..90 (got {list(box)})"
            )
        return box


class ServerSettings(BaseSettings):
    """How ``geo-service serve`` listens."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # Server processes; each has its own connection pool, credential and tile caches.
    workers: int = 1
    # The addresses of reverse proxies whose X-Forwarded-For/-Proto are believed, so that
    # the audit log and the sign-in limit see the real client ("10.0.0.5,10.0.0.6" or "*").
    # None by default: any local program could otherwise put any address into the audit
    # log and dodge the per-address sign-in limit. Name the proxy when there is one.
    forwarded_allow_ips: str = ""
    # "development" relaxes what a laptop needs (a generated session key, plain-HTTP
    # cookies, the demo admin); any other value (e.g. "production") requires real settings.
    environment: str = "development"
    # Memory each server process may keep built vector tiles in, until their data changes
    # (``geo_service.tilecache``); 0 turns the cache off.
    tile_cache_mb: int = 128
    # Host names the service answers to (``geo_service.api.hosts``); others get 400.
    allowed_hosts: str = "localhost,127.0.0.1,::1,testserver"
    # Where people and GIS tools reach it ("https://gis.example.cn"); links use it.
    public_url: str = ""
    # Slow clients (``geo_service.server``): a request's headers must arrive within this
    # many seconds, an idle keep-alive connection is closed after ``keep_alive_seconds``,
    # and past ``max_connections`` per process new requests get 503.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=1000, ge=1)
    # Largest JSON or form body (imports have ``ImportSettings.max_upload_mb``).
    max_body_kb: int = 256


class AuthSettings(BaseSettings):
    """Sign-in, sessions and who may see what without signing in.

    ``secret_key`` signs session cookies. In development an empty key is replaced by a
    random one kept in ``<home>/secret-key``; elsewhere the service refuses to start
    without a real one (``require_safe_secret``).
    """

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    secret_key: SecretStr = SecretStr("")
    session_hours: float = 12.0
    # Failed sign-ins allowed in the window, per user name from one address and per
    # address; the address limit is higher because an office shares one address behind
    # its NAT. Past the per-name count, from any address, each attempt waits twice as long
    # as the last, up to the delay cap (``geo_service.auth.throttle``).
    login_window_seconds: int = 300
    login_max_failures_per_user: int = 5
    login_max_failures_per_client: int = 20
    login_max_delay_seconds: int = 60
    # Layers anyone may read without signing in (none by default: all data is internal).
    anonymous_layers: tuple[str, ...] = ()
    default_token_days: int = 90
    # The latest expiry a new token may have (``auth.parse_expiry``).
    max_token_days: int = Field(default=365, ge=1, le=3650)
    # How long a process remembers a credential that worked (``auth.PrincipalCache``); a
    # revoked token or deactivated user is refused within this time. 0: check every request.
    credential_cache_seconds: float = 10.0


class BandRules(BaseSettings):
    """How far a site's bands may reach, and how finely a role that may not see the
    households' personal fields may draw them (``GEO_SERVICE_IMPACT_...``).

    The outer band is the site's liaison officers' personal-data scope, so it has a cap, and
    widening it is an administrator's act. Band edges on a grid of ``band_step_m`` keep a
    planner from drawing bands around single households (README: counts of sensitive
    attributes).
    """

    model_config = SettingsConfigDict(env_prefix=_PREFIX + "IMPACT_", extra="ignore")

    band_step_m: float = Field(50.0, gt=0, le=1000)
    max_outer_band_m: float = Field(1000.0, gt=0, le=5000)


class LiaisonSettings(BaseSettings):
    """Deadlines, escalation and notifications of residents' requests
    (``GEO_SERVICE_LIAISON_...``).

    ``webhooks``: URLs that notifications are POSTed to, comma-separated (DingTalk or WeCom
    group robots, or any receiver of JSON); ``webhook_format`` says which body they take.
    ``manager``: who a request escalates to after the site's lead (a user name or a name).
    ``sla_interval_seconds``: how often the server runs the SLA pass and delivers the outbox
    itself; 0 (the default) leaves it to ``geo-service sla run`` from cron.
    """

    model_config = SettingsConfigDict(env_prefix=_PREFIX + "LIAISON_", extra="ignore")

    webhooks: str = ""
    webhook_format: Literal["dingtalk", "wecom", "json"] = "json"
    manager: str | None = None
    warn_fraction: float = Field(0.75, gt=0, lt=1)
    reopen_days: int = Field(30, ge=1)
    delivery_attempts: int = Field(5, ge=1, le=50)
    retry_seconds: float = Field(60.0, gt=0)
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    sla_interval_seconds: int = Field(0, ge=0)
    # Visit photos: the largest upload, the most pixels decoded (a decompression bomb is a
    # small file that decodes to gigabytes), the longest side kept (re-encoded, no metadata).
    photo_max_mb: float = Field(10.0, gt=0, le=100)
    photo_max_pixels: int = Field(40_000_000, ge=10_000)
    photo_max_side_px: int = Field(2560, ge=64, le=20_000)
    # Days after a site's completion (its end_date) its finished cases keep personal data.
    retention_days: int = Field(365, ge=1)
    # The most requests one export (CSV, XLSX) holds: a site's season is a few hundred; a
    # filter matching more is narrowed first (or paged with offset).
    export_max_rows: int = Field(20_000, ge=1, le=1_000_000)

    @property
    def webhook_urls(self) -> list[str]:
        return [u.strip() for u in self.webhooks.split(",") if u.strip()]


class AlarmSettings(BaseSettings):
    """Monitoring rules and alarms (``GEO_SERVICE_ALARMS_...``; ``geo_service.monitoring``).

    ``reply_hours``: how long after an alarm opens a reply is due; past it, an alarm not yet
    replied to escalates once, through the liaison outbox and its webhooks. ``noise_rule``
    and ``dust_rule``: the city's own values over ``reference/`` (JSON, e.g.
    ``{"night_limit": 50, "day_end": "22:00"}`` or ``{"preset": "shanghai_db31_964_2016",
    "limit_ug_m3": 60}``); a site overrides them again in ``monitoring_rules``.
    ``grace_minutes``: how long after a window ends it is judged (late packets still count);
    ``lookback_hours``: how far back a monitor's first evaluation starts.
    """

    model_config = SettingsConfigDict(env_prefix=_PREFIX + "ALARMS_", extra="ignore")

    reply_hours: float = Field(1.0, gt=0)
    noise_rule: dict[str, Any] = Field(default_factory=dict)
    dust_rule: dict[str, Any] = Field(default_factory=dict)
    grace_minutes: int = Field(5, ge=0, le=1440)
    lookback_hours: int = Field(48, ge=1, le=24 * 62)


class MapSettings(BaseSettings):
    """Basemaps of the interactive maps (``GEO_SERVICE_MAP_...``).

    ``basemap_file`` (an MBTiles or PMTiles package) is served by the service itself at
    ``/maps/basemap/{z}/{x}/{y}.{format}`` (``geo_service.basemap``) and is then every map's
    default; without it the default is none, and the maps make no request outside the
    service. ``basemap`` picks another default; ``?basemap=`` may pick another configured
    one. Tianditu needs a key; AMap tiles are GCJ-02, so the maps shift their data to match.
    """

    model_config = SettingsConfigDict(env_prefix=_PREFIX + "MAP_", extra="ignore")

    basemap: str = ""  # local, none, osm, tianditu, amap; empty: local if a file is set
    basemap_file: Path | None = None
    # Memory per server process for the file's tiles (read once, kept while it runs).
    basemap_cache_mb: int = Field(default=32, ge=0)
    osm_tiles: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tianditu_key: SecretStr = SecretStr("")
    tianditu_tiles: str = (
        "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
        "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
    )
    tianditu_labels: str = (
        "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
        "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
    )
    amap_tiles: str = (
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
        "&x={x}&y={y}&z={z}"
    )

    @property
    def default_basemap(self) -> str:
        """The basemap a map is drawn on unless ``?basemap=`` says otherwise."""
        return self.basemap or ("local" if self.basemap_file else "none")


# Placeholders people copy from examples; as weak as no key at all.
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "development", "dev", "insecure"}
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 100  # a 32-character hex key (128 random bits) estimates 122


def entropy_bits(secret: str) -> float:
    """The key's length times the Shannon entropy of its characters: a generous estimate
    of how hard it is to guess ("a" * 40 is 0 bits, ``token_urlsafe(48)`` about 350)."""
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return len(secret) * per_char


def _repeats(secret: str) -> bool:
    """Whether the key is a shorter string over and over ("password" * 5)."""
    return secret in (secret + secret)[1:-1]


def require_safe_secret(environment: str, secret: str) -> None:
    """Refuse a missing, placeholder, short or guessable session key outside development.

    Anyone who knows the key can forge a session cookie for any user, admins included.
    """
    if environment == "development":
        return
    placeholder = secret.strip().lower() in _PLACEHOLDER_SECRETS
    short = len(secret) < MIN_SECRET_LENGTH
    if placeholder or short or _repeats(secret) or entropy_bits(secret) < MIN_SECRET_BITS:
        raise InsecureConfiguration(
            f"GEO_SERVICE_SECRET_KEY must be set to a random value of at least "
            f"{MIN_SECRET_LENGTH} characters (and {MIN_SECRET_BITS} bits: not one character "
            "repeated, not a word) when GEO_SERVICE_ENVIRONMENT is {environment!r} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )


def session_secret(auth: AuthSettings, server: ServerSettings, home: Path) -> str:
    """The key that signs sessions: the configured one, or in development a kept random one."""
    secret = auth.secret_key.get_secret_value()
    require_safe_secret(server.environment, secret)
    if secret:
        return secret
    return kept_secret(home / "secret-key")


def kept_secret(path: Path) -> str:
    """A generated secret kept in a file that only its owner may read (made on first use)."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


@lru_cache
def database_settings() -> DatabaseSettings:
    """Settings are read once per process; tests build their own instances."""
    return DatabaseSettings()


class MonitoringSettings(BaseSettings):
    """The HJ 212 receiver (``GEO_SERVICE_HJ212_...``).

    ``port`` set: ``geo-service serve`` also listens for monitors there (``geo-service
    hj212 listen`` listens alone). ``host`` is loopback by default: set it to the address
    the monitors reach (``0.0.0.0`` for all) once a firewall lets only them in. ``timezone``
    is the devices' clock (HJ 212 times carry none) and the partitions' months.
    """

    model_config = SettingsConfigDict(env_prefix=_PREFIX + "HJ212_", extra="ignore")

    port: int | None = Field(default=None, ge=0, le=65535)
    host: str = "127.0.0.1"
    timezone: str = "Asia/Shanghai"
    # Partitions made ahead at every ``db up``; readings older than ``retention_months``
    # (this month counted) are detached by ``geo-service hj212 retention`` (0: keep all).
    partitions_ahead: int = Field(default=2, ge=0, le=24)
    retention_months: int = Field(default=0, ge=0)
    # Accepted packets forwarded unchanged to upstream HJ 212 servers (a regulator's
    # platform): ``host:port,host:port``; queued with the packet, so a restart loses none
    # (``geo_service.monitoring.forward``). Retries wait ``forward_retry_s`` doubling up to
    # ``forward_retry_max_s``; the queue is looked at every ``forward_poll_s``.
    forward: str = ""
    forward_poll_s: float = Field(default=1.0, gt=0, le=60)
    forward_retry_s: float = Field(default=5.0, gt=0)
    forward_retry_max_s: float = Field(default=600.0, gt=0)

    @field_validator("forward")
    @classmethod
    def _upstreams(cls, value: str) -> str:
        for item in filter(None, (v.strip() for v in value.split(","))):
            host, colon, port = item.rpartition(":")
            if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{item!r} is not host:port (e.g. 10.0.0.5:9212)")
        return value

    @property
    def upstreams(self) -> tuple[str, ...]:
        """The upstream servers, ``host:port`` each, in the order given."""
        return tuple(dict.fromkeys(filter(None, (v.strip() for v in self.forward.split(",")))))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Shanghai") from None
        return value
