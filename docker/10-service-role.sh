#!/bin/sh
# Run once by the postgis image when it creates the database (docker-entrypoint-initdb.d):
# the role the service connects as. It owns nothing; `geo-service db up`, run as the owner,
# grants it what it needs (geo_service/grants.py), so it cannot disable the audit triggers.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$GEO_SERVICE_APP_PASSWORD" <<'SQL'
CREATE ROLE geo_service_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SQL
