#!/usr/bin/env bash
# A single-node SLURM cluster for the SLURM launcher test (Debian's packages; root needed).
#   .ci/slurm.sh install          install Debian's packages if missing (.ci/run does this; tests never install)
#   .ci/slurm.sh up STATE_FILE    start what is not running, record the pids it started (exit 3: not installed)
#   .ci/slurm.sh down STATE_FILE  stop exactly those pids, nothing else
# proctrack/linuxproc and task/none need no cgroups; DefMemPerCPU lets several jobs share the node.
set -euo pipefail
action=${1:?install, up or down}
state=${2:-}

installed() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null
}

install() {
    installed && exit 0
    [[ $(id -u) -eq 0 ]] || { echo "not root: cannot install SLURM" >&2; exit 3; }
    command -v apt-get >/dev/null || { echo "no apt-get: cannot install SLURM" >&2; exit 3; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
}

# A pid file names the daemon only while that pid is alive and is that program: a file left by a daemon that died
# can name a pid the kernel has since given to another process.
daemon_running() {  # PIDFILE NAME
    local pid
    [[ -s $1 ]] || return 1
    pid=$(cat "$1")
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]]
}

start_daemon() {  # PIDFILE NAME COMMAND...: start it, wait for its own pid in the file, record that pid
    local pidfile=$1 name=$2
    shift 2
    rm -f "$pidfile"  # a stale file would be read as the new daemon's pid before it writes its own
    "$@"
    for _ in $(seq 40); do daemon_running "$pidfile" "$name" && { cat "$pidfile" >> "$state"; return 0; }; sleep 0.25; done
    echo "$name did not start (no live $name pid in $pidfile)" >&2
    return 1
}

up() {
    [[ -n $state ]] || { echo "up needs a state file" >&2; exit 2; }
    installed || { echo "SLURM is not installed (as root: bash .ci/slurm.sh install)" >&2; exit 3; }
    [[ $(id -u) -eq 0 ]] || { echo "not root: cannot start SLURM" >&2; exit 3; }
    : > "$state"
    if ! daemon_running /run/munge/munged.pid munged; then
        mkdir -p /run/munge && chown munge:munge /run/munge
        [[ -s /etc/munge/munge.key ]] || { mungekey --create 2>/dev/null || create-munge-key -f; chown munge:munge /etc/munge/munge.key; }
        start_daemon /run/munge/munged.pid munged munged --force  # as root, --force skips the log folder owner check
    fi
    if ! daemon_running /run/slurmctld.pid slurmctld; then
        write_conf
        start_daemon /run/slurmctld.pid slurmctld slurmctld
    fi
    if ! daemon_running /run/slurmd.pid slurmd; then
        start_daemon /run/slurmd.pid slurmd slurmd
    fi
    for _ in $(seq 60); do  # the node registers within seconds
        sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && exit 0
        sleep 0.5
    done
    echo "SLURM started but its node is not idle: $(sinfo 2>&1)" >&2
    exit 1
}

write_conf() {
    local host cpus mem
    # The machine's CPUs: plain nproc follows OMP_NUM_THREADS, which make test sets to 1 for its serial pass, and
    # a 1-CPU node would run a sweep's jobs one at a time.
    host=$(hostname); cpus=$(getconf _NPROCESSORS_ONLN); mem=$(( $(free -m | awk '/Mem:/{print $2}') - 1024 ))
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

down() {
    [[ -n $state && -f $state ]] || exit 0
    if [[ -s $state ]]; then  # a cluster this script started: let its jobs' steps finish (they report to slurmd)
        for _ in $(seq 60); do [[ -z $(squeue -h 2>/dev/null) ]] && break; sleep 0.5; done
    fi
    tac "$state" | while read -r pid; do kill "$pid" 2>/dev/null || true; done  # slurmd, slurmctld, then munged
    rm -f "$state"
}

"$action"
