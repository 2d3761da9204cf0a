# shellcheck shell=bash
# Shared functions for script/server, script/test, script/db and script/package-test. Source
# it from bash.
#
# Everything the local stack writes lives under var/ in the tree: the MariaDB datadir,
# logs, the generated configuration files, pid files and sockets. Daemons are stopped by
# the PIDs in their pid files only, after checking that the PID still names the program
# we started.

# The tree root, whatever directory the caller runs from.
LL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
LL_VAR=$LL_ROOT/var
LL_LOG=$LL_VAR/log
LL_PORT=${LEADLISTS_PORT:-8080}

# Sockets and pid files. A Unix socket path must fit sun_path (108 bytes with its NUL);
# the longest name placed here is "leadlists.sock", so a deep tree falls back to a private
# directory under /tmp named after the tree, the same on every run.
LL_RUN=$LL_VAR/run
LL_RUN_FALLBACK=no
if [ "${#LL_RUN}" -gt 90 ]; then
    LL_RUN=/tmp/leadlists-$(id -u)-$(printf '%s' "$LL_ROOT" | cksum | cut -d' ' -f1)
    LL_RUN_FALLBACK=yes
fi

LL_CONF=$LL_VAR/leadlists.conf
LL_MIGRATE_CONF=$LL_VAR/migrate.conf
LL_STACK_ENV=$LL_VAR/stack.env
LL_CTL=$LL_ROOT/src/leadlistsctl
LL_WORKER_BIN=$LL_ROOT/src/leadlists-fcgi
# The binary the pool runs: $LEADLISTS_WORKER_BIN (an ASan build, say), or the one built here.
LL_POOL_BIN=${LEADLISTS_WORKER_BIN:-$LL_WORKER_BIN}
case $LL_POOL_BIN in /*) ;; *) LL_POOL_BIN=$PWD/$LL_POOL_BIN ;; esac

LL_DB_DATADIR=$LL_VAR/mysql
LL_DB_SOCKET=$LL_RUN/mysqld.sock
LL_DB_PIDFILE=$LL_RUN/mysqld.pid
LL_DB_ERRLOG=$LL_LOG/mysqld.err
LL_DB_NAME=leadlists
LL_DB_USER=leadlists
LL_DB_PASSWORD_FILE=$LL_VAR/db-password
LL_CURSOR_KEY_FILE=$LL_VAR/cursor-key

LL_FCGI_SOCKET=$LL_RUN/leadlists.sock
LL_WORKER_PIDFILE=$LL_RUN/workers.pid
LL_POOL_PIDFILE=$LL_RUN/pool.pid
LL_SUPERVISOR_PIDFILE=$LL_RUN/supervisor.pid
LL_WORKER_LOG=$LL_LOG/worker.log

LL_NGINX_DIR=$LL_VAR/nginx
LL_NGINX_CONF=$LL_NGINX_DIR/nginx.conf
LL_NGINX_PIDFILE=$LL_RUN/nginx.pid
LL_NGINX_ERRLOG=$LL_LOG/nginx-error.log

LL_PACKAGES="build-essential autoconf automake libtool pkg-config libfcgi-dev libyajl-dev
default-libmysqlclient-dev libssl-dev check mariadb-server mariadb-client nginx-light
spawn-fcgi curl perl wrk"

ll_say() { printf '==> %s\n' "$*"; }
ll_warn() { printf 'warning: %s\n' "$*" >&2; }
ll_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

ll_is_root() { [ "$(id -u)" -eq 0 ]; }

# Prints the last lines of a log file, for error messages that point at it.
ll_tail() {
    [ -r "$1" ] || return 0
    printf -- '--- last lines of %s ---\n' "$1" >&2
    tail -n "${2:-20}" "$1" >&2
}

# --- Packages ------------------------------------------------------------------------------

ll_missing_packages() {
    local pkg status
    for pkg in $LL_PACKAGES; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = installed ] || printf '%s\n' "$pkg"
    done
}

# apt-get update and install of PACKAGES, with a policy-rc.d that refuses every service
# start while it runs: the system's own mariadb and nginx are not started by their packages'
# postinst scripts (the stack runs private instances and needs neither). An existing
# policy-rc.d is left as is. Returns apt-get's status.
ll_apt_install() {
    local policy=/usr/sbin/policy-rc.d made_policy=no rc=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# Temporary, from leadlists script/lib.sh: no service starts during apt-get.\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        made_policy=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -q -y \
            --no-install-recommends "$@" || rc=$?
    [ "$made_policy" = no ] || rm -f "$policy"
    return "$rc"
}

# Installs what $LL_PACKAGES lacks, and nothing (not even `apt-get update`) when all is there.
ll_install_packages() {
    local missing rc=0
    missing=$(ll_missing_packages | tr '\n' ' ')
    missing=${missing% }
    [ -n "$missing" ] || return 0
    ll_is_root || ll_die "missing packages: $missing (run this as root, or install them with apt-get)"
    ll_say "installing: $missing"
    # shellcheck disable=SC2086 # one word per package
    ll_apt_install $missing || rc=$?
    [ "$rc" -eq 0 ] || ll_die "apt-get failed (exit $rc)"
}

# --- Build ---------------------------------------------------------------------------------

# The flags configure is run with: $LEADLISTS_CONFIGURE_FLAGS, split on white space.
ll_configure_flags() {
    # shellcheck disable=SC2086 # splitting is the point
    set -- ${LEADLISTS_CONFIGURE_FLAGS:-}
    [ "$#" -eq 0 ] || printf '%s\n' "$@"
}

# True when the tree must be (re)configured: never configured, configure regenerated
# since, or configured with other flags than the ones asked for now.
ll_need_configure() {
    local -a have
    [ -f Makefile ] && [ -x config.status ] || return 0
    [ configure -nt config.status ] && return 0
    # config.status prints the arguments shell-quoted.
    eval "have=($(./config.status --config))"
    [ "$(ll_configure_flags)" != "$([ "${#have[@]}" -eq 0 ] || printf '%s\n' "${have[@]}")" ]
}

# Bootstraps, configures and builds in the tree root. Returns non-zero on failure.
ll_build() {
    local flags
    mapfile -t flags < <(ll_configure_flags)
    (
        cd "$LL_ROOT" || exit 1
        if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
            ll_say "bootstrap"
            ./bootstrap || exit 1
        fi
        if ll_need_configure; then
            ll_say "configure ${flags[*]}"
            ./configure "${flags[@]}" || exit 1
        fi
        ll_say "make"
        make -j2 || exit 1
    )
}

# --- Processes -----------------------------------------------------------------------------

# True when PID is alive (not a zombie) and runs the program NAME (its /proc comm), so a
# PID reused by something else is never taken for ours.
ll_pid_alive() {
    local name=$1 pid=$2 comm state rest
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$comm" = "$name" ] || return 1
    read -r _ _ state rest 2>/dev/null <"/proc/$pid/stat" || return 1
    [ "$state" != Z ]
}

# Prints the PIDs listed in PIDFILE that are alive and still run NAME. A pid file left
# behind by a process that is gone yields nothing.
ll_live_pids() {
    local name=$1 file=$2 pid
    # The daemons remove their own pid files as they exit: a missing file is normal.
    # spawn-fcgi ends its last line without a newline: read words, not lines.
    # shellcheck disable=SC2013
    for pid in $(cat "$file" 2>/dev/null); do
        case $pid in '' | *[!0-9]*) continue ;; esac
        if ll_pid_alive "$name" "$pid"; then printf '%s\n' "$pid"; fi
    done
}

ll_running() { [ -n "$(ll_live_pids "$1" "$2")" ]; }

# Prints those of the PIDs given that are still alive and run NAME.
ll_alive_of() {
    local name=$1 pid
    shift
    for pid in "$@"; do
        if ll_pid_alive "$name" "$pid"; then printf '%s\n' "$pid"; fi
    done
}

# Sends SIGNAL to NAME's processes from PIDFILE and waits up to TIMEOUT seconds for them
# to exit, then uses SIGKILL. The PIDs are read once: the daemons delete their pid files
# before they have finished exiting.
ll_stop_pids() {
    local name=$1 file=$2 signal=$3 timeout=$4 i
    local -a pids
    mapfile -t pids < <(ll_live_pids "$name" "$file")
    if [ "${#pids[@]}" -gt 0 ]; then
        kill -s "$signal" "${pids[@]}" 2>/dev/null || true
        for ((i = 0; i < timeout * 10; i++)); do
            [ -n "$(ll_alive_of "$name" "${pids[@]}")" ] || break
            sleep 0.1
        done
        mapfile -t pids < <(ll_alive_of "$name" "${pids[@]}")
        if [ "${#pids[@]}" -gt 0 ]; then
            ll_warn "$name did not stop within ${timeout}s; sending SIGKILL to ${pids[*]}"
            kill -s KILL "${pids[@]}" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                [ -n "$(ll_alive_of "$name" "${pids[@]}")" ] || break
                sleep 0.1
            done
        fi
    fi
    rm -f "$file"
}

# Runs a command in its own session, detached from the terminal, so that Ctrl-C in the
# terminal reaches script/server only, which then stops everything in order.
ll_spawn() {
    setsid "$@" </dev/null &
}

ll_make_dirs() {
    mkdir -p "$LL_VAR" "$LL_LOG" "$LL_NGINX_DIR/tmp"
    if [ "$LL_RUN_FALLBACK" = yes ]; then
        # A fixed name under /tmp: refuse one that someone else made.
        mkdir -m 0700 "$LL_RUN" 2>/dev/null || true
        if [ ! -d "$LL_RUN" ] || [ -L "$LL_RUN" ] || [ ! -O "$LL_RUN" ]; then
            ll_die "$LL_RUN is not a directory owned by $(id -un)"
        fi
    else
        mkdir -p "$LL_RUN"
    fi
}

# --- Configuration -------------------------------------------------------------------------

# Sets KEY's value in FILE, which must already have a `KEY = value` line.
ll_conf_set() {
    local file=$1 key=$2 value=$3 escaped
    grep -q "^[[:space:]]*${key}[[:space:]]*=" "$file" || ll_die "$file: no '$key' line to set"
    escaped=$(printf '%s' "$value" | sed 's/[\\|&]/\\&/g')
    sed -i "s|^[[:space:]]*${key}[[:space:]]*=.*|$key = $escaped|" "$file"
}

ll_conf_get() {
    sed -n "s/^[[:space:]]*${2}[[:space:]]*=[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p" "$1" | tail -n 1
}

# var/cursor-key (mode 0600): the key that signs the list's page cursors, made once, so
# cursors stay valid across restarts of the stack.
ll_cursor_key() {
    if [ ! -s "$LL_CURSOR_KEY_FILE" ]; then
        (
            umask 077
            head -c 32 /dev/urandom | base64 >"$LL_CURSOR_KEY_FILE"
        )
    fi
    chmod 0600 "$LL_CURSOR_KEY_FILE"
}

# var/leadlists.conf: conf/leadlists.conf with the paths of this stack.
ll_write_conf() {
    local tmp=$LL_CONF.tmp
    {
        printf '# Generated by script/server from conf/leadlists.conf, with the paths of the local stack.\n'
        printf '# Edit conf/leadlists.conf instead: this file is rewritten on every start.\n\n'
        cat "$LL_ROOT/conf/leadlists.conf"
    } >"$tmp"
    ll_conf_set "$tmp" db_socket "$LL_DB_SOCKET"
    ll_conf_set "$tmp" db_name "$LL_DB_NAME"
    ll_conf_set "$tmp" db_user "$LL_DB_USER"
    ll_conf_set "$tmp" db_password_file "$LL_DB_PASSWORD_FILE"
    ll_conf_set "$tmp" fcgi_socket "$LL_FCGI_SOCKET"
    ll_conf_set "$tmp" log stderr
    ll_conf_set "$tmp" migrations_dir "$LL_ROOT/sql"
    ll_conf_set "$tmp" cursor_key_file "$LL_CURSOR_KEY_FILE"
    ll_cursor_key
    mv "$tmp" "$LL_CONF"
}

# var/migrate.conf: the same, but as the database's administrator. The service account
# gets only SELECT, INSERT, UPDATE and DELETE (see ll_db_setup); schema changes are made
# by the account mariadb-install-db created for the user running the stack, which logs in
# through the Unix socket without a password (unix_socket authentication).
ll_write_migrate_conf() {
    sed '/^[[:space:]]*db_password_file[[:space:]]*=/d' "$LL_CONF" >"$LL_MIGRATE_CONF.tmp"
    ll_conf_set "$LL_MIGRATE_CONF.tmp" db_user "$(id -un)"
    mv "$LL_MIGRATE_CONF.tmp" "$LL_MIGRATE_CONF"
}

# --- MariaDB -------------------------------------------------------------------------------

# The private server's options. --no-defaults keeps the system's my.cnf out;
# --skip-networking leaves TCP (and port 3306) to whoever else wants it. Character set
# and sql_mode are those of Debian's packaged server, so tests see what production sees.
ll_db_server_args() {
    printf '%s\n' --no-defaults \
        "--datadir=$LL_DB_DATADIR" \
        "--socket=$LL_DB_SOCKET" \
        "--pid-file=$LL_DB_PIDFILE" \
        "--log-error=$LL_DB_ERRLOG" \
        --skip-networking \
        --innodb-flush-log-at-trx-commit=1 \
        --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_general_ci \
        --sql-mode=STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION
    # mariadbd refuses to run as root unless told to.
    if ll_is_root; then printf '%s\n' --user=root; fi
}

# The administrator's client, as the OS user (unix_socket authentication).
ll_mariadb() {
    mariadb --no-defaults --protocol=socket "--socket=$LL_DB_SOCKET" "--user=$(id -un)" "$@"
}

ll_db_ping() {
    mariadb-admin --no-defaults --protocol=socket "--socket=$LL_DB_SOCKET" "--user=$(id -un)" \
        --connect-timeout=1 ping >/dev/null 2>&1
}

ll_db_running() { ll_running mariadbd "$LL_DB_PIDFILE"; }

# Creates the datadir on the first run only.
ll_db_init() {
    [ -d "$LL_DB_DATADIR/mysql" ] && return 0
    ll_say "creating the MariaDB datadir in $LL_DB_DATADIR"
    # Administrators: root and the user running the stack, both through unix_socket
    # authentication (the OS user is the credential; no password exists to leak).
    local args=(--no-defaults "--datadir=$LL_DB_DATADIR" --auth-root-authentication-method=socket
        "--auth-root-socket-user=$(id -un)" --skip-test-db)
    if ll_is_root; then args+=(--user=root); fi
    if ! mariadb-install-db "${args[@]}" >"$LL_LOG/mariadb-install-db.log" 2>&1; then
        ll_tail "$LL_LOG/mariadb-install-db.log"
        rm -rf "$LL_DB_DATADIR"
        ll_die "mariadb-install-db failed (log: $LL_LOG/mariadb-install-db.log)"
    fi
}

# Starts the private server and waits until it answers on its socket.
ll_db_start() {
    local args pid i
    ll_make_dirs
    if ll_db_running; then
        ll_say "MariaDB already running (pid $(ll_live_pids mariadbd "$LL_DB_PIDFILE"))"
        return 0
    fi
    [ -d "$LL_DB_DATADIR/mysql" ] || ll_die "no datadir in $LL_DB_DATADIR: run script/server first"
    mapfile -t args < <(ll_db_server_args)
    ll_spawn mariadbd "${args[@]}" >>"$LL_LOG/mysqld.out" 2>&1
    pid=$!
    for ((i = 0; i < 600; i++)); do
        ll_db_ping && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            ll_tail "$LL_DB_ERRLOG"
            ll_die "MariaDB exited during start-up (log: $LL_DB_ERRLOG)"
        fi
        sleep 0.1
    done
    ll_tail "$LL_DB_ERRLOG"
    ll_die "MariaDB did not answer on $LL_DB_SOCKET within 60s (log: $LL_DB_ERRLOG)"
}

# Stops it by the PID in its pid file (SIGTERM is a clean shutdown) and waits until gone.
ll_db_stop() {
    ll_stop_pids mariadbd "$LL_DB_PIDFILE" TERM 60
}

# The database and the service account. The password is made once and kept in
# var/db-password (mode 0600); the account is (re)set to it on every start.
ll_db_setup() {
    local password
    if [ ! -s "$LL_DB_PASSWORD_FILE" ]; then
        (
            umask 077
            head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LL_DB_PASSWORD_FILE"
        )
    fi
    chmod 0600 "$LL_DB_PASSWORD_FILE"
    password=$(cat "$LL_DB_PASSWORD_FILE")
    ll_mariadb --batch <<SQL
CREATE DATABASE IF NOT EXISTS \`$LL_DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS '$LL_DB_USER'@'localhost' IDENTIFIED BY '$password';
ALTER USER '$LL_DB_USER'@'localhost' IDENTIFIED BY '$password';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$LL_DB_NAME\`.* TO '$LL_DB_USER'@'localhost';
SQL
}

ll_db_migrate() {
    ll_write_migrate_conf
    ll_say "applying migrations from sql/"
    # The administrator logs in without a password; a password in the environment
    # (for instance from a sourced var/stack.env) would be sent instead.
    env -u LEADLISTS_DB_PASSWORD "$LL_CTL" -c "$LL_MIGRATE_CONF" db migrate --dir "$LL_ROOT/sql"
}

# --- Workers -------------------------------------------------------------------------------
#
# conf/leadlists-pool (the supervisor) runs conf/spawn-fcgi (spawn-fcgi binds the socket and
# execs the pool process, leadlists-fcgi, which forks the workers and keeps them alive) and
# starts it again whenever the pool exits. Pid files: LL_SUPERVISOR_PIDFILE (leadlists-pool),
# LL_POOL_PIDFILE (the pool process) and LL_WORKER_PIDFILE (the current workers, kept up to
# date by the supervisor).

# The pool's request deadline, for how long a stop may take.
ll_stop_timeout() {
    local t
    t=$(ll_conf_get "$LL_CONF" request_timeout 2>/dev/null)
    case $t in '' | *[!0-9]*) t=10 ;; esac
    printf '%s\n' $((t + 10))
}

# The pool process's name: its binary's (the kernel keeps 15 characters).
ll_pool_comm() {
    local name=${LL_POOL_BIN##*/}
    printf '%s\n' "${name:0:15}"
}

# Prints the PIDs of the pool's workers: the live children of the pool process named in
# LL_POOL_PIDFILE.
ll_pool_workers() {
    local mw kid comm
    mw=$(ll_live_pids "$(ll_pool_comm)" "$LL_POOL_PIDFILE")
    [ -n "$mw" ] || return 0
    # shellcheck disable=SC2013 # words, not lines
    for kid in $(cat /proc/"$mw"/task/*/children 2>/dev/null); do
        comm=$(cat "/proc/$kid/comm" 2>/dev/null) || continue
        if ll_pid_alive "$comm" "$kid"; then printf '%s\n' "$kid"; fi
    done
}

ll_workers_running() {
    ll_running leadlists-pool "$LL_SUPERVISOR_PIDFILE" || ll_running "$(ll_pool_comm)" "$LL_POOL_PIDFILE" ||
        ll_running leadlists-fcgi "$LL_WORKER_PIDFILE"
}

# Starts the supervisor in its own session and waits until the pool has all its workers and
# they stay up for a moment (a worker that cannot start exits at once).
ll_workers_start() {
    local workers group='' n pids stable='' deadline
    workers=$(ll_conf_get "$LL_CONF" workers)
    workers=${workers:-8}
    [ -x "$LL_POOL_BIN" ] || ll_die "no executable worker binary $LL_POOL_BIN (LEADLISTS_WORKER_BIN)"
    # The socket is group-owned by the caller's primary group: spawn-fcgi creates it so. -G
    # (root only) names it explicitly, except group 0, which spawn-fcgi refuses to set.
    if ll_is_root && [ "$(id -g)" -ne 0 ]; then group=$(id -gn); fi
    ll_say "starting $workers workers on $LL_FCGI_SOCKET (leadlists-pool)"
    [ "$LL_POOL_BIN" = "$LL_WORKER_BIN" ] || ll_say "worker binary: $LL_POOL_BIN"
    rm -f "$LL_POOL_PIDFILE"
    # No descriptor of the caller's (a test harness's pipe, say) may stay open in the pool,
    # and the password comes from db_password_file, as it does in a packaged install.
    (
        for fd in "/proc/$BASHPID/fd/"*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec env -u LEADLISTS_DB_PASSWORD setsid "$LL_ROOT/conf/leadlists-pool" \
            -P "$LL_SUPERVISOR_PIDFILE" -p "$LL_POOL_PIDFILE" -w "$LL_WORKER_PIDFILE" \
            -t "$(ll_stop_timeout)" ${group:+-g "$group"} \
            "$LL_POOL_BIN" "$LL_CONF" "$LL_FCGI_SOCKET" "$workers"
    ) </dev/null >>"$LL_WORKER_LOG" 2>&1 &
    deadline=$((SECONDS + 20))
    while [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
        pids=$(ll_pool_workers | sort -n | tr '\n' ' ')
        n=$(printf '%s' "$pids" | wc -w)
        if [ "$n" -eq "$workers" ]; then
            # The same workers half a second later: they did not die at start.
            if [ "$pids" = "$stable" ]; then
                return 0
            fi
            stable=$pids
            sleep 0.4
        else
            stable=''
        fi
    done
    ll_tail "$LL_WORKER_LOG"
    ll_workers_stop
    ll_die "the pool did not keep $workers workers running (log: $LL_WORKER_LOG)"
}

# Stops a pool whose supervisor is gone: it passes each SIGTERM on to its workers.
ll_pool_stop_orphan() {
    local mw timeout i
    local -a kids
    mw=$(ll_live_pids "$(ll_pool_comm)" "$LL_POOL_PIDFILE")
    [ -n "$mw" ] || return 0
    timeout=$(ll_stop_timeout)
    mapfile -t kids < <(ll_pool_workers)
    ll_warn "the pool $mw runs without its supervisor: stopping it"
    kill -TERM "$mw" 2>/dev/null || true
    sleep 0.1
    for ((i = 0; i < timeout * 10; i++)); do
        ll_pid_alive "$(ll_pool_comm)" "$mw" || break
        if [ $((i % 10)) -eq 0 ]; then kill -TERM "$mw" 2>/dev/null || true; fi
        sleep 0.1
    done
    if ll_pid_alive "$(ll_pool_comm)" "$mw"; then
        ll_warn "the pool $mw did not stop within ${timeout}s; sending SIGKILL"
        mapfile -t kids < <(ll_pool_workers)
        kill -KILL "${kids[@]}" "$mw" 2>/dev/null || true
    fi
    rm -f "$LL_POOL_PIDFILE"
}

# SIGTERM to the supervisor: each worker finishes the request in hand, then everything exits.
# Returns once no worker of the pool is left.
ll_workers_stop() {
    local timeout i pid comm
    local -a kids=()
    timeout=$(ll_stop_timeout)
    for pid in $(ll_pool_workers); do
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) && kids+=("$comm:$pid")
    done
    ll_stop_pids leadlists-pool "$LL_SUPERVISOR_PIDFILE" TERM "$((timeout + 5))"
    ll_pool_stop_orphan
    # Whatever the way out, no worker outlives the stop.
    for ((i = 0; i < 50; i++)); do
        local left=()
        for pid in "${kids[@]}"; do
            if ll_pid_alive "${pid%%:*}" "${pid##*:}"; then left+=("$pid"); fi
        done
        [ "${#left[@]}" -gt 0 ] || break
        if [ "$i" -eq 49 ]; then
            ll_warn "workers still running: ${left[*]}; sending SIGKILL"
            kill -KILL "${left[@]##*:}" 2>/dev/null || true
        fi
        sleep 0.1
    done
    rm -f "$LL_POOL_PIDFILE" "$LL_WORKER_PIDFILE"
    # A TCP socket (ADDRESS:PORT) leaves no file behind.
    case $LL_FCGI_SOCKET in /*) rm -f "$LL_FCGI_SOCKET" ;; esac
}

# --- nginx ---------------------------------------------------------------------------------

ll_nginx_running() { ll_running nginx "$LL_NGINX_PIDFILE"; }

ll_nginx() {
    nginx -p "$LL_NGINX_DIR/" -c "$LL_NGINX_CONF" -e "$LL_NGINX_ERRLOG" "$@"
}

# The OpenAPI document's path in conf/nginx/leadlists-api.conf, where the package installs it.
LL_OPENAPI_INSTALLED=/usr/share/leadlists/openapi.json
LL_OPENAPI=$LL_ROOT/docs/openapi.json
LL_NGINX_API_SNIPPET=$LL_NGINX_DIR/leadlists-api.conf

# ll_api_snippet SRC OPENAPI DEST: the API snippet SRC with OPENAPI in place of the installed
# OpenAPI document, its only change, written to DEST. Fails (a message on stderr) when SRC
# does not name the installed document on exactly one line.
ll_api_snippet() {
    local src=$1 openapi=$2 dest=$3 line n
    line="    alias $LL_OPENAPI_INSTALLED;"
    n=$(grep -cxF -- "$line" "$src" || true)
    if [ "$n" -ne 1 ]; then
        printf 'error: %s: expected one line "%s", found %s\n' "$src" "$line" "$n" >&2
        return 1
    fi
    # From the environment: awk -v would read backslashes in the paths as escapes.
    LL_WANT="$line" LL_LINE="    alias $openapi;" \
        awk '$0 == ENVIRON["LL_WANT"] { print ENVIRON["LL_LINE"]; next } { print }' "$src" \
        >"$dest.tmp" && mv "$dest.tmp" "$dest"
}

# var/nginx/leadlists-api.conf: conf/nginx/leadlists-api.conf serving the tree's
# docs/openapi.json.
ll_write_api_snippet() {
    [ -r "$LL_OPENAPI" ] || ll_warn "no $LL_OPENAPI: GET /api/v1/openapi.json will answer 404"
    ll_api_snippet "$LL_ROOT/conf/nginx/leadlists-api.conf" "$LL_OPENAPI" "$LL_NGINX_API_SNIPPET" ||
        ll_die "cannot write $LL_NGINX_API_SNIPPET"
}

ll_write_nginx_conf() {
    local user_directive='' v
    if ll_is_root; then user_directive='user root root;'; fi
    # Relative includes (the snippet's `include fastcgi_params`) resolve next to nginx.conf.
    ln -sf /etc/nginx/fastcgi_params "$LL_NGINX_DIR/fastcgi_params"
    ll_write_api_snippet
    local -A values=(
        [USER_DIRECTIVE]=$user_directive
        [PID_FILE]=$LL_NGINX_PIDFILE
        [ERROR_LOG]=$LL_NGINX_ERRLOG
        [ACCESS_LOG]=$LL_LOG/nginx-access.log
        [TEMP_DIR]=$LL_NGINX_DIR/tmp
        [FCGI_SOCKET]=$LL_FCGI_SOCKET
        [LISTEN]=127.0.0.1:$LL_PORT
        [CONF_DIR]=$LL_ROOT/conf/nginx
        [API_SNIPPET]=$LL_NGINX_API_SNIPPET
    )
    local script=''
    for v in "${!values[@]}"; do
        script+="s|@$v@|$(printf '%s' "${values[$v]}" | sed 's/[\\|&]/\\&/g')|g;"
    done
    sed "$script" "$LL_ROOT/conf/nginx/local-server.conf.in" >"$LL_NGINX_CONF"
}

# True when something accepts connections on 127.0.0.1:PORT.
ll_port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ll_check_port() {
    if ll_port_busy "$LL_PORT"; then
        ll_die "127.0.0.1:$LL_PORT is already in use; set LEADLISTS_PORT to another port"
    fi
}

ll_nginx_start() {
    ll_write_nginx_conf
    ll_check_port
    if ! ll_nginx -t -q 2>>"$LL_NGINX_ERRLOG"; then
        ll_tail "$LL_NGINX_ERRLOG"
        ll_die "nginx rejected $LL_NGINX_CONF (log: $LL_NGINX_ERRLOG)"
    fi
    ll_say "starting nginx on 127.0.0.1:$LL_PORT"
    # nginx daemonizes once it listens; a failure to bind shows in its exit status.
    if ! ll_nginx 2>>"$LL_NGINX_ERRLOG"; then
        ll_tail "$LL_NGINX_ERRLOG"
        ll_die "nginx did not start (log: $LL_NGINX_ERRLOG)"
    fi
}

# SIGQUIT: finish the requests in flight, then exit.
ll_nginx_stop() {
    ll_stop_pids nginx "$LL_NGINX_PIDFILE" QUIT 10
}

# --- The stack -----------------------------------------------------------------------------

ll_url() { printf 'http://127.0.0.1:%s' "$LL_PORT"; }

ll_stack_running() {
    ll_nginx_running || ll_workers_running || ll_db_running
}

ll_stack_stop() {
    ll_nginx_stop
    ll_workers_stop
    ll_db_stop
}

# Waits until an unauthenticated POST gets the API's JSON 401: nginx, a worker and the
# routing are then all in place.
ll_wait_ready() {
    local url i out
    url="$(ll_url)/api/v1/entities/leadlists"
    for ((i = 0; i < 150; i++)); do
        out=$(curl -s -o /dev/null -m 2 -w '%{http_code} %{content_type}' -X POST "$url" || true)
        case $out in "401 application/json"*) return 0 ;; esac
        sleep 0.2
    done
    printf 'error: the API did not answer at %s within 30s (last: %s)\n' "$url" "${out:-no answer}" >&2
    ll_tail "$LL_WORKER_LOG"
    ll_tail "$LL_NGINX_ERRLOG"
    ll_die "see the logs in $LL_LOG/"
}

# Quotes a value for a sh-sourceable KEY='value' line.
ll_shquote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

ll_write_stack_env() {
    local tmp=$LL_STACK_ENV.tmp key
    local -a keys=(LEADLISTS_URL LEADLISTS_ROOT LEADLISTS_CONFIG LEADLISTS_CTL
        LEADLISTS_DB_SOCKET LEADLISTS_DB_NAME LEADLISTS_DB_USER LEADLISTS_DB_PASSWORD
        LEADLISTS_DB_PIDFILE LEADLISTS_WORKER_PIDFILE LEADLISTS_POOL_PIDFILE
        LEADLISTS_SUPERVISOR_PIDFILE LEADLISTS_WORKER_LOG LEADLISTS_NGINX_PIDFILE)
    local -A values=(
        [LEADLISTS_URL]=$(ll_url)
        [LEADLISTS_ROOT]=$LL_ROOT
        [LEADLISTS_CONFIG]=$LL_CONF
        [LEADLISTS_CTL]=$LL_CTL
        [LEADLISTS_DB_SOCKET]=$LL_DB_SOCKET
        [LEADLISTS_DB_NAME]=$LL_DB_NAME
        [LEADLISTS_DB_USER]=$LL_DB_USER
        [LEADLISTS_DB_PASSWORD]=$(cat "$LL_DB_PASSWORD_FILE")
        [LEADLISTS_DB_PIDFILE]=$LL_DB_PIDFILE
        [LEADLISTS_WORKER_PIDFILE]=$LL_WORKER_PIDFILE
        [LEADLISTS_POOL_PIDFILE]=$LL_POOL_PIDFILE
        [LEADLISTS_SUPERVISOR_PIDFILE]=$LL_SUPERVISOR_PIDFILE
        [LEADLISTS_WORKER_LOG]=$LL_WORKER_LOG
        [LEADLISTS_NGINX_PIDFILE]=$LL_NGINX_PIDFILE
    )
    (
        umask 077
        printf '# The running local stack, written by script/server. Load it with:\n'
        printf '#   set -a; . var/stack.env; set +a\n'
        for key in "${keys[@]}"; do
            printf '%s=%s\n' "$key" "$(ll_shquote "${values[$key]}")"
        done
    ) >"$tmp"
    mv "$tmp" "$LL_STACK_ENV"
}
