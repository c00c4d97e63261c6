#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on a loopback port for the `postgres` tests, as
# the `postgres` user (initdb refuses root), and prints the URL to export as
# ACL_POSTGRES_URL. Installs Debian's server when it is missing.
#   .ci/postgres.sh start [PORT] [DIR]   (default 55432, /tmp/acl-pg)
#   .ci/postgres.sh stop [DIR]
set -euo pipefail
action=${1:-start}
if [ "$action" = stop ]; then
  dir=${2:-/tmp/acl-pg}
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -m immediate stop" >/dev/null 2>&1 || true
  exit 0
fi
port=${2:-55432}
dir=${3:-/tmp/acl-pg}
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
rm -rf "$dir"
mkdir -p "$dir"
chown postgres "$dir"
su postgres -s /bin/sh -c "$bin/initdb -D '$dir/data' -U postgres -A trust --no-sync" >/dev/null
su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -l '$dir/log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=on -c max_connections=200\" start" >/dev/null
"$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE acl_test" >/dev/null
echo "postgres://postgres@127.0.0.1:$port/acl_test"
