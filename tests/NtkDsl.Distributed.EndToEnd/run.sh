#!/usr/bin/env bash
# End-to-end check of NtkDsl.Distributed with real processes on loopback: three silo processes and a client; one silo
# process is killed by its pid while the run is paused a third of the way through; the .npy the client writes must equal
# the single-process TiledNtk result bit for bit. Prints "pass e2e" / "fail e2e" (one check) and exits non-zero on failure.
# Usage: bash tests/NtkDsl.Distributed.EndToEnd/run.sh   (builds the program in Release first)
set -uo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "fail e2e: $*"; [ -f "$work/client.log" ] && tail -n 20 "$work/client.log"; exit 1; }

dotnet build tests/NtkDsl.Distributed.EndToEnd -c Release -v q -nologo >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
app=(dotnet tests/NtkDsl.Distributed.EndToEnd/bin/Release/net10.0/NtkDsl.Distributed.EndToEnd.dll)

# Ports in a range of their own (silos base..base+2, gateways base+10..base+12), unlikely to collide with anything else.
base=$((21000 + RANDOM % 20000))
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for i in 0 1 2; do
  "${app[@]}" silo "$i" "$base" $((base + 10)) >"$work/silo$i.log" 2>&1 &
  pids+=($!)
  # Each silo is up when its gateway port listens (silo 0, the primary, holds the development membership table).
  for _ in $(seq 1 1200); do listening $((base + 10 + i)) && break; sleep 0.1; done
  listening $((base + 10 + i)) || { cat "$work/silo$i.log"; fail "silo $i did not start"; }
done

touch "$work/pause"
timeout 900 "${app[@]}" client "$work/kernel.npy" 3 $((base + 10)) "$work/pause" >"$work/client.log" 2>&1 &
client=$!
for _ in $(seq 1 3000); do [ -f "$work/pause.paused" ] && break; kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
[ -f "$work/pause.paused" ] || fail "the client did not reach a third of the tiles"
echo "killing silo 2 (pid ${pids[2]}) mid-run"
kill -9 "${pids[2]}"
rm -f "$work/pause"

"${app[@]}" reference "$work/reference.npy" || fail "reference"
wait "$client" || fail "client exited with $?"
tail -n 1 "$work/client.log"
"${app[@]}" compare "$work/kernel.npy" "$work/reference.npy" || fail "the distributed kernel differs from the single-process one"
echo "pass e2e"
