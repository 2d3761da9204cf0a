# shellcheck shell=bash
# The cluster phase of script/test, which sources this file and calls cluster_phase once the
# tree is built. It uses script/test's record, collect and phase_broken, and lib.sh's
# functions; LEADLISTS_CLUSTER_PHASE=0 skips it.
#
# cluster_phase: starts the local cluster (script/cluster --detach: three Galera nodes, three
# pools, one nginx), runs the family's integration suites against it (create, get, list,
# PATCH, delete, members, users, idempotency) and t/88-cluster.t (a node and a pool killed
# under a mixed load, two clients on one list through two nodes), then measures creates per
# second through the cluster with its three nodes, and again with nodes 2 and 3 stopped
# (one node left, the same machine, the same pools), each round reconciled; and stops the
# cluster, whatever happens. About 2.5 minutes on 2 cores.

# One wrk round of creates of 10 ids, 12 connections, for SECONDS, through the cluster's
# nginx, named PREFIX-*: prints "RATE STATUSES P50_MS", and fails unless every create was
# answered 201 and the 201s equal the lists stored (on node 1).
cluster_create_round() {
    local seconds=$1 prefix=$2 token=$3 out stored rate statuses ok p50
    out=$(wrk -t2 -c12 -d$((seconds + 4))s --timeout 60s -s "$LL_ROOT/bench/create.lua" \
        "$LEADLISTS_URL/api/v1/entities/leadlists" -- 10 "$token" "$prefix" "$seconds" 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
    rate=$(sed -n 's/^BENCH rate //p' <<<"$out")
    statuses=$(sed -n 's/^BENCH statuses //p' <<<"$out")
    ok=$(sed -n 's/^BENCH status_201 //p' <<<"$out")
    p50=$(sed -n 's/^BENCH p50_us //p' <<<"$out")
    stored=$(MYSQL_PWD=$LEADLISTS_DB_PASSWORD mariadb -N -B "--socket=$LEADLISTS_DB_SOCKET" \
        "-u$LEADLISTS_DB_USER" "$LEADLISTS_DB_NAME" \
        -e "SELECT COUNT(*) FROM leadlists WHERE name LIKE '$prefix-%'" 2>/dev/null)
    printf '%.0f %s %d\n' "${rate:-0}" "${statuses:-none}" $((${p50:-0} / 1000))
    if [ -z "$ok" ] || [ "$statuses" != "201:$ok" ] || [ "$stored" != "$ok" ]; then
        printf 'cluster: round %s: statuses %s, %s lists stored\n' "$prefix" "${statuses:-none}" "${stored:-?}" >&2
        return 1
    fi
}

cluster_phase() {
    [ "${LEADLISTS_CLUSTER_PHASE:-1}" != 0 ] || return 0
    local phase=cluster out rc=0 stamp saved run three one token bringup
    local tests="t/40-create.t t/41-get.t t/42-list.t t/43-patch.t t/44-delete.t t/45-members.t"
    tests+=" t/46-users.t t/60-idempotency.t t/88-cluster.t"
    out=$(mktemp)
    # Whatever happens from here, the cluster is stopped: before script/test's own exit trap,
    # which then runs as it would have, with the same status.
    saved=$(trap -p EXIT)
    eval "set -- ${saved:-trap -- '' EXIT}"
    # shellcheck disable=SC2154 # cluster_rc is the trap's own
    trap 'cluster_rc=$?; "$LL_ROOT/script/cluster" --stop >/dev/null 2>&1 || true; (exit $cluster_rc); '"$3" EXIT

    ll_say "$phase: starting the cluster (script/cluster --detach)"
    "$LL_ROOT/script/cluster" --detach 2>&1 | tee "$out"
    if [ "${PIPESTATUS[0]}" -ne 0 ]; then
        phase_broken "$phase" "script/cluster --detach failed"
    else
        bringup=$(sed -n 's/^==> three nodes Synced, \([0-9]*\) s after the first started$/\1/p' "$out")
        ! declare -F unset_stack_env >/dev/null || unset_stack_env
        set -a
        # shellcheck source=/dev/null
        . "$LL_ROOT/var/cluster/stack.env"
        set +a

        stamp=$(mktemp)
        rm -f "$LL_ROOT/test-suite.log"
        ll_say "$phase: the family's suites and t/88-cluster.t against the cluster"
        # check-TESTS: the tests alone (the unit phase built and ran the unit tests).
        make -C "$LL_ROOT" -j2 check-TESTS TESTS="$tests" || rc=$?
        collect "$phase" "$LL_ROOT" "$stamp" "$rc"
        rm -f "$stamp"

        # Creates per second, three nodes, then one: what replicating every write costs here.
        run=cluster-$(date +%Y%m%d%H%M%S)-$$
        if token=$(env -u LEADLISTS_DB_PASSWORD "$LEADLISTS_CTL" -c "$LEADLISTS_CONFIG" session create \
            --user "user_$run" --org "org_$run" 2>/dev/null); then
            ll_say "$phase: creates per second through the cluster, three nodes"
            if three=$(cluster_create_round 5 "$run-three" "$token"); then
                record "$phase" 1 0
            else
                phase_broken "$phase" "the three-node round of creates did not reconcile"
            fi
            ll_say "$phase: stopping nodes 3 and 2; the pools carry on with node 1"
            "$LL_ROOT/script/cluster" --stop-node 3 || true
            "$LL_ROOT/script/cluster" --stop-node 2 || true
            ll_say "$phase: creates per second, one node"
            if one=$(cluster_create_round 5 "$run-one" "$token"); then
                record "$phase" 1 0
            else
                phase_broken "$phase" "the one-node round of creates did not reconcile (did the workers move to node 1?)"
            fi
            printf '%s: bring-up %s s for the three nodes; creates of 10 ids per second, 12 connections, 5 s:\n' \
                "$phase" "${bringup:-?}"
            printf '%s:   three nodes %s/s (p50 %s ms), one node %s/s (p50 %s ms)\n' "$phase" \
                "$(cut -d' ' -f1 <<<"${three:-?}")" "$(cut -d' ' -f3 <<<"${three:-? ? ?}")" \
                "$(cut -d' ' -f1 <<<"${one:-?}")" "$(cut -d' ' -f3 <<<"${one:-? ? ?}")"
        else
            phase_broken "$phase" "could not create a session for the rounds of creates"
        fi
    fi

    ll_say "$phase: stopping the cluster"
    "$LL_ROOT/script/cluster" --stop || true
    eval "${saved:-trap - EXIT}"
    # The phases after this one do not see the cluster's settings.
    # shellcheck disable=SC2046 # one name a word
    unset $(sed -n 's/^\(LEADLISTS_[A-Z_]*\)=.*/\1/p' "$LL_ROOT/var/cluster/stack.env" 2>/dev/null)
    rm -f "$out"
}
