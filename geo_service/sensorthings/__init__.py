"""OGC SensorThings API 1.1, read only: the monitors and their readings for tools that speak
it (FROST's clients, QGIS's SensorThings provider, Grafana plugins).

``entities`` says what each entity set is in SQL (Things are monitors, Datastreams a monitor
times a factor, Observations the readings); ``options`` turns the query options into SQL;
``read`` answers a request. The router is ``geo_service.api.sensorthings``.
"""
