# The VM side of case ps_qemu: Debian's arm64 qemu-system-aarch64 runs the
# vl512 image with KVM on 2 vCPUs (as in qemu_vmm.sh); `svedbg ps` lists
# it, then svedbg serves it to gdb. run-guest prefixes output with "vm: ".
# Checks that need QEMU's pid or thread ids print "check: ... ok|FAILED".
set -u
. /guest/lib.sh
mib=64
# debug-threads=on: QEMU names its vCPU threads "CPU N/KVM" (it does not by default).
start_qemu -name vl512,debug-threads=on -machine virt,gic-version=3,memory-backend=ram -smp 2 -m "$mib" \
  -object memory-backend-memfd,id=ram,size="${mib}M"
tid_named() { for t in /proc/$QEMU_PID/task/*; do [ "$(cat "$t/comm")" = "$1" ] && basename "$t"; done; }
t0=$(tid_named "CPU 0/KVM") t1=$(tid_named "CPU 1/KVM")
echo "qemu: threads named CPU 0/KVM: $t0, CPU 1/KVM: $t1"
check() {  # FILE VCPU TID SOURCES VLS VL: the row of QEMU's vCPU
  if grep -Eq "^$QEMU_PID +qemu-system-aar +[0-9,]+ +$2 +[0-9,]+ +$3 +CPU $2/KVM +($4) +$5 +$6\$" "$1"; then
    echo "check: $1: vCPU $2: thread $3 (CPU $2/KVM), VLS $5, VL $6: ok"
  else
    echo "check: $1: vCPU $2: thread $3 (CPU $2/KVM), VLS $5, VL $6: FAILED:"; grep "^$QEMU_PID " "$1"
  fi
}

echo "== ps"
/bin/svedbg ps >/tmp/ps.out 2>&1; rc=$?; cat /tmp/ps.out; echo "status $rc"
check /tmp/ps.out 0 "$t0" "name" - -
check /tmp/ps.out 1 "$t1" "kvm_run|name" - -
echo "== ps --json"
/bin/svedbg ps --json >/tmp/ps.json 2>&1; rc=$?; cat /tmp/ps.json; echo "status $rc"
echo "== ps --vl"
/bin/svedbg ps --vl >/tmp/vl.out 2>&1; rc=$?; cat /tmp/vl.out; echo "status $rc"
check /tmp/vl.out 0 "$t0" "attach|kvm_run" "128-2048 bits" "512 bits"
check /tmp/vl.out 1 "$t1" "attach|kvm_run" "128-2048 bits" "128 bits"
echo "after ps --vl: TracerPid $(sed -n 's/^TracerPid:[[:space:]]*//p' /proc/$QEMU_PID/status)"
echo "== ps --vl --json"
/bin/svedbg ps --vl --json >/tmp/vl.json 2>&1; rc=$?; cat /tmp/vl.json; echo "status $rc"
for v in 0 1; do
  eval "t=\$t$v"
  if grep -q "\"id\": $v, \"fd\": [0-9]*, \"tid\": $t, \"thread_name\": \"CPU $v/KVM\"" /tmp/vl.json; then
    echo "check: ps --vl --json: vCPU $v thread $t: ok"; else echo "check: ps --vl --json: vCPU $v thread $t: FAILED"; fi
done

line=$(grep -m1 '/memfd:memory-backend-memfd' /proc/$QEMU_PID/maps)
range=${line%% *}
start=$((0x${range%-*})) end=$((0x${range#*-}))
exec /bin/svedbg serve --pid "$QEMU_PID" --listen 0.0.0.0:1234 --allow-remote-unauthenticated --mem "$(printf '0x40000000:0x%x:0x%x' "$start" $((end - start)))"
