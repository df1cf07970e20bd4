"""Engine and migrations: the one place that knows how to reach PostGIS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from geo_service.cluster import OWNER, EmbeddedCluster
from geo_service.settings import DatabaseSettings


def embedded_cluster(settings: DatabaseSettings) -> EmbeddedCluster:
    return EmbeddedCluster(settings.home, settings.embedded_port)


def _driver(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def database_url(settings: DatabaseSettings) -> str:
    """Where the service connects: the configured URL, or the embedded cluster's service
    role (which owns no table) when none is set."""
    if settings.database_url:
        return _driver(settings.database_url)
    return embedded_cluster(settings).url(settings.embedded_database)


def owner_url(settings: DatabaseSettings) -> str:
    """Where the migrations connect: the tables' owner."""
    explicit = settings.database_owner_url or settings.database_url
    if explicit:
        return _driver(explicit)
    return embedded_cluster(settings).url(settings.embedded_database, role=OWNER)


def fresh_database(name: str, explicit_url: str | None = None) -> str:
    """Drop and create a scratch database (tests, benchmarks), migrated; return its URL
    (the owner's: tests and benchmarks set up and empty tables).

    It lives in the embedded cluster (started if needed) unless ``explicit_url`` names one.
    """
    if explicit_url:
        url = make_url(explicit_url)
    else:
        cluster = embedded_cluster(DatabaseSettings())
        cluster.up()
        url = make_url(cluster.url(name, role=OWNER))
    admin = make_engine(url.set(database="postgres").render_as_string(False), pool_size=1)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    migrate(rendered)
    return rendered


def make_engine(url: str, pool_size: int = 10) -> Engine:
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )


_MIGRATIONS = str(resources.files("geo_service") / "migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _MIGRATIONS)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "heads") -> None:
    """Upgrade the schema, create the impact views from their files, then refresh the
    reference tables from ``geo_service/reference`` (the noise model's, the mitigation
    kinds, the request categories), give every data table its data-changed trigger
    and the service role its privileges."""
    from geo_service.grants import sync_grants
    from geo_service.liaison import categories
    from geo_service.mitigation.programmes import sync_kinds
    from geo_service.noise import sync_reference
    from geo_service.schema import sync_triggers

    engine = create_engine(url, poolclass=NullPool)
    try:
        with _views_set_aside(engine):
            command.upgrade(alembic_config(url), revision)
        with engine.begin() as conn:
            sync_reference(conn)
            sync_kinds(conn)
            categories.sync(conn)
            sync_triggers(conn)
            sync_grants(conn)
            _partitions_ahead(conn)
    finally:
        engine.dispose()


def _partitions_ahead(conn: Connection) -> None:
    """The readings' partitions of this month and the next ones (migration 0017's)."""
    if conn.execute(text("SELECT to_regprocedure('readings_partition(date, text)')")).scalar():
        import datetime as dt

        from geo_service.monitoring import partitions
        from geo_service.settings import MonitoringSettings

        settings = MonitoringSettings()
        partitions.ensure_ahead(
            conn, dt.datetime.now(dt.UTC), settings.partitions_ahead, settings.timezone
        )


def downgrade(url: str, revision: str) -> None:
    """Downgrade the schema; the impact views it still supports are created again."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with _views_set_aside(engine):
            command.downgrade(alembic_config(url), revision)
    finally:
        engine.dispose()


@contextmanager
def _views_set_aside(engine: Engine) -> Iterator[None]:
    """Alembic runs without the impact views; afterwards they are created as their files
    define them (``geo_service.impact.views``), for the revision the database is then at.

    A view pins the columns it reads (ALTER COLUMN ... TYPE and DROP COLUMN refuse while one
    does), so without them a migration may change any table; and they hold no data to lose.
    They are created again when a migration fails too, so the database is not left without
    them.
    """
    from geo_service.impact.views import apply_views, drop_views

    with engine.begin() as conn:
        drop_views(conn)
    try:
        yield
    finally:
        with engine.begin() as conn:
            apply_views(conn, applied_revisions(conn))


def applied_revisions(conn: Connection) -> set[str]:
    """The revisions the database is at or past (none before its first migration)."""
    heads = MigrationContext.configure(conn).get_current_heads()
    return {r.revision for r in ScriptDirectory(_MIGRATIONS).iterate_revisions(heads, "base")}


def server_versions(engine: Engine) -> dict[str, str]:
    """What ``/healthz`` and ``db status`` report."""
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
        # One row per head: "0002,0003" while two branches of migrations are both applied.
        revision = conn.execute(
            text("SELECT string_agg(version_num, ',' ORDER BY version_num) FROM alembic_version")
        ).scalar_one_or_none()
    return {"postgresql": str(pg), "postgis": str(postgis), "schema_revision": str(revision)}
