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

# Starts Debian's qemu-system-aarch64 with KVM (-cpu host,sve=on) on the
# vl512 image, its console in /tmp/qemu-serial.out and its stderr in
# /tmp/qemu.err, with the case's own arguments "$@" (-machine, -smp, -m,
# ...), and waits for the guest's "vl512: ready". Sets QEMU_PID; exits the
# script with QEMU's stderr if QEMU dies first or the guest is silent for
# 120 s. From then on a watcher says "qemu: EXITED" should QEMU die later
# (gdb's output shows why svedbg lost its VMM).
start_qemu() {
  qemu-system-aarch64 -nodefaults -no-user-config -display none -monitor none -accel kvm -cpu host,sve=on \
    -serial file:/tmp/qemu-serial.out -kernel /guest/image "$@" >/tmp/qemu.err 2>&1 &
  QEMU_PID=$!
  _t0=$(cut -d' ' -f1 /proc/uptime)
  _i=0
  while ! grep -q "vl512: ready" /tmp/qemu-serial.out 2>/dev/null; do
    if ! kill -0 "$QEMU_PID" 2>/dev/null; then
      wait "$QEMU_PID"; echo "qemu: exited with status $? before the guest was ready:"; cat /tmp/qemu.err; exit 1
    fi
    _i=$((_i + 1))
    [ $_i -lt 1200 ] || { echo "qemu: no \"vl512: ready\" on its serial within 120 s:"; cat /tmp/qemu.err; exit 1; }
    usleep 100000
  done
  echo "qemu: pid $QEMU_PID, guest says \"$(tr -d '\r\n' </tmp/qemu-serial.out)\" $(awk -v a="$_t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s after start"
  (while kill -0 "$QEMU_PID" 2>/dev/null; do sleep 1; done; echo "qemu: EXITED"; cat /tmp/qemu.err) &
}

# The pid tracing the VMM ($VMM_PID), 0 when untraced.
tracer() { sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$VMM_PID/status"; }

# Waits until pid $1 traces the VMM, at most $2 tenths of a second (120 s).
wait_traced_by() {
  i=0; while [ "$(tracer)" != "$1" ] && [ $i -lt "${2:-1200}" ]; do usleep 100000; i=$((i + 1)); done
}

# For the signal cases (svedbg killed while attached to a vl512 VMM whose
# vCPUs spin in `add x20, x20, #1`): a JSON dump of the VMM into $1, the
# hash of every register of such a dump but x20 and pc (which the spin loop
# changes), the VMM's executable file mappings as it runs them into $1, and
# the lines comparing the state after signal $1 with /tmp/before.{json,text}.
dump() { /bin/svedbg dump --pid "$VMM_PID" --format json -o "$1" 2>&1 || echo "dump to $1 failed"; }
reg_hash() {
  grep -E '^ *"(effective_vl|core|fpsr|fpcr|sysregs|z|p|ffr)":' "$1" |
    sed -e 's/"x20": "[^"]*", //' -e 's/"pc": "[^"]*", //' | sha256sum | cut -d' ' -f1
}
text() {
  grep ' r-xp .* /' "/proc/$VMM_PID/maps" | while read -r range _; do
    s=$((0x${range%-*})) e=$((0x${range#*-}))
    dd if="/proc/$VMM_PID/mem" bs=4096 skip=$((s / 4096)) count=$(((e - s) / 4096)) 2>/dev/null
  done >"$1"
}
compare_after_signal() {
  dump /tmp/after.json
  text /tmp/after.text
  n=$(cmp -l /tmp/before.text /tmp/after.text 2>/dev/null | wc -l)
  if [ ! -s /tmp/before.text ]; then echo "$1: executable memory NOT READ";
  elif [ "$n" -eq 0 ]; then echo "$1: executable memory unchanged ($(wc -c </tmp/before.text) bytes)";
  else echo "$1: executable memory differs in $n bytes"; fi
  a=$(reg_hash /tmp/before.json) b=$(reg_hash /tmp/after.json)
  if [ -n "$a" ] && [ "$a" = "$b" ]; then echo "$1: register hash unchanged ($a)"; else echo "$1: register hash CHANGED: $a -> $b"; fi
}
