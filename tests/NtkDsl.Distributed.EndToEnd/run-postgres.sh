#!/usr/bin/env bash
# run.sh on Orleans' ADO.NET membership on PostgreSQL (the README's production configuration) instead of development
# clustering: starts a throwaway PostgreSQL server on loopback, creates Orleans' tables with Orleans' own scripts, and
# runs run.sh (three silo processes and a client, one silo killed mid-run, the result checked bit for bit).
# Usage: bash tests/NtkDsl.Distributed.EndToEnd/run-postgres.sh <dir>
#   <dir> holds PostgreSQL-Main.sql and PostgreSQL-Clustering.sql from github.com/dotnet/orleans
#   (src/AdoNet/Shared/ and src/AdoNet/Orleans.Clustering.AdoNet/); PostgreSQL's server binaries must be installed.
set -uo pipefail
sql=${1:?usage: run-postgres.sh <dir with Orleans PostgreSQL-Main.sql and PostgreSQL-Clustering.sql>}
for f in PostgreSQL-Main.sql PostgreSQL-Clustering.sql; do [ -f "$sql/$f" ] || { echo "fail e2e-postgres: $sql/$f not found"; exit 1; }; done
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "fail e2e-postgres: no PostgreSQL server binaries under /usr/lib/postgresql"; exit 1; }

pg=$(mktemp -d)
# The server refuses to run as root: as root, run it as the postgres user.
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pg"
port=$((41000 + RANDOM % 2000))
stop() { as_server "$bin/pg_ctl" -D "$pg/data" -m immediate stop >/dev/null 2>&1; rm -rf "$pg"; }
trap stop EXIT
as_server "$bin/initdb" -D "$pg/data" -A trust -U ntk >"$pg/initdb.log" 2>&1 || { cat "$pg/initdb.log"; echo "fail e2e-postgres: initdb"; exit 1; }
as_server "$bin/pg_ctl" -D "$pg/data" -o "-p $port -k $pg -c listen_addresses=127.0.0.1" -l "$pg/server.log" -w start >/dev/null ||
  { cat "$pg/server.log"; echo "fail e2e-postgres: server did not start"; exit 1; }
psql=(psql -q -h 127.0.0.1 -p "$port" -U ntk -v ON_ERROR_STOP=1)
"${psql[@]}" -d postgres -c "create database orleans" >/dev/null || { echo "fail e2e-postgres: create database"; exit 1; }
"${psql[@]}" -d orleans -f "$sql/PostgreSQL-Main.sql" -f "$sql/PostgreSQL-Clustering.sql" >"$pg/schema.log" 2>&1 ||
  { cat "$pg/schema.log"; echo "fail e2e-postgres: Orleans' schema scripts"; exit 1; }
echo "PostgreSQL on 127.0.0.1:$port with Orleans' membership tables"

export NTK_POSTGRES="Host=127.0.0.1;Port=$port;Username=ntk;Database=orleans"
bash "$(dirname "$0")/run.sh"
status=$?
echo "membership rows: $("${psql[@]}" -d orleans -tA -c "select count(*) from orleansmembershiptable")"
exit $status
