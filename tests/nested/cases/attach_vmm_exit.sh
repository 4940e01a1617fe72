# Issue 9 on real KVM: the VMM dies (SIGKILL) while svedbg is attached and
# gdb is waiting in `continue`. gdb must get an exit stop reply and svedbg
# must not hang: it answers the next client at once.
# A watcher kills the VMM once gdb has connected (TracerPid set) and resumed
# the guest (the VMM's threads leave the tracing stop).
set -u
. /guest/lib.sh
svedbg=/bin/svedbg
spid_file=/tmp/svedbg.pid
(
  spid=$(pid_from "$spid_file")
  wait_traced_by "$spid"
  i=0; while grep -q '^State:.*t (tracing stop)' /proc/$VMM_PID/status && [ $i -lt 1200 ]; do usleep 100000; i=$((i + 1)); done
  sleep 2
  echo "watcher: VMM running under svedbg ($(grep '^State:' /proc/$VMM_PID/status | cut -f2)); kill -9 $VMM_PID"
  kill -9 "$VMM_PID"
  ask_after_vmm_exit "$spid"
) &
# Not exec: the watcher needs svedbg's pid.
"$svedbg" serve --pid "$VMM_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated &
echo $! >"$spid_file"
wait $!
echo "svedbg exited with status $?"
