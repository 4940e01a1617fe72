# Issue 9 on real KVM: the VMM dies while one of its threads runs svedbg's
# batch loop (kvm/attach/inject_batch.hpp), the one moment svedbg's own code runs
# inside the VMM. svedbg's fault injection kills it there instead of hoping a
# kill lands in a trip: `svedbg serve` reads SVEDBG_FAULT_INJECT once and
# hands the attach backend a hook (AttachOptions::faults,
# kvm/attach/attach_options.hpp) that it calls as each batch starts.
# svedbg must report the reads as failed, notice the exit, stay up, and
# tell a new client the guest is gone.
set -u
. /guest/lib.sh
svedbg=/bin/svedbg
spid_file=/tmp/svedbg.pid
(
  spid=$(pid_from "$spid_file")
  i=0; while kill -0 "$VMM_PID" 2>/dev/null && [ $i -lt 1200 ]; do usleep 100000; i=$((i + 1)); done
  if kill -0 "$VMM_PID" 2>/dev/null; then echo "watcher: the VMM is still alive"; exit 0; fi
  echo "watcher: the VMM is gone"
  ask_after_vmm_exit "$spid"
) &
SVEDBG_FAULT_INJECT=kill-vmm-in-batch:3 "$svedbg" serve --pid "$VMM_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated &
echo $! >"$spid_file"
wait $!
echo "svedbg exited with status $?"
