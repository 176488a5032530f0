#!/usr/bin/env bash
# The contacts API side by side with the Fastify reference: runs ../shared/bench/compare.py on a fresh database.
#
#   bench/compare.sh postgresql://postgres@127.0.0.1:5432/postgres [compare.py options, e.g. --seconds 5]
#
# The argument is a server's maintenance database URL: a scratch database is created there (the service migrates
# it on start) and dropped afterwards. Needs wrk (apt-get install wrk), node and npm. shared/ is read-only here,
# so the reference is copied to a temporary folder for its `npm ci`.
set -euo pipefail

server_url=${1:?usage: bench/compare.sh POSTGRES_SERVER_URL [compare.py options]}
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
shared_bench="$repo/../shared/bench"
venv_bin="$repo/.venv/bin"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
command -v npm >/dev/null || { echo "node and npm are missing" >&2; exit 2; }

work=$(mktemp -d)
database="ri_compare_$(date +%s)"
database_url="${server_url%/*}/$database"

admin_sql() {  # one statement on the server's maintenance database
  "$venv_bin/python" -c '
import asyncio, sys, asyncpg
async def run(url, sql):
    connection = await asyncpg.connect(url)
    await connection.execute(sql)
    await connection.close()
asyncio.run(run(*sys.argv[1:]))' "$server_url" "$1"
}
cleanup() {
  admin_sql "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

cp -r "$shared_bench/compare.py" "$shared_bench/fastify-ref" "$work/"
chmod -R u+w "$work"
(cd "$work/fastify-ref" && npm ci --silent --no-audit --no-fund >/dev/null)
admin_sql "CREATE DATABASE $database"

# As production runs: compare.py turns the access log on (LOG_LEVEL=INFO, LOG_FORMAT=json, to a file) unless these
# are set; the reference logs nothing (logger: false).
python3 "$work/compare.py" \
  --database-url "$database_url" \
  --project-cmd "$venv_bin/reachimpact serve --host 127.0.0.1 --port {port} --workers 1" \
  "$@" 2> >(grep -v -e '^\[INFO\]' >&2)
