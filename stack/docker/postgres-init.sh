#!/usr/bin/env bash
# First start of the postgres:15 container: the application role and database, as stack/up.sh creates them.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -v pw="$POTHOLE_DB_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE pothole_user LOGIN PASSWORD :'pw';
CREATE DATABASE road_safety OWNER pothole_user;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname road_safety -c 'ALTER SCHEMA public OWNER TO pothole_user'
