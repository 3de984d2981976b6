#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine, for the SLURM backend's end-to-end test.
#
# Idempotent: if SLURM already accepts jobs, it does nothing. Otherwise, as root on a
# Debian-like system, it installs slurm-wlm and munge with apt-get (when missing), writes a
# munge key and /etc/slurm/slurm.conf (one node = this machine, one default partition
# `debug`), starts munged, slurmctld and slurmd directly (no systemd) and waits until the
# node is idle. See /work/shared/ENVIRONMENT-NOTES.md for what this was verified on.
#
# Exit status: 0 = SLURM is ready; 77 = this machine cannot host it (not root, no apt-get)
# and the caller should skip; anything else = a real failure (the message says which step).
set -euo pipefail

CANNOT=77
PARTITION=debug
CONF=/etc/slurm/slurm.conf
LOG_DIR=/var/log/slurm
READY_TIMEOUT=${SLURM_READY_TIMEOUT:-60}

say() { echo "start_slurm: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
cannot() { say "CANNOT: $*"; exit "$CANNOT"; }

node_state() {
    # State of this partition's node(s), e.g. "idle"; empty when slurmctld does not answer.
    sinfo -h -p "$PARTITION" -o '%T' 2>/dev/null | head -n 1 | tr -d '*~#!%$@^-' || true
}

slurm_ready() {
    command -v sbatch >/dev/null 2>&1 || return 1
    case "$(node_state)" in
        idle|mixed|allocated|completing) ;;
        *) return 1 ;;
    esac
    # Validates a job against the running controller without queuing it.
    sbatch --test-only -p "$PARTITION" -n 1 -t 1 --wrap true >/dev/null 2>&1
}

if slurm_ready; then
    say "SLURM already accepts jobs (partition $PARTITION: $(node_state)); nothing to do"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || cannot "not root (uid $(id -u)); starting munge and SLURM daemons needs root"

# --- install --------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 \
        || ! command -v munged >/dev/null 2>&1 || ! command -v sbatch >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || cannot "SLURM is not installed and there is no apt-get to install it"
    say "installing slurm-wlm and munge with apt-get (takes a few minutes)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2 || die "apt-get update failed (no network or no package mirror?)"
    # policy-rc.d 101 stops the packages' maintainer scripts from starting services:
    # the daemons are started below, once configured.
    POLICY=/usr/sbin/policy-rc.d
    ADDED_POLICY=0
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY" && ADDED_POLICY=1
    fi
    status=0
    apt-get install -y -q --no-install-recommends slurm-wlm munge >&2 || status=$?
    [ "$ADDED_POLICY" -eq 1 ] && rm -f "$POLICY"
    [ "$status" -eq 0 ] || die "apt-get install slurm-wlm munge failed (exit $status)"
fi
for prog in munged slurmctld slurmd sbatch sinfo scontrol; do
    command -v "$prog" >/dev/null 2>&1 || die "$prog is missing after installing slurm-wlm and munge"
done

# --- munge ----------------------------------------------------------------------------------
id munge >/dev/null 2>&1 || die "the munge user does not exist (the munge package creates it)"
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
KEY=/etc/munge/munge.key
if [ ! -s "$KEY" ] || [ "$(stat -c %s "$KEY")" -lt 32 ]; then
    say "writing a new munge key"
    dd if=/dev/urandom of="$KEY" bs=1024 count=1 status=none
fi
chown munge:munge "$KEY" /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 400 "$KEY"
chmod 700 /etc/munge /var/lib/munge /var/log/munge
chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged --force || die "munged did not start (see /var/log/munge/munged.log)"
    for _ in $(seq 1 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.5
    done
    munge -n | unmunge >/dev/null || die "munged runs but a credential does not round-trip"
fi

# --- slurm.conf -----------------------------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
# a little under the machine's memory, or slurmd reports the node invalid
REAL_MEM=$(( MEM_MB > 2048 ? MEM_MB - 1024 : MEM_MB * 9 / 10 ))
mkdir -p /etc/slurm "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
cat >"$CONF" <<EOF
# Written by cohortbench tests/slurm/start_slurm.sh: a one-node test cluster.
ClusterName=cohortbench
SlurmctldHost=$HOST
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST CPUs=$CPUS RealMemory=$REAL_MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

# --- daemons --------------------------------------------------------------------------------
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if ! running /run/slurmctld.pid; then
    say "starting slurmctld"
    slurmctld || die "slurmctld did not start (see $LOG_DIR/slurmctld.log)"
fi
if ! running /run/slurmd.pid; then
    say "starting slurmd"
    slurmd || die "slurmd did not start (see $LOG_DIR/slurmd.log)"
fi

say "waiting up to ${READY_TIMEOUT}s for node $HOST to be idle"
deadline=$(( $(date +%s) + READY_TIMEOUT ))
resumed=0
while :; do
    state=$(node_state)
    case "$state" in
        idle|mixed|allocated|completing)
            break ;;
        down|drained|draining|drain)
            # a node left down by an earlier, unclean shutdown
            if [ "$resumed" -eq 0 ]; then
                scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
                resumed=1
            fi ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        die "node $HOST is '${state:-not reported}' after ${READY_TIMEOUT}s, not idle (see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log)"
    fi
    sleep 1
done
slurm_ready || die "node $HOST is $(node_state) but sbatch --test-only rejects a one-core job"
say "SLURM is ready: partition $PARTITION, node $HOST ($CPUS CPUs, ${REAL_MEM} MB)"
