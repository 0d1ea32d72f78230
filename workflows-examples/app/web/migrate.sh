#!/bin/sh
# Plain-SQL migrations: applies /app/migrations/*.sql in name order, each exactly once and
# each in one transaction together with its row in schema_migrations. Re-running is a no-op;
# a failing file leaves the schema as it was. Connection settings come from DATABASE_URL
# when it is set (e.g. a managed database), else from the PG* variables.
set -eu
export PGOPTIONS='-c client_min_messages=warning'
q() { psql ${DATABASE_URL:+"$DATABASE_URL"} -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }
q -c 'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())'
applied=0
for file in /app/migrations/*.sql; do
  version=$(basename "$file" .sql)
  case "$version" in *[!A-Za-z0-9_-]*) echo "bad migration name: $version" >&2; exit 1 ;; esac
  if [ -n "$(q -c "SELECT 1 FROM schema_migrations WHERE version = '$version'")" ]; then
    continue
  fi
  echo "applying $version"
  q --single-transaction -f "$file" -c "INSERT INTO schema_migrations (version) VALUES ('$version')"
  applied=$((applied + 1))
done
echo "migrations: $applied applied, now at $(q -c 'SELECT max(version) FROM schema_migrations')"
