"""ogctests, the OGC API conformance suite, against a running service, with an API token.

    .venv/ogctests/bin/python tests/clients/ogctests_runner.py SUITE OGC_URL TOKEN REPORT

SUITE is ``features/core`` or ``features/filtering`` (one session each: each suite's
conftest orders every test of the session by its own numbering). It runs in the venv that
``./dev`` makes for ogctests (its pins are not the project's) and writes a JUnit report.
"""

from __future__ import annotations

import sys

import httpx
from ogctests.main import run_ogctests

suite, url, token, report = sys.argv[1:5]
with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
    flags = ["-p", "no:cacheprovider", "-o", "addopts=", "-q", f"--junitxml={report}"]
    run_ogctests(suite, instance_url=url, flags=flags, test_client=client)
