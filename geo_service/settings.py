"""Configuration, read from the environment (prefix ``GEO_SERVICE_``).

One small class per concern, as tipg does, so each part of the service depends only
on the settings it uses. Settings are read at the application edge (CLI, app factory)
and passed inward.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    database_url: str | None = None
    home: Path = Field(default_factory=_default_home)
    embedded_port: int = 54329
    embedded_database: str = "geo_service"
    pool_size: int = 10


class ImportSettings(BaseSettings):
    """Limits and plausibility checks for uploaded files."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX + "IMPORT_", extra="ignore")

    max_upload_mb: int = 512
    max_unzipped_mb: int = 2048
    # Lon/lat box where data may lie (default: China). Points outside are refused, and
    # points that fall inside once x and y are exchanged are reported as swapped.
    service_area: tuple[float, float, float, float] = (73.0, 3.0, 136.0, 54.0)


class ServerSettings(BaseSettings):
    """How ``geo-service serve`` listens."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    environment: str = "development"


@lru_cache
def database_settings() -> DatabaseSettings:
    """Settings are read once per process; tests build their own instances."""
    return DatabaseSettings()
