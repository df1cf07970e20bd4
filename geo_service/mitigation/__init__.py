"""Mitigation programmes (sound-insulation windows, ventilators, temporary rehousing, ...):
a programme per site with an eligibility rule over the impact model's predictions, a case
per eligible household walked along ``eligible → surveyed → offered → agreed | declined →
scheduled → installed → verified → closed``, and the funnel.

Framework-free, beside ``geo_service.impact`` whose list values the rules compare. By
concern: ``states`` the transitions as data, ``programmes`` the programmes, their rule and
enrolment, ``cases`` the case lists and steps, ``funnel`` the one query that counts them.
``states`` is data only, so ``geo_service.own_tables`` reads it while the schema is built;
callers import the other modules themselves (they read the schema).
"""
