#!/usr/bin/env bash
# Emulated WAN for bench/wan/*.ts: K network namespaces agns0..agns{K-1} on a bridge, each peer at
# 10.77.0.(i+1)/24 behind a veth shaped to RATE each way (tc tbf), and DELAY one-way latency
# between any two peers (default 50ms, so a ping RTT of 100 ms).
#   sudo bench/wan/netns.sh up 8 100mbit     |     sudo bench/wan/netns.sh down 8
#   DELAY=0 sudo bench/wan/netns.sh up 4      # no delay
# Delay: `tc netem` on each peer's upload when the kernel has sch_netem; otherwise (this machine)
# bench/wan/delayline.c, compiled on first use with gcc: an NFQUEUE consumer in each namespace
# that holds every packet arriving on eth0 for DELAY (iptables NFQUEUE rule; needs `iptables`:
# this kernel has no nft `queue` expression, only the xtables NFQUEUE target).
# See docs/allreduce.md, "Emulated WAN", for why and what was measured.
set -euo pipefail
cmd=${1:?up|down}; k=${2:-8}; rate=${3:-100mbit}; delay=${DELAY:-50ms}
here=$(cd "$(dirname "$0")" && pwd)
run=/run/agora-wan
if [ "$cmd" = down ]; then
  for i in $(seq 0 $((k - 1))); do
    if [ -f "$run/delayline-$i.pid" ]; then kill "$(cat "$run/delayline-$i.pid")" 2>/dev/null || true; rm -f "$run/delayline-$i.pid"; fi
    ip netns del "agns$i" 2>/dev/null || true; ip link del "agv$i" 2>/dev/null || true
  done
  ip link del agbr0 2>/dev/null || true
  exit 0
fi
delay_ms=$(echo "$delay" | sed -E 's/ms$//')
case "$delay_ms" in ''|*[!0-9.]*) echo "DELAY must be like 50ms, got $delay" >&2; exit 2;; esac
mkdir -p "$run"
ip link add agbr0 type bridge 2>/dev/null || true
ip link set agbr0 up
netem=0
if ip link add agprobe0 type veth peer name agprobe1 2>/dev/null; then
  tc qdisc add dev agprobe0 root netem delay 1ms 2>/dev/null && netem=1
  ip link del agprobe0
fi
mode=none
if [ "$delay_ms" != 0 ]; then
  if [ $netem = 1 ]; then mode=netem; else
    mode=delayline
    command -v iptables >/dev/null || { echo "no sch_netem and no iptables: apt-get install iptables" >&2; exit 1; }
    bin="${XDG_CACHE_HOME:-$HOME/.cache}/agora-wan/delayline"
    if [ ! -x "$bin" ] || [ "$here/delayline.c" -nt "$bin" ]; then
      mkdir -p "$(dirname "$bin")"
      gcc -O2 -o "$bin" "$here/delayline.c"
    fi
  fi
fi
shape() { # dev [netns] [netem]
  local pre=()
  [ -n "${2:-}" ] && pre=(ip netns exec "$2")
  if [ "${3:-}" = netem ]; then
    "${pre[@]}" tc qdisc add dev "$1" root handle 1: netem delay "${delay_ms}ms"
    "${pre[@]}" tc qdisc add dev "$1" parent 1:1 handle 10: tbf rate "$rate" burst 256kbit latency 400ms
  else
    "${pre[@]}" tc qdisc add dev "$1" root tbf rate "$rate" burst 256kbit latency 400ms
  fi
}
for i in $(seq 0 $((k - 1))); do
  ns="agns$i"
  ip netns add "$ns"
  ip link add "agv$i" type veth peer name eth0 netns "$ns"
  ip link set "agv$i" master agbr0 up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip addr add "10.77.0.$((i + 1))/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  shape eth0 "$ns" $([ $mode = netem ] && echo netem)   # upload (+ delay with netem)
  shape "agv$i"                                         # download
  if [ $mode = delayline ]; then
    ip netns exec "$ns" "$bin" 0 "$delay_ms" </dev/null >"$run/delayline-$i.log" 2>&1 &
    echo $! >"$run/delayline-$i.pid"
    for _ in $(seq 50); do grep -q 'delay' "$run/delayline-$i.log" 2>/dev/null && break; sleep 0.05; done
    grep -q 'delay' "$run/delayline-$i.log" || { cat "$run/delayline-$i.log" >&2; exit 1; }
    ip netns exec "$ns" iptables -t mangle -A PREROUTING -i eth0 -j NFQUEUE --queue-num 0
  fi
done
echo "netns up: $k peers, rate $rate, delay ${delay_ms}ms ($mode), netem=$netem"
