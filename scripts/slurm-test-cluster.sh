#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests (tests/test_slurm.py) and for trying the SLURM profile.
#
#   scripts/slurm-test-cluster.sh start DIR [--no-accounting] [--cpus N] [--mem MB] [--gpus N]
#   sinfo; sbatch ...; snakemake --workflow-profile workflow/profiles/slurm ...
#   scripts/slurm-test-cluster.sh stop DIR
#
# `start` installs SLURM from the distribution's packages when it is missing (Debian/Ubuntu, as root), then
# starts munged, with accounting (the default) MariaDB and slurmdbd so that `sacct` works, slurmctld and
# slurmd. Keys, sockets, spool, logs and pid files live in DIR, and the daemons listen on free ports. Only
# the configuration must sit where every SLURM command looks (the Snakemake job step clears SLURM_CONF
# before it calls srun): /etc/slurm/slurm.conf becomes a link to DIR/slurm.conf, and `start` refuses to
# replace any other file there. --no-accounting runs without slurmdbd, as many small clusters do (`sacct`
# then knows no jobs). The node is the machine's real size (`slurmd -C`) unless --cpus/--mem/--gpus
# advertise another (SlurmdParameters=config_overrides; a GPU is a name bound to /dev/null). `stop` cancels
# the cluster's jobs, ends each daemon by the pid `start` recorded (slurmd, slurmctld, slurmdbd, mariadbd,
# munged), waits until it is gone, and removes the link.
# Exit status 2: SLURM cannot be installed or started here (the reason is on stderr).
set -euo pipefail

usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64; }
die() { echo "slurm-test-cluster: $*" >&2; exit 2; }
log() { echo "slurm-test-cluster: $*" >&2; }

PACKAGES=(slurmctld slurmd slurm-client munge)
SYSTEM_CONF=/etc/slurm/slurm.conf
ACCOUNTING_PACKAGES=(slurmdbd mariadb-server)

install_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || die "SLURM packages missing (${missing[*]}) and no apt-get to install them"
    [[ $(id -u) -eq 0 ]] || die "SLURM packages missing (${missing[*]}); installing them needs root"
    log "installing ${missing[*]}"
    local began=$SECONDS
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"; } >&2 || die "apt-get could not install ${missing[*]}"
    log "installed in $((SECONDS - began)) s"
}

free_ports() {  # N distinct free TCP ports on localhost
    python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

spawn() {  # NAME COMMAND...: start a daemon in the foreground of its own session; record its pid
    local name=$1
    shift
    setsid "$@" >"$DIR/log/$name.out" 2>&1 </dev/null &
    echo "$name $!" >>"$DIR/pids"
}

wait_for() {  # SECONDS WHAT COMMAND...: poll until COMMAND succeeds (each try limited to 5 s)
    local seconds=$1 deadline=$((SECONDS + $1)) what=$2
    shift 2
    while ((SECONDS < deadline)); do
        timeout 5 "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    log "$what did not come up within $seconds s; logs in $DIR/log:"
    tail -n 5 "$DIR"/log/* >&2 || true
    exit 2
}

start() {
    local accounting=1 cpus="" mem="" gpus=0
    while (($#)); do
        case $1 in
            --no-accounting) accounting=0 ;;
            --cpus) cpus=$2; shift ;;
            --mem) mem=$2; shift ;;
            --gpus) gpus=$2; shift ;;
            *) usage ;;
        esac
        shift
    done
    [[ $(id -u) -eq 0 ]] || die "starting slurmd needs root (it runs jobs as their users)"
    if ((accounting)); then
        install_packages "${PACKAGES[@]}" "${ACCOUNTING_PACKAGES[@]}"
    else
        install_packages "${PACKAGES[@]}"
    fi
    [[ ! -s $DIR/pids ]] || die "$DIR already holds a cluster (stop it first)"
    if [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]]; then
        local owner
        owner=$(readlink "$SYSTEM_CONF" || true)
        [[ $owner == */slurm.conf && -f $(dirname "$owner")/.ferflow-test-cluster ]] \
            || die "$SYSTEM_CONF exists and is not a test cluster's: not replacing it"
        [[ ! -s $(dirname "$owner")/pids ]] \
            || die "another test cluster runs from $(dirname "$owner") (stop it first)"
    fi

    mkdir -p "$DIR"/{munge,log,spool/ctld,spool/d,run}
    touch "$DIR/.ferflow-test-cluster"
    chmod 711 "$DIR/munge"  # munged wants its socket reachable by every user, its key readable by none
    : >"$DIR/pids"
    trap stop_daemons EXIT  # a start that fails half-way leaves nothing running
    local real real_cpus real_mem ctld_port d_port dbd_port db_port name
    real=$(slurmd -C | head -n 1)  # NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105
    real_cpus=$(sed -E 's/.* CPUs=([0-9]+).*/\1/' <<<"$real")
    real_mem=$(sed -E 's/.*RealMemory=([0-9]+).*/\1/' <<<"$real")
    cpus=${cpus:-$real_cpus}
    mem=${mem:-$real_mem}
    read -r ctld_port d_port dbd_port db_port < <(free_ports 4)
    name="ferflow$(printf '%05d' $((RANDOM % 100000)))"

    # munge: the key and the socket stay in DIR (munged refuses keys that others can read; --force: DIR
    # may sit in a folder other users cannot enter, as pytest's temporary folders do)
    head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
    chmod 400 "$DIR/munge/munge.key"
    local socket=$DIR/munge/munge.socket
    spawn munged munged --foreground --force --socket="$socket" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/seed"
    wait_for 10 munged test -S "$socket"

    local gres="" overrides=""
    if ((gpus > 0)); then
        gres="Gres=gpu:$gpus"
        echo "NodeName=localhost Name=gpu Count=$gpus File=/dev/null" >"$DIR/gres.conf"
        ((gpus == 1)) || sed -i 's| File=/dev/null||' "$DIR/gres.conf"
    fi
    # slurmd drains a node that claims more than it has, unless told to take the configuration as given
    [[ $cpus == "$real_cpus" && $mem == "$real_mem" && $gpus == 0 ]] || overrides="SlurmdParameters=config_overrides"
    local storage="accounting_storage/none"
    ((accounting)) && storage="accounting_storage/slurmdbd"
    cat >"$DIR/slurm.conf" <<EOF
ClusterName=$name
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Memory limits are enforced by sampling (no cgroups here): a job step over --mem is killed, and its job
# then reads FAILED.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=2
JobAcctGatherParams=OverMemoryKill
# Finished jobs stay in squeue and scontrol show job for an hour: status checks without accounting read
# squeue, and the tests read each job's request after a run.
MinJobAge=3600
ReturnToService=2
MpiDefault=none
AccountingStorageType=$storage
AccountingStorageHost=localhost
AccountingStoragePort=$dbd_port
AccountingStoragePass=$socket
JobCompType=jobcomp/none
GresTypes=gpu
$overrides
NodeName=localhost CPUs=$cpus RealMemory=$mem $gres State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -sfn "$DIR/slurm.conf" "$SYSTEM_CONF"
    export SLURM_CONF=$DIR/slurm.conf  # the daemons read gres.conf and slurmdbd.conf beside it

    if ((accounting)); then
        local password
        password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
        mariadb-install-db --no-defaults --datadir="$DIR/db" --user=root --skip-test-db \
            --auth-root-authentication-method=socket >"$DIR/log/mariadb-install.out" 2>&1 \
            || die "mariadb-install-db failed (see $DIR/log/mariadb-install.out)"
        spawn mariadbd mariadbd --no-defaults --datadir="$DIR/db" --user=root --port="$db_port" \
            --bind-address=127.0.0.1 --socket="$DIR/run/mysqld.sock" --pid-file="$DIR/run/mysqld.pid" \
            --log-error="$DIR/log/mariadb.log" --skip-log-bin --innodb-buffer-pool-size=64M
        wait_for 30 mariadbd mariadb --no-defaults -S "$DIR/run/mysqld.sock" -uroot -e "select 1"
        mariadb --no-defaults -S "$DIR/run/mysqld.sock" -uroot -e \
            "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$password';
             GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        (
            umask 077  # slurmdbd refuses a readable slurmdbd.conf (it holds the password)
            cat >"$DIR/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$socket
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$password
StorageLoc=slurm_acct_db
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
EOF
        )
        spawn slurmdbd slurmdbd -D
        wait_for 30 slurmdbd sacctmgr -n list cluster
        sacctmgr -i add cluster "$name" >/dev/null
    fi

    spawn slurmctld slurmctld -D -c
    spawn slurmd slurmd -D -N localhost
    wait_for 30 "the node" bash -c 'sinfo -h -o %T | grep -qx idle'
    log "up: $(sinfo -h -N -o '%N %T CPUs=%c Memory=%m Gres=%G') accounting=$accounting ($DIR)"
    trap - EXIT
}

alive() {  # PID NAME: the recorded process still runs that program (not a recycled pid)
    local comm
    comm=$(cat "/proc/$1/comm" 2>/dev/null) && [[ $comm == "$2"* ]]
}

stop_daemons() {
    [[ -s $DIR/pids ]] || return 0
    export SLURM_CONF=$DIR/slurm.conf
    if grep -q '^slurmctld ' "$DIR/pids"; then  # end running jobs first, so no job step outlives the node
        scancel --quiet --user="$(id -un)" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            [[ -z $(squeue -h -t running,completing -o %i 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
    local order=(slurmd slurmctld slurmdbd mariadbd munged) name pid
    for name in "${order[@]}"; do
        pid=$(awk -v n="$name" '$1 == n {print $2}' "$DIR/pids")
        [[ -n $pid ]] && alive "$pid" "$name" || continue
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$pid" "$name" || break
            sleep 0.2
        done
        if alive "$pid" "$name"; then
            log "$name ($pid) ignored SIGTERM for 20 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    : >"$DIR/pids"
    rm -f "$DIR"/run/*.pid "$DIR"/run/*.sock "$DIR/munge/munge.socket"*
    [[ $(readlink "$SYSTEM_CONF" || true) != "$DIR/slurm.conf" ]] || rm -f "$SYSTEM_CONF"
}

[[ $# -ge 2 ]] || usage
command=$1
DIR=$(realpath -m "$2")
shift 2
case $command in
    start) start "$@" ;;
    stop) stop_daemons; log "stopped ($DIR)" ;;
    *) usage ;;
esac
