"""Liaison case work: residents' requests and their state machine, SLA clocks on China's
working days, escalation and notifications, visits and coverage, working groups.

Framework-free like ``geo_service.impact``: the API (``geo_service.api.requests``,
``visits``, ``groups``) and the CLI (``geo-service sla run``) call the same functions with
a connection and a principal. By concern:

- ``calendar``: working time on China's official holiday calendar (``chinese_calendar``);
- ``states``: the transition table as data (from, to, the permission it needs);
- ``categories``: the 15 categories and their SLAs, synced from ``reference/``;
- ``requests``: create, read, transition, notes, assign, duplicates;
- ``sla``: the pass that warns at 75 %, records breaches and escalates, once each;
- ``outbox``: delivery of notifications to webhooks (DingTalk, WeCom, JSON), with retries;
- ``visits``: the visit log and a site's coverage; ``groups``: officers and members.
"""
