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

# Prints a TCP port of 127.0.0.1 that is free now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

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

# Exports TANSU (the broker binary), installing tansu 0.6.0 into the cache when missing (or
# waiting for the install that install_tansu_in_background started).
ensure_tansu() {
    TANSU="$PAYMENT_SERVICE_CACHE/tansu/bin/tansu"
    if [ -n "${TANSU_INSTALL_PID:-}" ]; then
        log "waiting for the tansu install (log: $PAYMENT_SERVICE_CACHE/tansu-install.log)"
        wait "$TANSU_INSTALL_PID" || { tail -n 30 "$PAYMENT_SERVICE_CACHE/tansu-install.log" >&2; return 1; }
        TANSU_INSTALL_PID=
    fi
    if [ ! -x "$TANSU" ]; then
        log "installing tansu 0.6.0 with in-memory storage (once; about 15 minutes on 2 cores)"
        install_tansu
    fi
    export TANSU
}

# Builds in cargo's own temporary directory (not a CARGO_TARGET_DIR of the project's), which
# cargo removes afterwards.
install_tansu() {
    env -u CARGO_TARGET_DIR cargo install --locked --quiet tansu --version 0.6.0 --features dynostore \
        --root "$PAYMENT_SERVICE_CACHE/tansu"
}

# On a machine without tansu (and with KAFKA_BROKERS unset), starts its install in the
# background so that it builds while the project builds; ensure_broker waits for it.
install_tansu_in_background() {
    [ -z "${KAFKA_BROKERS:-}" ] || return 0
    [ ! -x "$PAYMENT_SERVICE_CACHE/tansu/bin/tansu" ] || return 0
    log "installing tansu 0.6.0 in the background while the project builds (once)"
    install_tansu >"$PAYMENT_SERVICE_CACHE/tansu-install.log" 2>&1 &
    TANSU_INSTALL_PID=$!
}

# Exports KAFKA_BROKERS. When it is unset, makes sure a local Kafka-protocol broker runs:
# tansu 0.6.0 from crates.io (in-memory storage) on 127.0.0.1:$TANSU_PORT, installed into the
# cache on first use (a long build: about 15 minutes on 2 cores). A broker this function starts
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

# Stops what ensure_broker, start_pgbouncer and start_redis started, and a background tansu
# install that was not waited for (the script failed first; the next run installs again).
# Call it from an EXIT trap.
stop_started_services() {
    if [ -n "${TANSU_INSTALL_PID:-}" ]; then
        pkill -TERM -P "$TANSU_INSTALL_PID" 2>/dev/null || true   # cargo, under the subshell
        kill "$TANSU_INSTALL_PID" 2>/dev/null || true
        wait "$TANSU_INSTALL_PID" 2>/dev/null || true
    fi
    if [ -n "${STARTED_BROKER_PID:-}" ]; then
        kill "$STARTED_BROKER_PID" 2>/dev/null || true
        wait "$STARTED_BROKER_PID" 2>/dev/null || true
    fi
    if [ -n "${STARTED_PGBOUNCER_PID:-}" ]; then
        kill "$STARTED_PGBOUNCER_PID" 2>/dev/null || true
        wait "$STARTED_PGBOUNCER_PID" 2>/dev/null || true
    fi
    if [ -n "${STARTED_REDIS_PID:-}" ]; then
        kill "$STARTED_REDIS_PID" 2>/dev/null || true
        wait "$STARTED_REDIS_PID" 2>/dev/null || true
    fi
}

# Installs Debian packages (as root, or through sudo), updating the package lists only when the
# first try fails.
apt_install() {
    local sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo -n)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
        || { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

# Makes sure `redis-server` exists (the rate-limit tests start their own on a free port),
# installing Debian's package when it is missing.
ensure_redis_server() {
    command -v redis-server >/dev/null && return 0
    log "installing Debian's redis-server"
    apt_install redis-server
}

# Makes sure `prometheus-pushgateway` exists (the relay's metrics test starts its own on a free
# port), installing Debian's package when it is missing.
ensure_pushgateway() {
    command -v prometheus-pushgateway >/dev/null && return 0
    log "installing Debian's prometheus-pushgateway"
    apt_install prometheus-pushgateway
}

# Starts a redis-server of our own on a free port (no persistence) and exports TEST_REDIS_URL;
# stop_started_services stops it.
start_redis() {
    ensure_redis_server
    local port; port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
    STARTED_REDIS_PID=$!
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    export TEST_REDIS_URL="redis://127.0.0.1:$port/"
}

# Exports CARGO_MACHETE (finds dependencies no code uses), installing it into the cache from
# crates.io when missing (about a minute, once).
ensure_machete() {
    CARGO_MACHETE="$PAYMENT_SERVICE_CACHE/machete/bin/cargo-machete"
    if [ ! -x "$CARGO_MACHETE" ]; then
        log "installing cargo-machete 0.9 into the cache (once)"
        cargo install --locked --quiet cargo-machete --version '^0.9' --root "$PAYMENT_SERVICE_CACHE/machete"
    fi
    export CARGO_MACHETE
}

# Installs PgBouncer from Debian when it is missing (as root, or through sudo).
ensure_pgbouncer() {
    PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
    [ -x "$PGBOUNCER" ] && return 0
    log "installing pgbouncer from Debian (once)"
    apt_install pgbouncer
    PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
}

# Starts PgBouncer in transaction mode on a free port of 127.0.0.1, in front of
# $PG_HOST:$PG_PORT for every database name, as RDS Proxy and hosted PostgreSQL put one;
# exports TEST_PGBOUNCER_PORT. Stopped by stop_started_services.
start_pgbouncer() {
    ensure_pgbouncer
    local dir port
    dir=$(mktemp -d /tmp/pgbouncer.XXXXXX)
    port=$(free_port)
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$PG_HOST port=$PG_PORT user=$PG_USER

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 1000
# Each test database gets its own pool: keep them small and let idle server connections go
# quickly, so dozens of test databases stay under the server's max_connections.
default_pool_size = 10
server_idle_timeout = 2
ignore_startup_parameters = extra_float_digits
# Retry a refused server login after 1 s (default 15 s), so recovery tests see it promptly.
server_login_retry = 1
logfile = $dir/pgbouncer.log
INI
    local owner=()
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd -r postgres
        chown -R postgres "$dir"
        owner=(runuser -u postgres --)
    fi
    "${owner[@]}" "$PGBOUNCER" "$dir/pgbouncer.ini" >/dev/null 2>&1 &
    STARTED_PGBOUNCER_PID=$!
    for _ in $(seq 1 50); do
        if pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
            export TEST_PGBOUNCER_PORT=$port
            log "pgbouncer (transaction mode) on 127.0.0.1:$port"
            return 0
        fi
        sleep 0.2
    done
    log "pgbouncer did not start (see $dir/pgbouncer.log)"
    return 1
}

# Exports MOTO_SERVER: moto's server (an AWS emulator from PyPI, `moto[server]`), installed
# into a venv in the cache on first use (about a minute). The terraform apply test and the
# Secrets Manager tests run it on 127.0.0.1 only.
ensure_moto() {
    local venv="$PAYMENT_SERVICE_CACHE/moto"
    if [ ! -x "$venv/bin/moto_server" ]; then
        log "installing moto[server] 5.2.5 into $venv (once)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet 'moto[server]==5.2.5'
    fi
    export MOTO_SERVER="$venv/bin/moto_server"
}

# Prints the path of a Python 3.12 or newer: python3.x on PATH, then pyenv's versions.
# (Under CPython 3.11, hypothesis fails inside schemathesis with "SystemError: AST constructor
# recursion depth mismatch".)
find_python_3_12() {
    local py
    for py in python3.14 python3.13 python3.12 python3 \
        $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
        if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$py"
            return 0
        fi
    done
    return 1
}

# Exports SCHEMATHESIS: the `st` command of schemathesis 4.32.5 (PyPI), installed into a venv
# in the cache on first use (about a minute).
ensure_schemathesis() {
    local venv="$PAYMENT_SERVICE_CACHE/schemathesis-4.32.5"
    if [ ! -x "$venv/bin/st" ]; then
        local python
        python=$(find_python_3_12) || { log "schemathesis needs Python 3.12 or newer; none found"; return 1; }
        log "installing schemathesis 4.32.5 into $venv with $python (once)"
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'
    fi
    export SCHEMATHESIS="$venv/bin/st"
}

# Starts moto on a free port of 127.0.0.1; exports AWS_ENDPOINT_URL and MOTO_PID (stop it with
# `kill "$MOTO_PID"`).
start_moto() {
    ensure_moto
    local port
    port=$(free_port)
    "$MOTO_SERVER" -H 127.0.0.1 -p "$port" >"$PAYMENT_SERVICE_CACHE/moto-$port.log" 2>&1 &
    MOTO_PID=$!
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        curl -sf "$AWS_ENDPOINT_URL/moto-api/config" >/dev/null && return 0
        sleep 0.2
    done
    log "moto did not start on port $port (see $PAYMENT_SERVICE_CACHE/moto-$port.log)"
    return 1
}
