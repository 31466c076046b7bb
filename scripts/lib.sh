# Shared helpers of the project's scripts: find or start what the tests and the demo need.
# Source it; it does nothing by itself.

# Where tools built once live (diesel CLI, tansu, the CI target dir): outside any clone.
PAYMENT_SERVICE_CACHE=${PAYMENT_SERVICE_CACHE:-/var/cache/payment-service}
mkdir -p "$PAYMENT_SERVICE_CACHE" 2>/dev/null || PAYMENT_SERVICE_CACHE="$HOME/.cache/payment-service"
mkdir -p "$PAYMENT_SERVICE_CACHE"
export PAYMENT_SERVICE_CACHE

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}

log() { printf '==> %s\n' "$*" >&2; }

# Makes sure a PostgreSQL server answers on $PG_HOST:$PG_PORT: starts the machine's cluster
# when it is stopped, or creates a throwaway cluster with initdb when there is none.
ensure_postgres() {
    if pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
        :
    elif command -v pg_lsclusters >/dev/null && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
        log "starting the machine's PostgreSQL cluster"
        pg_lsclusters -h | while read -r version name _; do
            pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start || true
        done
    else
        local initdb pgdata="$PAYMENT_SERVICE_CACHE/pgdata"
        initdb=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -n 1)
        [ -n "$initdb" ] || { log "no PostgreSQL server and no initdb: install postgresql"; return 1; }
        local bindir; bindir=$(dirname "$initdb")
        if [ ! -f "$pgdata/PG_VERSION" ]; then
            log "creating a throwaway PostgreSQL cluster in $pgdata"
            local owner=()
            [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd -r postgres; chown -R postgres "$PAYMENT_SERVICE_CACHE"; owner=(runuser -u postgres --); }
            mkdir -p "$pgdata" && [ "$(id -u)" = 0 ] && chown postgres "$pgdata"
            "${owner[@]}" "$initdb" -D "$pgdata" -U "$PG_USER" --auth=trust >/dev/null
        fi
        local owner=(); [ "$(id -u)" = 0 ] && owner=(runuser -u postgres --)
        "${owner[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
            -o "-h $PG_HOST -p $PG_PORT -k /tmp" start >/dev/null
    fi
    for _ in $(seq 1 30); do
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && return 0
        sleep 1
    done
    log "PostgreSQL did not become ready on $PG_HOST:$PG_PORT"
    return 1
}

# Exports DIESEL_CLI, installing diesel_cli (postgres only) into the cache when missing.
ensure_diesel_cli() {
    if [ -n "${DIESEL_CLI:-}" ] && [ -x "$DIESEL_CLI" ]; then return 0; fi
    if command -v diesel >/dev/null; then DIESEL_CLI=$(command -v diesel); export DIESEL_CLI; return 0; fi
    DIESEL_CLI="$PAYMENT_SERVICE_CACHE/diesel/bin/diesel"
    if [ ! -x "$DIESEL_CLI" ]; then
        log "installing diesel_cli (once; a few minutes)"
        cargo install --locked diesel_cli --version '^2.3' --no-default-features --features postgres \
            --root "$PAYMENT_SERVICE_CACHE/diesel"
    fi
    export DIESEL_CLI
}

# Drops the databases earlier test runs left behind.
drop_test_databases() {
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -Atc \
        "SELECT datname FROM pg_database WHERE datname LIKE 'pstest\_%'" 2>/dev/null |
        while read -r db; do dropdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" --if-exists "$db" || true; done
}

# Exports TANSU (the broker binary), installing tansu 0.6.0 into the cache when missing.
ensure_tansu() {
    TANSU="$PAYMENT_SERVICE_CACHE/tansu/bin/tansu"
    if [ ! -x "$TANSU" ]; then
        log "installing tansu 0.6.0 with in-memory storage (once; about 25 minutes on 2 cores)"
        cargo install --locked tansu --version 0.6.0 --features dynostore --root "$PAYMENT_SERVICE_CACHE/tansu"
    fi
    export TANSU
}

# Exports KAFKA_BROKERS. When it is unset, makes sure a local Kafka-protocol broker runs:
# tansu 0.6.0 from crates.io (in-memory storage) on 127.0.0.1:$TANSU_PORT, installed into the
# cache on first use (a long build: about 25 minutes on 2 cores). A broker this function starts
# is stopped by stop_started_services.
ensure_broker() {
    if [ -n "${KAFKA_BROKERS:-}" ]; then return 0; fi
    local port=${TANSU_PORT:-19092}
    ensure_tansu
    local tansu=$TANSU
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        log "starting tansu on 127.0.0.1:$port"
        "$tansu" broker --storage-engine memory://tansu/ \
            --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
            >"$PAYMENT_SERVICE_CACHE/tansu.log" 2>&1 &
        STARTED_BROKER_PID=$!
        for _ in $(seq 1 50); do
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            sleep 0.2
        done
    fi
    export KAFKA_BROKERS="127.0.0.1:$port"
}

# Stops what ensure_broker started (call it from an EXIT trap).
stop_started_services() {
    if [ -n "${STARTED_BROKER_PID:-}" ]; then
        kill "$STARTED_BROKER_PID" 2>/dev/null || true
        wait "$STARTED_BROKER_PID" 2>/dev/null || true
    fi
}
