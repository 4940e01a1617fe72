# Issue 9 on real KVM: svedbg attached to a plain svedbg-vmm (vl512, one vCPU
# spinning in `add x20, x20, #1`) with a client connected (the VMM stopped,
# every thread traced, KVM_RUN rewound) is sent SIGKILL, SIGTERM or SIGINT.
# Each time the VMM must be left untraced and running, with its state as
# before: the hash of every register but the spin counter x20 and pc (and
# of the guest's RAM) is the same before and after, and x20 has moved on.
# The VMM's executable memory (where the batch loop runs during a stop,
# kvm/attach/code_cave.hpp) is as before after TERM and INT; after KILL, which
# svedbg cannot catch, only the loop's bytes past the end of its code may
# differ. KILL comes last, so that TERM and INT start from the VMM's own.
# run-guest (RUN_GUEST_SCRIPT) prefixes each output line with "vm: ".
set -u
. /guest/lib.sh
svedbg=/bin/svedbg
x20() { sed -n 's/.*"x20": "\(0x[0-9a-f]*\)".*/\1/p' "$1"; }

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
  { printf '+$?#3f'; sleep 1; printf '+$g#67'; sleep 30; } | nc 127.0.0.1 $port >/tmp/client.out 2>&1 &
  cpid=$!
  wait_traced_by "$spid" 300
  sleep 3
  echo "$sig: attached: TracerPid $(tracer) (svedbg $spid), VMM state $(grep '^State:' /proc/$VMM_PID/status | cut -f2)"
  if grep -q 'T05' /tmp/client.out; then echo "$sig: client got a stop reply"; else
    echo "$sig: no stop reply; svedbg said:"; sed 's/^/  | /' /tmp/serve.out
    echo "client got:"; sed 's/^/  | /' /tmp/client.out; echo; fi
  kill -"$sig" "$spid"
  i=0; while [ "$(tracer)" != "0" ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
  wait "$spid" 2>/dev/null; rc=$?
  kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
  sleep 1
  echo "$sig: svedbg exited with status $rc; TracerPid now $(tracer); VMM state $(grep '^State:' /proc/$VMM_PID/status | cut -f2)"
  compare_after_signal "$sig"
  x0=$(x20 /tmp/before.json) x1=$(x20 /tmp/after.json)
  if [ $((x1)) -gt $((x0)) ]; then echo "$sig: the guest ran on (x20 $x0 -> $x1)"; else echo "$sig: the guest did NOT run on (x20 $x0 -> $x1)"; fi
done
exec "$svedbg" serve --pid "$VMM_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated
