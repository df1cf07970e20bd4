"""Who may see what: the roles and their permissions as data, and the principal of a request.

Framework-free, so the API, the CLI and the analysis ask the same questions of the same
object. A new endpoint declares the permission it needs in its signature (an alias of
``geo_service.api.deps``, e.g. ``principal: Importer`` for ``Permission.IMPORT_DATA``) and a
household-returning one asks ``personal_fields_for(principal, site_id)`` which personal
fields it may show. What is personal is said once, by the layers (``Field.personal``).

Example::

    >>> liaison = Principal(role="liaison", username="wang", site_ids=frozenset({1}))
    >>> liaison.can_read_personal(1), liaison.can_read_personal(2)
    (True, False)
    >>> personal_fields_for(liaison, 2)
    ()
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from geo_service.errors import Forbidden, InvalidAccount, NotAuthenticated
from layers import COLLECTIONS, get_layer


class Permission(StrEnum):
    """What a role allows; endpoints ask for a permission, never for a role by name."""

    READ_PUBLIC_LAYERS = "read_public_layers"
    """Layers with no personal field (parcels, sites, communities, buildings), read only."""
    READ_ALL_LAYERS = "read_all_layers"
    """Every layer's public fields, maps and aggregates (households without contacts)."""
    READ_PERSONAL_ASSIGNED = "read_personal_assigned"
    """Households, personal fields included, of the sites assigned to the principal."""
    READ_PERSONAL_ALL = "read_personal_all"
    """Personal fields of every household."""
    IMPORT_DATA = "import_data"
    """Import files into any layer."""
    MANAGE_ACCESS = "manage_access"
    """Users, API tokens and site assignments."""
    READ_AUDIT = "read_audit"
    """The audit log."""
    EDIT_IMPACT_SETTINGS = "edit_impact_settings"
    """A site's distance bands, impact kinds, active phase and planned equipment."""
    WORK_REQUESTS = "work_requests"
    """Residents' requests and visits of the assigned sites: record, move through their
    states, assign, note, with reporter contacts and internal notes; edit the site's
    working group."""
    READ_SITE_REQUESTS = "read_site_requests"
    """Residents' requests of the assigned sites, read only, without reporter contacts or
    internal notes (working-group members)."""
    WIDEN_PERSONAL_SCOPE = "widen_personal_scope"
    """Move a site's outer band out, which adds households (with their contacts) to the
    personal-data scope of the site's liaison officers."""
    MANAGE_MITIGATION = "manage_mitigation"
    """Create mitigation programmes, edit their eligibility rules and enrol households."""


@dataclass(frozen=True)
class Role:
    """A named set of permissions, with the labels people read on pages and in errors."""

    name: str
    label_zh: str
    label_en: str
    permissions: frozenset[Permission]
    description: str


_P = Permission
ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            "admin",
            "管理员",
            "Administrator",
            frozenset(Permission),
            "Everything: imports, users, tokens, site assignments, the audit log.",
        ),
        Role(
            "planner",
            "规划人员",
            "Planner",
            frozenset(
                {
                    _P.READ_PUBLIC_LAYERS,
                    _P.READ_ALL_LAYERS,
                    _P.EDIT_IMPACT_SETTINGS,
                    _P.MANAGE_MITIGATION,
                }
            ),
            "All maps, layers and aggregates, the sites' impact settings and mitigation "
            "programmes; no personal fields.",
        ),
        Role(
            "liaison",
            "联络人员",
            "Liaison officer",
            frozenset({_P.READ_PUBLIC_LAYERS, _P.READ_PERSONAL_ASSIGNED, _P.WORK_REQUESTS}),
            "Households, with contacts, of their own sites, and their requests and visits; "
            "nothing of other sites' households.",
        ),
        Role(
            "member",
            "工作组成员",
            "Working-group member",
            frozenset({_P.READ_PUBLIC_LAYERS, _P.READ_SITE_REQUESTS}),
            "Their sites' residents' requests without reporter contacts (owner, contractor, "
            "supervisor, street office, community).",
        ),
        Role(
            "gis",
            "GIS 工具",
            "GIS tool",
            frozenset({_P.READ_PUBLIC_LAYERS}),
            "Public collections, read only (QGIS, ArcGIS, GDAL, web maps).",
        ),
    )
}
ANONYMOUS = "anonymous"
_NOBODY = Role(ANONYMOUS, "访客", "Anonymous", frozenset(), "The landing page and sign-in only.")


def get_role(name: str) -> Role:
    """The role with this name, or an error that lists the ones there are."""
    try:
        return ROLES[name]
    except KeyError:
        raise InvalidAccount(f"unknown role {name!r}; roles are: {', '.join(ROLES)}") from None


# Permissions scoped to the sites assigned to the principal: roles holding one take sites.
SITE_SCOPED = frozenset(
    {Permission.READ_PERSONAL_ASSIGNED, Permission.WORK_REQUESTS, Permission.READ_SITE_REQUESTS}
)


def public_layer_ids() -> frozenset[str]:
    """Layers without a personal field: what ``read_public_layers`` opens."""
    return frozenset(lid for lid, layer in COLLECTIONS.items() if not layer.personal_fields)


@dataclass(frozen=True)
class Principal:
    """Who is asking, in which role, for which sites, from where, and how they signed in.

    ``site_ids`` are the sites assigned to a liaison (by user, or narrowed by a token);
    ``anonymous_layers`` are the layers the settings open to everyone.
    """

    role: str
    username: str | None = None
    site_ids: frozenset[int] = frozenset()
    via: str = "anonymous"  # session, password, token, local
    client: str | None = None
    token_prefix: str | None = None
    anonymous_layers: frozenset[str] = field(default_factory=frozenset)

    @property
    def permissions(self) -> frozenset[Permission]:
        # An unknown role (a row written by hand) allows nothing.
        return ROLES.get(self.role, _NOBODY).permissions

    @property
    def is_anonymous(self) -> bool:
        return self.role == ANONYMOUS

    @property
    def actor(self) -> str:
        """The name the audit log records: the user, else the token, else 'anonymous'."""
        if self.username:
            return self.username
        if self.token_prefix:
            return f"token:{self.token_prefix}"
        return ANONYMOUS

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require_signed_in(self) -> None:
        if self.is_anonymous:
            raise NotAuthenticated(
                "sign in first: /login in a browser; tools send an API token "
                "(Authorization: Bearer, X-API-Key, or Basic with the token as password)"
            )

    def require_permission(self, permission: Permission) -> None:
        self.require_signed_in()
        if not self.has(permission):
            raise Forbidden(f"the {self.role} role does not allow {permission.value}")

    def can_read_layer(self, layer_id: str) -> bool:
        """Whether the whole layer (its public fields) may be read, e.g. as a collection."""
        public = layer_id in public_layer_ids()
        if self.is_anonymous:
            return public and layer_id in self.anonymous_layers
        if self.has(Permission.READ_ALL_LAYERS):
            return layer_id in COLLECTIONS
        return public and self.has(Permission.READ_PUBLIC_LAYERS)

    def require_layer(self, layer_id: str) -> None:
        """For what only a reader of the layer may see beyond its features (the monitors'
        readings, through ``/sta`` or ``/api/monitors``): 401 to an anonymous caller, else
        403 naming the layer."""
        if self.can_read_layer(layer_id):
            return
        self.require_signed_in()
        raise Forbidden(f"the {self.role} role does not read the {layer_id} layer")

    def can_list_households(self, site_id: int) -> bool:
        """Whether the households a site affects may be listed (personal fields aside)."""
        if self.has(Permission.READ_ALL_LAYERS) or self.has(Permission.READ_PERSONAL_ALL):
            return True
        return self.has(Permission.READ_PERSONAL_ASSIGNED) and site_id in self.site_ids

    def can_read_personal(self, site_id: int) -> bool:
        """Whether personal fields of the households a site affects may be read."""
        if self.has(Permission.READ_PERSONAL_ALL):
            return True
        return self.has(Permission.READ_PERSONAL_ASSIGNED) and site_id in self.site_ids

    def can_read_requests(self, site_id: int) -> bool:
        """Whether a site's requests (their public fields) and its visits may be read."""
        if self.has(Permission.READ_ALL_LAYERS) or self.has(Permission.READ_PERSONAL_ALL):
            return True
        scoped = self.has(Permission.WORK_REQUESTS) or self.has(Permission.READ_SITE_REQUESTS)
        return scoped and site_id in self.site_ids

    def can_work_requests(self, site_id: int) -> bool:
        """Whether a site's requests and visits may be recorded and changed."""
        if not self.has(Permission.WORK_REQUESTS):
            return False
        return self.has(Permission.READ_PERSONAL_ALL) or site_id in self.site_ids

    def can_read_case_personal(self, site_id: int) -> bool:
        """Whether reporter contacts, visit notes and internal notes of a site may be read:
        its own officers and administrators, never a working-group member or a planner."""
        return self.can_work_requests(site_id)

    def case_personal_site_ids(self) -> set[int] | None:
        """Sites whose reporter contacts and notes may be read; None means every site."""
        if not self.has(Permission.WORK_REQUESTS):
            return set()
        return None if self.has(Permission.READ_PERSONAL_ALL) else set(self.site_ids)

    def request_site_ids(self) -> set[int] | None:
        """Sites whose requests may be read; None means every site."""
        if self.has(Permission.READ_ALL_LAYERS) or self.has(Permission.READ_PERSONAL_ALL):
            return None
        if self.has(Permission.WORK_REQUESTS) or self.has(Permission.READ_SITE_REQUESTS):
            return set(self.site_ids)
        return set()

    def personal_site_ids(self) -> set[int] | None:
        """Sites whose households' personal fields may be read; None means every site."""
        if self.has(Permission.READ_PERSONAL_ALL):
            return None
        if self.has(Permission.READ_PERSONAL_ASSIGNED):
            return set(self.site_ids)
        return set()


def anonymous(client: str | None = None, layers: Iterable[str] = ()) -> Principal:
    """Nobody signed in; ``layers`` are those the settings open to everyone."""
    return Principal(role=ANONYMOUS, client=client, anonymous_layers=frozenset(layers))


def local_operator() -> Principal:
    """Whoever runs code on this machine (CLI, demo loader, benchmarks): they hold the
    database itself, so they have every right; the audit log names their OS account."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        account = "unknown"
    return Principal(role="admin", username=f"local:{account}", via="local", client="local")


def require_households(principal: Principal, site_id: int, code: str | None = None) -> None:
    """Refuse to list the households of a site the principal has no business with; the
    refusal names the site by its ``code``, as people know it (row ids mean nothing to them)."""
    principal.require_signed_in()
    if not principal.can_list_households(site_id):
        raise Forbidden(
            f"the {principal.role} role may not see households of site {code or site_id}"
            + (" (it is not assigned to you)" if principal.role == "liaison" else ""),
            site=code,
        )


def personal_fields_for(principal: Principal, site_id: int) -> tuple[str, ...]:
    """The personal household fields this principal may see for this site (maybe none).

    Read from the households layer, so a field marked personal there is covered here.
    """
    if not principal.can_read_personal(site_id):
        return ()
    return tuple(f.name for f in get_layer("households").personal_fields)
