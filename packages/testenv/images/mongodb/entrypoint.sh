#!/bin/sh
# The official mongo image's contract, for FerretDB: MONGO_INITDB_ROOT_USERNAME/_PASSWORD
# create a SCRAM user in `admin` on first start, data in /data/db, port 27017.
set -eu
if [ "${1:-}" = mongod ]; then
  if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then
    export FERRETDB_TEST_ENABLE_NEW_AUTH=true
    export FERRETDB_SETUP_DATABASE=admin
    export FERRETDB_SETUP_USERNAME="$MONGO_INITDB_ROOT_USERNAME"
    export FERRETDB_SETUP_PASSWORD="${MONGO_INITDB_ROOT_PASSWORD:-}"
  fi
  exec /usr/local/bin/ferretdb -listen-addr=:27017 -sqlite-url=file:/data/db/ -log-level=warn
fi
exec "$@"
