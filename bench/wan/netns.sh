#!/usr/bin/env bash
# Emulated WAN for bench/wan/allreduce-wan.ts: K network namespaces agns0..agns{K-1} on a bridge,
# each peer at 10.77.0.(i+1)/24 behind a veth shaped to RATE each way (tc tbf).
#   sudo bench/wan/netns.sh up 8 100mbit     |     sudo bench/wan/netns.sh down 8
# Delay (tc netem 50 ms) is applied too when the kernel has sch_netem (this machine does not).
set -euo pipefail
cmd=${1:?up|down}; k=${2:-8}; rate=${3:-100mbit}; delay=${DELAY:-50ms}
if [ "$cmd" = down ]; then
  for i in $(seq 0 $((k - 1))); do ip netns del "agns$i" 2>/dev/null || true; ip link del "agv$i" 2>/dev/null || true; done
  ip link del agbr0 2>/dev/null || true
  exit 0
fi
ip link add agbr0 type bridge 2>/dev/null || true
ip link set agbr0 up
netem=0
if ip link add agprobe0 type veth peer name agprobe1 2>/dev/null; then
  tc qdisc add dev agprobe0 root netem delay 1ms 2>/dev/null && netem=1
  ip link del agprobe0
fi
shape() { # dev [netns]
  local pre=()
  [ -n "${2:-}" ] && pre=(ip netns exec "$2")
  if [ $netem = 1 ]; then
    "${pre[@]}" tc qdisc add dev "$1" root handle 1: netem delay "$delay"
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
  shape eth0 "$ns"   # upload
  shape "agv$i"      # download
done
echo "netns up: $k peers, rate $rate, netem=$netem"
