# Issue 19 on real KVM: the attached VMM dies (SIGKILL) in non-stop mode
# while svedbg holds one vCPU thread stopped and the other runs. gdb must
# hear the exit; svedbg must not hang and tells a new client the guest is
# gone.
# A watcher kills the VMM once gdb has connected (TracerPid set) and the
# VMM runs with one thread in a tracing stop (non-stop: vCPU 0 held).
set -u
. /guest/lib.sh
svedbg=/bin/svedbg
spid_file=/tmp/svedbg.pid
(
  spid=$(pid_from "$spid_file")
  wait_traced_by "$spid"
  stopped_and_running() {
    s=$(cat /proc/$VMM_PID/task/*/status 2>/dev/null | grep '^State:')
    echo "$s" | grep -q 'tracing stop' && echo "$s" | grep -qv 'tracing stop'
  }
  i=0; while ! stopped_and_running && [ $i -lt 1200 ]; do usleep 100000; i=$((i + 1)); done
  sleep 3
  states=$(cat /proc/$VMM_PID/task/*/status | sed -n 's/^State:[[:space:]]*//p' | sort | uniq -c | tr -s ' \n' ' ')
  echo "watcher: VMM threads:$states; kill -9 $VMM_PID"
  kill -9 "$VMM_PID"
  ask_after_vmm_exit "$spid"
) &
# Not exec: the watcher needs svedbg's pid.
"$svedbg" serve --pid "$VMM_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated &
echo $! >"$spid_file"
wait $!
echo "svedbg exited with status $?"
