# Shell functions for the VM-side scripts of the nested cases (busybox sh).
# run-guest ships this file as /guest/lib.sh next to RUN_GUEST_SCRIPT;
# a script uses it with `. /guest/lib.sh`.

# After the VMM has died: if svedbg (pid $1) still runs, a new client sends
# `?` and the reply is shown (the guest is gone: an X stop reply is due).
ask_after_vmm_exit() {
  sleep 5
  if kill -0 "$1" 2>/dev/null; then
    echo "watcher: svedbg still runs; a new client sends '?'"
    { printf '+$?#3f'; sleep 3; } | nc 127.0.0.1 1234 >/tmp/reply 2>&1 &
    sleep 5
    echo "watcher: the new client got: $(tr -d '\n' </tmp/reply)"
  else
    echo "watcher: svedbg exited"
  fi
}

# The pid written to file $1 by the script's main part, once it is there.
pid_from() {
  i=0; while [ ! -s "$1" ] && [ $i -lt 600 ]; do usleep 100000; i=$((i + 1)); done
  cat "$1"
}
