#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for lrdist's trial-store tests (crates/search/tests/postgres.rs).
#
#   scripts/pg-test-server.sh start [PORT]   start it (default port 55432); prints its URL,
#                                           postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-test-server.sh stop [PORT]    stop it and delete its files
#
# The cluster lives in ${LRDIST_PG_DIR:-/tmp/lrdist-pg-PORT} (data, log, unix socket), trusts
# local connections and runs without fsync: test data only. As root, the server runs as the
# `postgres` user (runuser). Debian's `postgresql` package is installed with apt-get when no
# server binaries are found and we are root. Only the URL goes to stdout.
set -euo pipefail

mode=${1:-start}
port=${2:-${LRDIST_PG_PORT:-55432}}
dir=${LRDIST_PG_DIR:-/tmp/lrdist-pg-$port}

log() { echo "pg-test-server: $*" >&2; }

find_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$bin" && -x "$bin/initdb" ]]; then
        echo "$bin"
    fi
}

pg_bin() {
    local bin
    bin=${PG_BIN:-$(find_bin)}
    if [[ -z "$bin" ]]; then
        if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
            log "no PostgreSQL server found under /usr/lib/postgresql; install Debian's 'postgresql' package or set PG_BIN"
            exit 1
        fi
        log "installing Debian's postgresql package"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        bin=$(find_bin)
        [[ -n "$bin" ]] || { log "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"; exit 1; }
    fi
    echo "$bin"
}

# Runs a server command as the postgres user when we are root (initdb refuses root).
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url="postgres://postgres@127.0.0.1:$port/postgres"

case "$mode" in
start)
    bin=$(pg_bin)
    if [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
        log "already running in $dir"
        echo "$url"
        exit 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 || {
        log "initdb failed:"; cat "$dir/initdb.log" >&2; exit 1
    }
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
        start >&2; then
        log "server did not start; its log:"
        cat "$dir/server.log" >&2 || true
        exit 1
    fi
    log "running in $dir on port $port"
    echo "$url"
    ;;
stop)
    if [[ -d "$dir/data" ]]; then
        bin=$(pg_bin)
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
*)
    log "usage: $0 start|stop [PORT]"
    exit 2
    ;;
esac
