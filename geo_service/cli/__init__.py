"""The ``geo-service`` command line: database, demo data, imports, exports, access and the
server.

Each command is a few lines of arguments around one call into the service. What they all
share is ``edge`` (settings read once, domain errors as one line and exit 2, the engine);
the commands are in ``database``, ``data``, ``access``, ``liaison``, ``open311``, ``server``
and ``monitoring``, which add themselves to ``main`` when imported here.
"""

from geo_service.cli import access, data, database, liaison, monitoring, open311, server
from geo_service.cli import retention as retention
from geo_service.cli.data import announce_demo_admin
from geo_service.cli.edge import CliSettings, main

__all__ = [
    "CliSettings",
    "access",
    "announce_demo_admin",
    "data",
    "database",
    "liaison",
    "main",
    "monitoring",
    "open311",
    "server",
]
