#!/usr/bin/env bash
# An emulated multi-host network for MPI runs on one machine (docs/SCALING.md, "Emulated
# network"): every rank on its own "host" (network and UTS namespaces) with one veth link into a
# switch (a bridge in a namespace of its own), each link shaped by tc tbf to RATE both ways;
# mpirun runs in a head namespace and starts its daemons through an rsh agent that enters the
# host's namespaces; Open MPI talks TCP only (pml ob1, btl tcp,self).
#
#   scripts/netlab.sh --rate RATE [--ranks N] [LINK OPTIONS] -- MPIRUN_ARGS...
#   scripts/netlab.sh --rate RATE [--ranks N] [LINK OPTIONS] --probe [--probe-bin P] [--max-bytes N]
#   scripts/netlab.sh --check                 can a lab be built here? (exit 0, or 2 and why)
#   scripts/netlab.sh --cleanup-stale [PID]   remove the labs whose netlab.sh is gone
#
# RATE: a tc bit rate (100mbit, 1gbit, 2.5gbit, 10gbit, ...) or "none" (unshaped veth).
# --ranks N: hosts (default: the job's -np, else 2); a larger -np puts ranks round-robin on them.
# LINK OPTIONS: --burst BYTES (tbf bucket; default 20 us of RATE, at least 32 KiB),
#   --queue-ms MS (tbf queue, as delay at RATE; default 10). TCP's congestion control is the
#   machine's default (a namespace may only pick from the machine's allowed list).
# Exit status: the job's; 2 when the arguments are wrong or the lab cannot be built (one line
# saying what failed); 128+n after signal n. Everything it makes is named mnl<PID>..., lives in
# its own namespaces (nothing is added to the root namespace) and is removed on exit, on INT, TERM
# and HUP, and, should this script be killed with SIGKILL, by a detached reaper that waits for it.
# --cleanup-stale removes what is left when both died (kill -9 of a whole session, an OOM kill).
set -euo pipefail

readonly prefix=mnl
readonly subnet=198.18.0           # RFC 2544's benchmarking range, private to each lab's switch
readonly head_addr=$subnet.254
readonly max_ranks=250
readonly gso_bytes=16384           # largest packet a host hands to its qdisc (see the burst)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here self="$here/netlab.sh"

usage() { sed -n '8,11p' "$self" | sed 's/^#   /usage: /' >&2; }
die() { echo "netlab: $*" >&2; exit 2; }

# --- what a lab is made of, found by its owner's PID -------------------------------------------
lab_namespaces() {  # hosts first, the switch last
  local names
  names=$(ip netns list 2>/dev/null | awk '{print $1}')
  grep -E "^$prefix$1(h|r[0-9]+)$" <<< "$names" || true
  grep -E "^$prefix$1s$" <<< "$names" || true
}

netns_pids() { ip netns pids "$1" 2>/dev/null || true; }

lab_pids() {
  local ns
  for ns in $(lab_namespaces "$1"); do netns_pids "$ns"; done
}

# Stops every process in the lab's namespaces (only the lab starts processes there): mpirun
# first, so that it takes its daemons and ranks down itself, then whatever is left.
stop_processes() {
  local owner=$1 pids sig t
  pids=$(netns_pids "$prefix${owner}h")
  if [ -n "$pids" ]; then
    kill -TERM $pids 2>/dev/null || true
    for ((t = 0; t < 50; ++t)); do
      [ -z "$(netns_pids "$prefix${owner}h")" ] && break
      sleep 0.1
    done
  fi
  for sig in TERM KILL; do
    pids=$(lab_pids "$owner")
    [ -z "$pids" ] && return 0
    kill -$sig $pids 2>/dev/null || true
    for ((t = 0; t < 20; ++t)); do
      [ -z "$(lab_pids "$owner")" ] && return 0
      sleep 0.1
    done
  done
}

# Removes the lab of one owner PID: its processes, its namespaces (their veths and the bridge go
# with them), any interface of its name in the root namespace (none is made there; this guards a
# future mistake) and its state directory.
teardown() {
  local owner=$1 ns ifc
  stop_processes "$owner"
  for ns in $(lab_namespaces "$owner"); do
    ip netns del "$ns" 2>/dev/null || echo "netlab: could not remove namespace $ns" >&2
  done
  for ifc in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
               grep -E "^${prefix}${owner}[a-z]" || true); do
    ip link del "$ifc" 2>/dev/null || true
  done
  rm -rf /tmp/"$prefix$owner".??????
}

owner_alive() {  # a running netlab.sh, not a recycled PID
  tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -q 'netlab\.sh'
}

cleanup_stale() {
  local only=$1 pids pid n=0
  pids=$( { ip netns list 2>/dev/null | awk '{print $1}'; ls /tmp; } |
          sed -nE "s/^$prefix([0-9]+)(s|h|r[0-9]+|\.[A-Za-z0-9]{6})$/\1/p" | sort -u)
  for pid in $pids; do
    [ -n "$only" ] && [ "$pid" != "$only" ] && continue
    if owner_alive "$pid"; then
      [ -n "$only" ] && die "lab $prefix$pid belongs to the running netlab.sh $pid; not removed"
      continue
    fi
    teardown "$pid"
    echo "netlab: removed the stale lab $prefix$pid"
    n=$((n + 1))
  done
  echo "netlab: $n stale lab(s) removed"
}

# --- arguments ---------------------------------------------------------------------------------
mode=run rate="" ranks="" burst="" queue_ms=10 probe_bin="" max_bytes=$((4 << 20))
stale_pid="" reap_pid=""
need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --rate) need "$@"; rate=$2; shift 2 ;;
    --ranks) need "$@"; ranks=$2; shift 2 ;;
    --burst) need "$@"; burst=$2; shift 2 ;;
    --queue-ms) need "$@"; queue_ms=$2; shift 2 ;;
    --probe) mode=probe; shift ;;
    --probe-bin) need "$@"; probe_bin=$2; shift 2 ;;
    --max-bytes) need "$@"; max_bytes=$2; shift 2 ;;
    --check) mode=check; shift ;;
    --cleanup-stale)
      mode=stale; shift
      if [[ ${1:-} =~ ^[0-9]+$ ]]; then stale_pid=$1; shift; fi ;;
    --reap) need "$@"; mode=reap; reap_pid=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage; exit 0 ;;
    *) usage; die "unknown argument '$1' (the mpirun arguments go after --)" ;;
  esac
done

case $mode in
  stale) cleanup_stale "$stale_pid"; exit 0 ;;
  reap)  # detached from its owner: waits for it to end, however it ends, then removes its lab
    [[ $reap_pid =~ ^[0-9]+$ ]] || die "--reap needs a PID"
    tail --pid="$reap_pid" -f /dev/null
    teardown "$reap_pid"
    exit 0 ;;
  check) rate=${rate:-1gbit} ranks=${ranks:-2} ;;
esac

[ "$(id -u)" -eq 0 ] || die "cannot create network namespaces: needs root" \
                           "(CAP_SYS_ADMIN, CAP_NET_ADMIN), not uid $(id -u)"
for tool in ip tc unshare setsid tail; do
  command -v "$tool" > /dev/null ||
    die "cannot build a lab: '$tool' not found (Debian: iproute2, util-linux, coreutils)"
done
[ -n "$rate" ] || { usage; die "--rate RATE is required (e.g. 1gbit, or none)"; }
if [ "$mode" = run ]; then
  [ $# -gt 0 ] || { usage; die "no mpirun arguments after --"; }
  if [ -z "$ranks" ]; then  # the job's -np
    args=("$@")
    for ((i = 0; i < ${#args[@]}; ++i)); do
      case ${args[i]} in
        -np|-n|--np|-c) ranks=${args[i + 1]:-}; break ;;
        -np=*|--np=*|-n=*) ranks=${args[i]#*=}; break ;;
      esac
    done
  fi
fi
if [ "$mode" = run ] || [ "$mode" = probe ]; then
  mpirun --version 2>/dev/null | grep -q "Open MPI" ||
    die "cannot run the job: mpirun is not Open MPI (the lab launches through Open MPI's rsh agent)"
fi
ranks=${ranks:-2}
[[ $ranks =~ ^[0-9]+$ ]] && [ "$ranks" -ge 1 ] && [ "$ranks" -le $max_ranks ] ||
  die "--ranks $ranks: expected an integer from 1 to $max_ranks (or the job's -np)"
[[ $queue_ms =~ ^[0-9]+$ ]] && [ "$queue_ms" -ge 1 ] ||
  die "--queue-ms $queue_ms: expected a positive integer"
if [ "$mode" = probe ]; then
  probe_bin=${probe_bin:-$here/../build/bin/mpi_pingpong}
  [ -x "$probe_bin" ] ||
    die "no probe program at $probe_bin (build the tests: ./scripts/build.sh, or give --probe-bin)"
  [[ $max_bytes =~ ^[0-9]+$ ]] && [ "$max_bytes" -ge 8 ] ||
    die "--max-bytes $max_bytes: expected a byte count >= 8"
  [ "$ranks" -ge 2 ] || die "--probe needs --ranks 2 or more"
fi

shaped=1
if [ "$rate" = none ]; then
  shaped=0
else
  rate_bps=$(awk -v r="$rate" 'BEGIN {
      if (match(tolower(r), /^[0-9]+(\.[0-9]+)?/) == 0) exit 1
      n = substr(r, 1, RLENGTH); u = tolower(substr(r, RLENGTH + 1))
      m["bit"] = 1; m["kbit"] = 1e3; m["mbit"] = 1e6; m["gbit"] = 1e9; m["tbit"] = 1e12
      if (!(u in m) || n <= 0) exit 1
      printf "%.0f", n * m[u] }') ||
    die "--rate $rate: expected a bit rate such as 100mbit, 1gbit, 2.5gbit, 10gbit, or none"
  # The bucket is what a link may send at veth speed after an idle spell: a real NIC has none,
  # so it is small, 20 us of the rate; but at least two of the largest packets (the hosts hand
  # over at most 16 KiB, gso_bytes), since tbf splits a packet larger than its bucket into frames
  # and then needs a timer per frame.
  if [ -z "$burst" ]; then
    burst=$(awk -v b="$rate_bps" -v g=$gso_bytes \
                'BEGIN { x = b / 8 * 20e-6; if (x < 2 * g) x = 2 * g; printf "%.0f", x }')
  fi
  [[ $burst =~ ^[0-9]+$ ]] && [ "$burst" -ge 1600 ] ||
    die "--burst $burst: expected a byte count >= 1600 (one frame)"
fi

# --- the lab -----------------------------------------------------------------------------------
lab=$prefix$$
state="" reaper=""
rank_ns() { echo "${lab}r$1"; }
rank_addr() { echo "$subnet.$(($1 + 1))"; }

on_exit() {
  local rc=$?
  trap '' INT TERM HUP
  [ -n "$state" ] && teardown $$
  [ -n "$reaper" ] && kill "$reaper" 2>/dev/null || true
  exit $rc
}
on_signal() {
  echo "netlab: caught SIG$1, stopping the job and removing lab $lab" >&2
  exit $((128 + $2))
}
trap on_exit EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

# step WHAT CMD...: runs CMD; on failure refuses the lab with one line naming what failed.
step() {
  local what=$1 err
  shift
  if ! err=$("$@" 2>&1); then
    err=$(echo "$err" | tr '\n' ' ' | sed 's/ *$//')
    die "cannot create $what: $* failed: ${err:-non-zero exit}"
  fi
}

state=$(mktemp -d "/tmp/$lab.XXXXXX")
setsid "$self" --reap $$ < /dev/null > /dev/null 2>&1 &
reaper=$!

sw=${lab}s head=${lab}h bridge=${lab}br
step "network namespaces" ip netns add "$sw"
step "network namespaces" ip netns add "$head"
for ((i = 0; i < ranks; ++i)); do step "network namespaces" ip netns add "$(rank_ns $i)"; done
step "a bridge" ip -n "$sw" link add "$bridge" type bridge
step "a bridge" ip -n "$sw" link set "$bridge" up

# connect NS NIC PORT ADDR: a veth pair made inside the namespaces, the host's end addressed.
connect() {
  step "veth pairs" ip link add name "$2" netns "$1" type veth peer name "$3" netns "$sw"
  step "veth pairs" ip -n "$1" link set dev "$2" gso_max_size $gso_bytes
  step "veth pairs" ip -n "$sw" link set dev "$3" gso_max_size $gso_bytes master "$bridge" up
  step "addresses" ip -n "$1" link set lo up
  step "addresses" ip -n "$1" addr add "$4/24" dev "$2"
  step "addresses" ip -n "$1" link set "$2" up
}
# The head's link carries the launch and mpirun's I/O forwarding only: not shaped.
connect "$head" "${lab}h" "${lab}ph" "$head_addr"
for ((i = 0; i < ranks; ++i)); do
  connect "$(rank_ns $i)" "${lab}r$i" "${lab}p$i" "$(rank_addr $i)"
  if [ $shaped -eq 1 ]; then
    # Both directions: the host's egress, and the switch port's egress towards the host.
    tbf=(root tbf rate "$rate" burst "$burst" latency "${queue_ms}ms")
    step "tc shaping" tc -n "$(rank_ns $i)" qdisc add dev "${lab}r$i" "${tbf[@]}"
    step "tc shaping" tc -n "$sw" qdisc add dev "${lab}p$i" "${tbf[@]}"
  fi
done

# The rsh agent: mpirun calls it as it would call ssh, `agent HOST COMMAND...`, from the head
# namespace; the command runs in the network namespace of the host with that address, in a UTS
# namespace named after it (gethostname, MPI's processor name, Open MPI's session directory).
{
  echo '#!/bin/sh'
  echo "# rsh agent of netlab $lab (scripts/netlab.sh)"
  echo 'host=$1; shift'
  echo 'case $host in'
  for ((i = 0; i < ranks; ++i)); do echo "  $(rank_addr $i)) ns=$(rank_ns $i) ;;"; done
  echo "  *) echo \"netlab agent: no host \$host in lab $lab\" >&2; exit 255 ;;"
  echo 'esac'
  echo 'exec ip netns exec "$ns" unshare --uts \'
  echo '  sh -c '"'"'hostname "$0" && exec sh -c "$1"'"'"' "$ns" "$*"'
} > "$state/agent"
chmod 755 "$state/agent"
for ((i = 0; i < ranks; ++i)); do echo "$(rank_addr $i) slots=1"; done > "$state/hostfile"

links="unshaped veth"
[ $shaped -eq 1 ] && links="$rate each way (tbf burst $burst B, queue $queue_ms ms)"
cc=$(ip netns exec "$head" cat /proc/sys/net/ipv4/tcp_congestion_control)
echo "netlab: lab $lab: $ranks host(s) $(rank_addr 0)..$(rank_addr $((ranks - 1)))/24," \
     "links $links, TCP $cc" >&2

if [ "$mode" = check ]; then
  echo "netlab: ok: namespaces, veth pairs, a bridge and tc work here"
  exit 0
fi

# Open MPI over the lab: one rank per host, TCP on the lab's subnet only (no shared memory, no
# UCX), every daemon started by mpirun itself, threads free on every core (each "host" would
# otherwise bind its rank to core 0 of the same machine).
mpi_args=(--hostfile "$state/hostfile" --map-by node --bind-to none
          --mca plm_rsh_agent "$state/agent" --mca plm_rsh_no_tree_spawn 1
          --mca pml ob1 --mca btl tcp,self
          --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24")

# Ranks waiting in MPI yield the core: here the kernel's softirq work is the network hardware,
# and ranks spinning on every core delay it to the next scheduler tick (4 ms at HZ=250; measured
# 2-8 ms half round trips instead of 10 us on a loaded machine). `--mca mpi_yield_when_idle 0`
# in the job's arguments overrides it.
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}

run_job() {
  # In the background, so that a signal reaches the traps while the job runs.
  ip netns exec "$head" "$here/mpirun" "${mpi_args[@]}" "$@" &
  wait $!
}

# What each host's link carried during the job: only the lab's own traffic crosses it.
link_bytes() {
  for ((i = 0; i < ranks; ++i)); do
    ip -n "$(rank_ns $i)" -s link show "${lab}r$i" 2>/dev/null |
      awk -v h="r$i $(rank_addr $i)" '/RX:/ { getline; rx = $1 } /TX:/ { getline; tx = $1 }
                   END { printf "netlab: host %s link: sent %d B, received %d B\n", h, tx, rx }'
  done
}

rc=0
if [ "$mode" = probe ]; then
  if command -v ping > /dev/null; then
    echo "netlab: ICMP echo $(rank_addr 0) -> $(rank_addr 1), 56-byte payload:"
    ip netns exec "$(rank_ns 0)" ping -q -n -c 50 -i 0.02 "$(rank_addr 1)" |
      grep -E 'rtt|packets' || echo "netlab: ping failed"
  else
    echo "netlab: no ping (Debian: iputils-ping): ICMP round trip not measured"
  fi
  echo "netlab: MPI (Open MPI, TCP) over the lab:"
  run_job -np "$ranks" "$probe_bin" --max-bytes "$max_bytes" || rc=$?
else
  run_job "$@" || rc=$?
  link_bytes >&2
fi
exit $rc
