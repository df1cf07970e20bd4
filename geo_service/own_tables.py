"""The service's own tables, beside the layers': accounts and sessions, the audit log, the
impact settings and reference data, the secrets (the disclosure key), and the mitigation
programmes with their cases.

Each function adds its tables to the metadata ``geo_service.schema`` builds; a table's
``info`` says what it is to the rest of the service (``account``: not data the maps or
feeds read; ``append_only``; ``reference``: synced from ``geo_service/reference``;
``secret``: never leaves the database; ``stream``: measurements arriving all the time,
which no tile or feed cache follows).
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from geo_service.monitoring import lifecycle


def timestamps() -> list[Column]:
    """``created_at`` and ``updated_at``, which every layer's table and the accounts have."""
    return [
        Column(name, DateTime(timezone=True), server_default=func.now(), nullable=False)
        for name in ("created_at", "updated_at")
    ]


# Accounts and the audit log: not data the maps or feeds read (``data_tables``).
ACCOUNT = {"account": True}


def access_tables(metadata: MetaData) -> None:
    """Users, their site assignments, API tokens (migration 0002)."""
    users = Table(
        "users",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("username", String(64), nullable=False),
        # Argon2id; NULL for a user who only uses API tokens issued for them.
        Column("password_hash", Text),
        # An entry of geo_service.access.ROLES.
        Column("role", String(32), nullable=False),
        Column("active", Boolean, nullable=False, server_default=text("true")),
        *timestamps(),
        info=ACCOUNT,
    )
    Index("uq_users_username", func.lower(users.c.username), unique=True)
    # Site assignments by site code, the stable feature id: they survive a re-import of
    # sites (which renews row ids) and resolve to current rows when a request is authorised.
    Table(
        "user_sites",
        metadata,
        Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        Column("site_code", String(64), primary_key=True),
        info=ACCOUNT,
    )
    # Only the SHA-256 of a token's secret is stored.
    Table(
        "api_tokens",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("prefix", String(16), nullable=False, index=True),
        Column("token_hash", String(64), unique=True, nullable=False),
        Column("role", String(32), nullable=False),
        Column("user_id", ForeignKey("users.id", ondelete="CASCADE")),
        Column("label", Text),
        Column("created_by", Text),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("revoked_at", DateTime(timezone=True)),
        info=ACCOUNT,
    )
    # A browser session: the cookie carries a random id, signed; only its SHA-256 is here, so
    # the table alone signs no one in. Ended by logout, a password or role change,
    # deactivation, or an administrator (``geo_service.auth.sessions``).
    Table(
        "user_sessions",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("id_hash", String(64), unique=True, nullable=False),
        Column("client", String(64)),
        Column("started_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("ended_at", DateTime(timezone=True)),
        Column("end_reason", String(32)),
        info=ACCOUNT,
    )
    Table(
        "token_sites",
        metadata,
        Column("token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
        Column("site_code", String(64), primary_key=True),
        info=ACCOUNT,
    )
    # Open311 clients' API keys (``geo_service.liaison.open311``): only the SHA-256 of a
    # key is stored; a key without sites posts to every site.
    Table(
        "open311_keys",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("prefix", String(16), nullable=False, unique=True),
        Column("key_hash", String(64), unique=True, nullable=False),
        Column("label", Text, nullable=False),
        Column("created_by", Text),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("revoked_at", DateTime(timezone=True)),
        info=ACCOUNT,
    )
    Table(
        "open311_key_sites",
        metadata,
        Column("key_id", ForeignKey("open311_keys.id", ondelete="CASCADE"), primary_key=True),
        Column("site_code", String(64), primary_key=True),
        info=ACCOUNT,
    )


def audit_table(metadata: MetaData) -> None:
    """One audited event a row; append-only (triggers refuse UPDATE, DELETE and TRUNCATE).

    No foreign keys: the record of what a user did outlives the user and the site.
    """
    audit = Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("actor", Text),
        Column("role", String(32)),
        Column("action", String(32), nullable=False),
        Column("target", Text),
        Column("record_count", Integer),
        Column("client", Text),
        Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        info={**ACCOUNT, "append_only": True},
    )
    # What the sign-in rate limit asks on every failed attempt (geo_service.auth.throttle).
    failed = text("action = 'login_failed'")
    Index(
        "ix_audit_log_failed_actor", func.lower(audit.c.actor), audit.c.at, postgresql_where=failed
    )
    Index("ix_audit_log_failed_client", audit.c.client, audit.c.at, postgresql_where=failed)


def impact_tables(metadata: MetaData) -> None:
    """Reference data of the noise model (synced from geo_service/reference by every
    migrate) and each site's settings and planned equipment (migration 0003)."""
    reference = {"reference": True}
    Table(
        "equipment_types",
        metadata,
        Column("code", String(40), primary_key=True),
        Column("name_zh", Text, nullable=False),
        Column("name_en", Text, nullable=False),
        Column("lmax_15m_dba", Float, nullable=False),
        Column("usage_factor_pct", Float, nullable=False),
        Column("ppv_25ft_in_s", Float),
        CheckConstraint("usage_factor_pct > 0 AND usage_factor_pct <= 100", name="ck_equipment_uf"),
        info=reference,
    )
    Table(
        "acoustic_limits",
        metadata,
        Column("acoustic_class", String(2), primary_key=True),
        Column("day_dba", Float, nullable=False),
        Column("night_dba", Float, nullable=False),
        Column("name_zh", Text, nullable=False),
        Column("name_en", Text, nullable=False),
        info=reference,
    )
    Table(
        "impact_model",
        metadata,
        Column("id", Boolean, primary_key=True, server_default=text("true")),
        *(
            Column(name, Float, nullable=False)
            for name in (
                "reference_distance_m",
                "minimum_distance_m",
                "vib_reference_ft",
                "vib_exponent",
                "damage_ppv_in_s",
                "annoyance_ppv_in_s",
            )
        ),
        Column("default_class", String(2), nullable=False),
        Column("boundary_day_dba", Float, nullable=False),
        Column("boundary_night_dba", Float, nullable=False),
        Column("default_bands_m", ARRAY(Float), nullable=False),
        Column("default_kinds", ARRAY(Text), nullable=False),
        CheckConstraint("id", name="ck_impact_model_single_row"),
        CheckConstraint(
            "bands_increasing(default_bands_m)", name="ck_impact_model_bands_increasing"
        ),
        info=reference,
    )
    Table(
        "site_impact_settings",
        metadata,
        Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
        Column("bands_m", ARRAY(Float)),
        Column("kinds", ARRAY(Text)),
        Column("active_phase", Text),
        Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        CheckConstraint(
            "bands_m IS NULL OR cardinality(bands_m) BETWEEN 1 AND 10", name="ck_site_impact_bands"
        ),
        CheckConstraint("bands_increasing(bands_m)", name="ck_site_impact_bands_increasing"),
    )
    Table(
        "site_equipment",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        Column("phase", Text, nullable=False, server_default=text("'main'::text")),
        Column(
            "equipment_code",
            ForeignKey("equipment_types.code", ondelete="RESTRICT"),
            nullable=False,
        ),
        Column("count", Integer, nullable=False, server_default=text("1")),
        Column("night_work", Boolean, nullable=False, server_default=text("false")),
        Column("attenuation_db", Float, nullable=False, server_default=text("0")),
        CheckConstraint("count BETWEEN 1 AND 1000", name="ck_site_equipment_count"),
        CheckConstraint("attenuation_db BETWEEN 0 AND 40", name="ck_site_equipment_att"),
        Index("ix_site_equipment_site", "site_id", "phase"),
    )


def import_tables(metadata: MetaData) -> None:
    """What imports check against and remember (migrations 0011, 0013).

    ``import_service_area``: the lon/lat box imported data must lie in, when an admin has
    set one (``geo_service.ingest.area``); without a row, ``GEO_SERVICE_IMPORT_SERVICE_AREA``.
    ``import_skips``: rows ``--on-invalid skip`` left out of layers others reference.
    Settings of the service, not data the maps or feeds read: kept like the accounts.
    """
    Table(
        "import_service_area",
        metadata,
        Column("id", Boolean, primary_key=True, server_default=text("true")),
        *(Column(side, Float, nullable=False) for side in ("west", "south", "east", "north")),
        Column("updated_by", Text),
        Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        CheckConstraint("id", name="ck_import_service_area_one_row"),
        CheckConstraint(
            "west >= -180 AND west < east AND east <= 180", name="ck_import_service_area_lon"
        ),
        CheckConstraint(
            "south >= -90 AND south < north AND north <= 90", name="ck_import_service_area_lat"
        ),
        info=ACCOUNT,
    )
    # Keys of referenced layers an import skipped (``geo_service.ingest.skips``, 0013).
    Table(
        "import_skips",
        metadata,
        Column("layer", String(32), primary_key=True),
        Column("key", Text, primary_key=True),
        Column("source", Text, nullable=False),
        Column("file_row", Integer, nullable=False),
        Column("reason", Text, nullable=False),
        Column("at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        info=ACCOUNT,
    )


def secret_tables(metadata: MetaData) -> None:
    """The key that perturbs counts of sensitive attributes (``geo_service.impact.disclosure``),
    made at random by migration 0009: the service reads it, nothing writes or empties it."""
    Table(
        "disclosure_key",
        metadata,
        Column("id", Boolean, primary_key=True, server_default=text("true")),
        Column("salt", Text, nullable=False, server_default=text("(gen_random_uuid())::text")),
        CheckConstraint("id", name="ck_disclosure_key_one_row"),
        info={"secret": True},
    )


# Measurements arriving every second: the tile cache does not follow them (``data_tables``).
STREAM = {"stream": True}


def _monitor_key() -> Column:
    """The first column of a monitor's stream tables' keys: gone with the monitor."""
    return Column(
        "monitor_id", Integer, ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )


# A queued batch's readings: the columns the rollups are made from, an array each.
_QUEUED_READING = {
    "monitor_id": Integer,
    "cn": Text,
    "factor": Text,
    "statistic": Text,
    "at": DateTime(timezone=True),
    "value": Float,
    "flag": Text,
}
# A rollup bucket keeps an energy sum (levels: LAeq), a sum (means) or an extreme; its value
# follows (``geo_service.monitoring.rollups``).
ROLLUP_KINDS = ("energy", "mean", "max", "min")
ROLLUP_VALUE = (
    "CASE kind WHEN 'energy' THEN 10 * log(total / NULLIF(valid_count, 0))"
    " WHEN 'mean' THEN total / NULLIF(valid_count, 0) ELSE total END"
)


def monitoring_tables(metadata: MetaData) -> None:
    """What the monitors send (migration 0017, ``geo_service.monitoring``).

    ``hj212_packets``: every frame the receiver got, accepted or not and why, as received
    (the Noise Law has a builder keep the raw records). ``readings``: one value of one
    factor and statistic of one command (2011 real-time, 2051 minute, 2061 hourly, 2031
    daily) at one time (the interval's start for aggregates), particulates in ug/m3; range
    partitions by month (``geo_service.monitoring.partitions`` creates them ahead and
    detaches old ones), BRIN on time. A repeated packet changes nothing (the key).
    ``reading_rollups`` (migration 0024): per monitor, factor, statistic, period (15min,
    20min, 1h, 1d) and bucket start, what the bucket's value follows from whatever order the
    readings came in, and the counts of valid and of all readings. ``reading_rollup_queue``
    (migration 0027): the readings each batch inserted, as arrays in one row, until they
    are folded into the rollups off the acknowledgement's path. ``hj212_forwards``
    (migration 0024): each accepted frame queued for each upstream server it is forwarded to
    (``geo_service.monitoring.forward``), with its attempts and when it was delivered.
    """
    Table(
        "hj212_packets",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("peer", Text, nullable=False),
        Column("via", String(8), nullable=False),
        Column("raw", LargeBinary, nullable=False),
        Column("mn", String(64)),
        Column("monitor_id", Integer, ForeignKey("monitors.id", ondelete="SET NULL")),
        Column("accepted", Boolean, nullable=False),
        Column("code", SmallInteger, nullable=False),
        Column("reason", Text, nullable=False),
        Index("ix_hj212_packets_received_at", "received_at", postgresql_using="brin"),
        Index("ix_hj212_packets_monitor_id", "monitor_id"),
        CheckConstraint("via IN ('tcp', 'http')", name="ck_hj212_packets_via"),
        info=STREAM,
    )
    Table(
        "readings",
        metadata,
        _monitor_key(),
        Column("cn", String(4), primary_key=True),
        Column("factor", String(16), primary_key=True),
        Column("statistic", String(12), primary_key=True),
        Column("at", DateTime(timezone=True), primary_key=True),
        Column("value", Float, nullable=False),
        Column("flag", String(1)),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Index("ix_readings_at", "at", postgresql_using="brin"),
        # A monitor's stretch of time whatever its streams: the alarm pass's windows and its
        # last reading (the key's ``at`` comes after cn, factor and statistic).
        Index("ix_readings_monitor_at", "monitor_id", "at"),
        CheckConstraint("cn IN ('2011', '2051', '2061', '2031')", name="ck_readings_cn"),
        postgresql_partition_by="RANGE (at)",
        info=STREAM,
    )
    Table(
        "reading_rollups",
        metadata,
        _monitor_key(),
        Column("factor", String(16), primary_key=True),
        Column("statistic", String(12), primary_key=True),
        Column("period", String(8), primary_key=True),
        Column("start", DateTime(timezone=True), primary_key=True),
        Column("kind", String(8), nullable=False),
        Column("total", Float),
        Column("valid_count", Integer, nullable=False),
        Column("count", Integer, nullable=False),
        Column("value", Float, Computed(ROLLUP_VALUE, persisted=True)),
        Index("ix_reading_rollups_start", "start", postgresql_using="brin"),
        CheckConstraint(_in("kind", ROLLUP_KINDS), name="ck_reading_rollups_kind"),
        # Room for each bucket's next version on its page: updated at every fold (0029).
        postgresql_with={"fillfactor": 50},
        info=STREAM,
    )
    Table(
        "reading_rollup_queue",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        *(Column(name, ARRAY(kind), nullable=False) for name, kind in _QUEUED_READING.items()),
        info=STREAM,
    )
    forwards = Table(
        "hj212_forwards",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column(
            "packet_id",
            BigInteger,
            ForeignKey("hj212_packets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("upstream", Text, nullable=False),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("next_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("last_error", Text),
        Column("delivered_at", DateTime(timezone=True)),
        info=STREAM,
    )
    Index(
        "ix_hj212_forwards_due",
        forwards.c.upstream,
        forwards.c.id,
        postgresql_where=forwards.c.delivered_at.is_(None),
    )
    Index("ix_hj212_forwards_packet_id", forwards.c.packet_id)


def mitigation_tables(metadata: MetaData) -> None:
    """Mitigation programmes, their cases (one per household) and the cases' events
    (migration 0016; ``geo_service.mitigation``).

    Case work, not map data: kept like the accounts, so a case's step sends no tile-cache
    notification. A household or site that has cases cannot be deleted (RESTRICT): an
    import that would replace them is refused and names this table; upserts keep them. The
    events are append-only to the service's role (it may insert and read them, nothing
    else). Personal columns say so in their ``info`` (``personal``): the API shows them only
    to the site's case workers, and audits the read.
    """
    from geo_service.mitigation import states  # data only; no import back here

    Table(
        "mitigation_kinds",
        metadata,
        Column("code", String(40), primary_key=True),
        Column("name_zh", Text, nullable=False),
        Column("name_en", Text, nullable=False),
        info={"reference": True},
    )
    thresholds = ("min_leq_day", "min_leq_night", "min_exceed_day", "min_exceed_night")
    Table(
        "mitigation_programmes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("site_id", ForeignKey("sites.id", ondelete="RESTRICT"), nullable=False, index=True),
        Column("kind", ForeignKey("mitigation_kinds.code", ondelete="RESTRICT"), nullable=False),
        Column("title", Text, nullable=False),
        # The eligibility rule: thresholds (dB, inclusive) on the household list's values,
        # combined by ``match``, within bands 1..max_band (NULL: the whole outer band).
        *(Column(name, Float) for name in thresholds),
        Column("match", String(3), nullable=False, server_default=text("'any'::character varying")),
        Column("max_band", Integer),
        Column("budget", Float),
        Column("unit_cost_per_m2", Float),
        Column("created_by", Text, nullable=False),
        *timestamps(),
        CheckConstraint("match IN ('any', 'all')", name="ck_mitigation_programmes_match"),
        CheckConstraint(
            " OR ".join(f"{name} IS NOT NULL" for name in thresholds),
            name="ck_mitigation_programmes_rule",
        ),
        CheckConstraint("max_band IS NULL OR max_band >= 1", name="ck_mitigation_programmes_band"),
        CheckConstraint(
            "(budget IS NULL OR budget >= 0) AND "
            "(unit_cost_per_m2 IS NULL OR unit_cost_per_m2 >= 0)",
            name="ck_mitigation_programmes_costs",
        ),
        info=ACCOUNT,
    )
    state_list = ", ".join(f"'{s}'" for s in states.STATES)
    cases = Table(
        "mitigation_cases",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column(
            "programme_id",
            ForeignKey("mitigation_programmes.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        Column("household_id", ForeignKey("households.id", ondelete="RESTRICT"), nullable=False),
        Column(
            "state",
            String(16),
            nullable=False,
            server_default=text("'eligible'::character varying"),
        ),
        Column("window_area_m2", Float),
        Column("contractor", Text),
        *(Column(name, Date) for name in states.STATE_DATES.values()),
        Column("cost", Float),
        Column("note", Text, info={"personal": True}),
        *timestamps(),
        CheckConstraint(f"state IN ({state_list})", name="ck_mitigation_cases_state"),
        CheckConstraint(
            f"window_area_m2 IS NULL OR (window_area_m2 > 0 AND window_area_m2 <= "
            f"{states.MAX_WINDOW_AREA_M2})",
            name="ck_mitigation_cases_area",
        ),
        CheckConstraint(
            f"cost IS NULL OR (cost >= 0 AND cost <= {states.MAX_COST})",
            name="ck_mitigation_cases_cost",
        ),
        info=ACCOUNT,
    )
    Index("uq_mitigation_cases_household", cases.c.programme_id, cases.c.household_id, unique=True)
    Index("ix_mitigation_cases_household", cases.c.household_id)
    Table(
        "mitigation_case_events",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column(
            "case_id",
            ForeignKey("mitigation_cases.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        Column("at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("actor", Text, nullable=False),
        Column("role", String(32), nullable=False),
        Column("from_state", String(16)),
        Column("to_state", String(16), nullable=False),
        # The fields the step set; a note's text is personal and stays on the case only.
        Column("changes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        info={**ACCOUNT, "append_only": True},
    )


# Party of a working-group member: the five parties responsible for a project (五方责任主体:
# owner, survey, design, contractor, supervisor), the street office and the community.
PARTIES = ("owner", "survey", "design", "contractor", "supervisor", "street_office", "community")
OFFICER_DUTIES = ("lead", "deputy")
OUTBOX_STATES = ("pending", "delivered", "failed", "held")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def liaison_tables(metadata: MetaData) -> None:
    """Liaison case work beside the ``requests`` and ``visits`` layers (migration 0015).

    ``request_categories``: reference data, synced from ``reference/request_categories.csv``.
    ``request_events``: every change of a request, append-only (a trigger refuses UPDATE and
    DELETE; the service role may only SELECT and INSERT), emptied only with the data.
    ``site_officers`` and ``working_group_members``: by site code, like ``user_sites``, so
    they survive a re-import of sites. ``liaison_outbox``: notifications to deliver.
    """
    Table(
        "request_categories",
        metadata,
        Column("code", String(32), primary_key=True),
        Column("name_zh", Text, nullable=False),
        Column("name_en", Text, nullable=False),
        Column("acknowledge_hours", Integer, nullable=False),
        Column("resolve_working_days", Integer, nullable=False),
        Column("position", Integer, nullable=False),
        CheckConstraint(
            "acknowledge_hours > 0 AND resolve_working_days > 0", name="ck_request_categories_sla"
        ),
        info={"reference": True},
    )
    events = Table(
        "request_events",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("request_id", ForeignKey("requests.id", ondelete="RESTRICT"), nullable=False),
        Column("at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("actor", Text, nullable=False),
        Column("role", String(32)),
        Column("kind", String(24), nullable=False),
        Column("from_state", String(24)),
        Column("to_state", String(24)),
        Column("note", Text),
        # The SLA step an event records ("resolve/1/warning"): each happens once per request.
        Column("clock", String(40)),
        Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        CheckConstraint(
            _in(
                "kind",
                (
                    "created",
                    "state_change",
                    "public_note",
                    "internal_note",
                    "assignment",
                    "duplicate",
                    "sla_warning",
                    "sla_breach",
                    "escalation",
                ),
            ),
            name="ck_request_events_kind",
        ),
        Index("ix_request_events_request", "request_id", "id"),
        info={"event_log": True},
    )
    Index(
        "uq_request_events_clock",
        events.c.request_id,
        events.c.clock,
        unique=True,
        postgresql_where=text("clock IS NOT NULL"),
    )
    Table(
        "site_officers",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("site_code", String(64), nullable=False, index=True),
        Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("duty", String(8), nullable=False),
        Column("starts_on", Date, nullable=False),
        Column("ends_on", Date),
        CheckConstraint(_in("duty", OFFICER_DUTIES), name="ck_site_officers_duty"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_site_officers_dates"),
        info=ACCOUNT,
    )
    Table(
        "working_group_members",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("site_code", String(64), nullable=False, index=True),
        Column("organisation", Text, nullable=False),
        Column("party", String(16), nullable=False),
        Column("role", Text),
        Column("name", Text, nullable=False),
        Column("phone", String(32)),
        *timestamps(),
        CheckConstraint(_in("party", PARTIES), name="ck_working_group_members_party"),
    )
    Table(
        "liaison_outbox",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        # What the notification is about: a request, or a monitor's alarm (migration 0022).
        Column("request_id", ForeignKey("requests.id", ondelete="CASCADE")),
        Column("alarm_id", ForeignKey("alarms.id", ondelete="CASCADE")),
        Column("kind", String(24), nullable=False),
        Column("recipient", Text),
        Column("message", JSONB, nullable=False),
        Column("webhook", Text),
        Column(
            "status",
            String(16),
            nullable=False,
            server_default=text("'pending'::character varying"),
        ),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column(
            "next_attempt_at", DateTime(timezone=True), server_default=func.now(), nullable=False
        ),
        Column("delivered_at", DateTime(timezone=True)),
        Column("last_error", Text),
        CheckConstraint(_in("status", OUTBOX_STATES), name="ck_liaison_outbox_status"),
        CheckConstraint("num_nonnulls(request_id, alarm_id) = 1", name="ck_liaison_outbox_about"),
        Index("ix_liaison_outbox_due", "status", "next_attempt_at"),
    )


# A micro-wish (微心愿): posted (by a site's officer, maybe for a household), claimed by a
# working-group member, fulfilled or cancelled; ``geo_service.liaison.wishes`` moves it.
WISH_STATES = ("posted", "claimed", "fulfilled", "cancelled")
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")


def wish_tables(metadata: MetaData) -> None:
    """Micro-wishes and the photos of visits (migration 0019).

    ``micro_wishes`` is kept by site code, like the working group whose members claim it.
    ``title`` says what is wished for and is shown to the working group; ``description`` may
    name the resident, their health or their flat, so it is personal (the site's officers
    only) and the retention rule blanks it. ``visit_photos`` holds the re-encoded image
    itself (no metadata left), so a photo is read, audited and purged where its visit is.
    """
    Table(
        "micro_wishes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("site_code", String(64), nullable=False, index=True),
        Column("household_id", ForeignKey("households.id", ondelete="SET NULL")),
        Column("title", Text, nullable=False),
        Column("description", Text),
        Column("state", String(16), nullable=False, server_default=text("'posted'")),
        Column("posted_by", String(64), nullable=False),
        Column("claimed_by", ForeignKey("working_group_members.id", ondelete="SET NULL")),
        Column("due_on", Date),
        Column("posted_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("claimed_at", DateTime(timezone=True)),
        Column("fulfilled_at", DateTime(timezone=True)),
        Column("cancelled_at", DateTime(timezone=True)),
        *timestamps(),
        CheckConstraint(_in("state", WISH_STATES), name="ck_micro_wishes_state"),
        CheckConstraint("length(title) BETWEEN 1 AND 200", name="ck_micro_wishes_title"),
    )
    Table(
        "visit_photos",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("visit_id", ForeignKey("visits.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("content_type", String(16), nullable=False),
        Column("width", Integer, nullable=False),
        Column("height", Integer, nullable=False),
        Column("bytes", Integer, nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("uploaded_by", String(64), nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        CheckConstraint(_in("content_type", PHOTO_TYPES), name="ck_visit_photos_type"),
    )


ALARM_EVENT_KINDS = ("opened", "state_change", "condition_cleared", "escalation")


def alarm_tables(metadata: MetaData) -> None:
    """Rules' verdicts and the alarms they raise (migration 0022, ``monitoring.alarms``).

    ``monitoring_rules``: a site's overrides of the city's rules (by site code, like the
    officers, so they survive a re-import of sites). ``alarm_watermarks``: up to where each
    monitor's windows of each rule have been judged, so each window is judged once.
    ``monitor_exceedances``: every judged window over its limit. ``alarms``: one per episode,
    at most one active per monitor and kind; ``alarm_events``: every transition,
    append-only like ``request_events``; ``alarm_requests``: alarms and residents' requests
    of one site within an hour of each other, read from both sides.
    """
    Table(
        "monitoring_rules",
        metadata,
        Column("site_code", String(64), primary_key=True),
        Column("noise", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("dust", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        # Overrides of reference/night_work.yaml's background (``background_db``, ...).
        Column("night_work", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    Table(
        "alarm_watermarks",
        metadata,
        Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
        Column("rule", String(8), primary_key=True),
        Column("judged_until", DateTime(timezone=True), nullable=False),
        CheckConstraint("rule IN ('noise', 'dust', 'night')", name="ck_alarm_watermarks_rule"),
        info=STREAM,
    )
    alarms = Table(
        "alarms",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
        Column("kind", String(32), nullable=False),
        Column("state", String(16), nullable=False, server_default=text("'open'")),
        # The first exceeding window's start (offline: when the third interval ran out) and
        # the last one's end; how many windows, the worst value and its limit.
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("last_at", DateTime(timezone=True), nullable=False),
        Column("windows", Integer, nullable=False, server_default=text("1")),
        Column("period", String(8)),
        Column("worst_value", Float),
        Column("limit_value", Float),
        Column("condition_cleared_at", DateTime(timezone=True)),
        Column("reply_due_at", DateTime(timezone=True), nullable=False),
        Column("acknowledged_at", DateTime(timezone=True)),
        Column("replied_at", DateTime(timezone=True)),
        Column("closed_at", DateTime(timezone=True)),
        Column("reply", Text),
        Column("actions", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
        Column("escalated_at", DateTime(timezone=True)),
        *timestamps(),
        CheckConstraint(_in("kind", lifecycle.KINDS), name="ck_alarms_kind"),
        CheckConstraint(_in("state", lifecycle.STATES), name="ck_alarms_state"),
        CheckConstraint("period IS NULL OR period IN ('day', 'night')", name="ck_alarms_period"),
        Index("ix_alarms_monitor", "monitor_id", "started_at"),
        info=STREAM,
    )
    Index(
        "uq_alarms_active",
        alarms.c.monitor_id,
        alarms.c.kind,
        unique=True,
        postgresql_where=text(_in("state", lifecycle.ACTIVE)),
    )
    events = Table(
        "alarm_events",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("alarm_id", ForeignKey("alarms.id", ondelete="RESTRICT"), nullable=False),
        Column("at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("actor", Text, nullable=False),
        Column("role", String(32)),
        Column("kind", String(24), nullable=False),
        Column("from_state", String(16)),
        Column("to_state", String(16)),
        Column("note", Text),
        # A step that happens once per alarm ("reply/overdue"): a unique index holds it.
        Column("once", String(40)),
        Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        CheckConstraint(_in("kind", ALARM_EVENT_KINDS), name="ck_alarm_events_kind"),
        Index("ix_alarm_events_alarm", "alarm_id", "id"),
        info={"event_log": True, **STREAM},
    )
    Index(
        "uq_alarm_events_once",
        events.c.alarm_id,
        events.c.once,
        unique=True,
        postgresql_where=text("once IS NOT NULL"),
    )
    Table(
        "monitor_exceedances",
        metadata,
        Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
        Column("kind", String(32), primary_key=True),
        Column("window_start", DateTime(timezone=True), primary_key=True),
        Column("window_end", DateTime(timezone=True), nullable=False),
        Column("period", String(8)),
        Column("value", Float, nullable=False),
        Column("limit_value", Float, nullable=False),
        Column("valid_fraction", Float, nullable=False),
        Column("alarm_id", ForeignKey("alarms.id", ondelete="SET NULL"), index=True),
        CheckConstraint(_in("kind", lifecycle.KINDS), name="ck_monitor_exceedances_kind"),
        info=STREAM,
    )
    Table(
        "alarm_requests",
        metadata,
        Column("alarm_id", ForeignKey("alarms.id", ondelete="CASCADE"), primary_key=True),
        Column(
            "request_id",
            ForeignKey("requests.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
        Column("linked_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        info=STREAM,
    )


def night_work_tables(metadata: MetaData) -> None:
    """Night work (migration 0025, ``monitoring.night_work``).

    ``night_work_permits``: a site's certificates (by site code, like ``monitoring_rules``),
    each for the nights ``first_night`` to ``last_night`` (the evening's dates) and the hours
    ``hours_start`` to ``hours_end``; revoked, never deleted. ``exam_site_bans``: no work
    within ``radius_m`` of an exam site during its hours, by day or night.
    """
    Table(
        "night_work_permits",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("site_code", String(64), nullable=False),
        Column("certificate_no", String(64), nullable=False, index=True),
        Column("issuer", String(32), nullable=False),
        Column("first_night", Date, nullable=False),
        Column("last_night", Date, nullable=False),
        Column("hours_start", Time, nullable=False),
        Column("hours_end", Time, nullable=False),
        Column("activities", ARRAY(Text), nullable=False),
        Column("notice_posted_at", DateTime(timezone=True)),
        Column("created_by", Text, nullable=False),
        Column("revoked_at", DateTime(timezone=True)),
        Column("revoked_by", Text),
        *timestamps(),
        CheckConstraint("first_night <= last_night", name="ck_night_work_permits_nights"),
        CheckConstraint("hours_start <> hours_end", name="ck_night_work_permits_hours"),
        Index("ix_night_work_permits_site", "site_code", "first_night"),
    )
    Table(
        "exam_site_bans",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", Text, nullable=False),
        Column("document_no", Text),
        Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        Column("radius_m", Float, nullable=False),
        Column("starts_at", DateTime(timezone=True), nullable=False),
        Column("ends_at", DateTime(timezone=True), nullable=False),
        CheckConstraint("radius_m > 0", name="ck_exam_site_bans_radius"),
        CheckConstraint("starts_at < ends_at", name="ck_exam_site_bans_times"),
    )
    # A monitor's background for one period (day or night) of one date, kept once computed
    # from the periods before it (migration 0028): each of the period's windows needs it,
    # and the history under it does not change, so the pass reads that history once a
    # period, not once a window. ``basis``: the settings that shaped it (windows, valid
    # minutes, day hours, nights, minimum windows); other settings make another row.
    Table(
        "night_backgrounds",
        metadata,
        _monitor_key(),
        Column("period", String(5), primary_key=True),
        Column("period_of", Date, primary_key=True),
        Column("basis", Text, primary_key=True),
        Column("background", Float),  # none: fewer windows before it than the minimum
        Column("windows", Integer, nullable=False),
        Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        info=STREAM,
    )
