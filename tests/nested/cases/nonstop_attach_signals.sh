# Issue 19 on real KVM: svedbg attached to a plain svedbg-vmm (vl512 on 2
# vCPUs spinning in `add x20, x20, #1`) with a client in non-stop mode
# connected (QNonStop:1 then `?`: vCPU 0's thread held in a ptrace stop and
# read, vCPU 1's and the VMM's other threads running) is sent SIGKILL,
# SIGTERM or SIGINT. Each time the VMM must be left untraced and running
# with its state as before: the hash of every register but the spin
# counters x20 and pc (and of the guest's RAM) is the same before and
# after, and every vCPU's x20 has moved on. As attach_signals.sh (all-stop).
# run-guest (RUN_GUEST_SCRIPT) prefixes each output line with "vm: ".
set -u
. /guest/lib.sh
svedbg=/bin/svedbg
x20() { sed -n 's/.*"x20": "\(0x[0-9a-f]*\)".*/\1/p' "$1" | tr '\n' ' '; }  # one per vCPU
states() { cat /proc/$VMM_PID/task/*/status | sed -n 's/^State:[[:space:]]*//p' | sort | uniq -c | tr -s ' \n' ' '; }

port=1240
for sig in TERM INT KILL; do
  dump /tmp/before.json
  text /tmp/before.text
  port=$((port + 1))
  rm -f /tmp/serve.out /tmp/client.out
  "$svedbg" serve --pid "$VMM_PID" --listen 127.0.0.1:$port >/tmp/serve.out 2>&1 &
  spid=$!
  i=0; while ! grep -qs "svedbg: serving" /tmp/serve.out && [ $i -lt 300 ]; do usleep 100000; i=$((i + 1)); done
  # A client: the stop reply and every register (`g`), then it stays connected.
  # Non-stop: vCPU 0 stays stopped and is read (`g`), vCPU 1 runs.
  { printf '+$QNonStop:1#8d'; sleep 1; printf '+$?#3f'; sleep 1; printf '+$g#67'; sleep 30; } |
    nc 127.0.0.1 $port >/tmp/client.out 2>&1 &
  cpid=$!
  wait_traced_by "$spid" 300
  sleep 3
  echo "$sig: attached: TracerPid $(tracer) (svedbg $spid), VMM threads:$(states)"
  if grep -q '[$]T[0-9a-f][0-9a-f]thread:1;' /tmp/client.out; then echo "$sig: client got vCPU 0's stop reply"; else
    echo "$sig: no stop reply; svedbg said:"; sed 's/^/  | /' /tmp/serve.out
    echo "client got:"; sed 's/^/  | /' /tmp/client.out; echo; fi
  kill -"$sig" "$spid"
  i=0; while [ "$(tracer)" != "0" ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
  wait "$spid" 2>/dev/null; rc=$?
  kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
  sleep 1
  echo "$sig: svedbg exited with status $rc; TracerPid now $(tracer); VMM state $(grep '^State:' /proc/$VMM_PID/status | cut -f2)"
  compare_after_signal "$sig"
  set -- $(x20 /tmp/before.json) $(x20 /tmp/after.json)
  if [ $# -eq 4 ] && [ $(($3)) -gt $(($1)) ] && [ $(($4)) -gt $(($2)) ]; then
    echo "$sig: both vCPUs ran on (x20 $1 -> $3, $2 -> $4)"
  else echo "$sig: the guest did NOT run on (x20 before: $1 $2, after: $3 $4)"; fi
done
exec "$svedbg" serve --pid "$VMM_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated
