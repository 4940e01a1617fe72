# Case multi_two_vmms: extended-remote to one `serve --multi` daemon; this
# gdb attaches svedbg-vmm and, while it holds it, a second gdb-multiarch
# attaches QEMU; each reads its own guest (vl512: vCPU 0 at VL 512, z0 byte
# 63 = 0x3f, byte 64 = 0; QEMU's vCPU 1 never started: VL 128 as reset).
# The nested VM is slow (TCG, loaded machine); gdb's 2 s would resend packets.
set remotetimeout 30
python
import os, re, subprocess

ADDR = "127.0.0.1:" + os.environ["RUN_GUEST_PORT_1234"]
gdb.execute("target extended-remote " + ADDR)
table = gdb.execute("info os processes", to_string=True)
print(table)
vmm = re.search(r"^(\d+)\s+\S+\s+/bin/svedbg-vmm", table, re.M).group(1)
qemu = re.search(r"^(\d+)\s+\S+\s+qemu-system-aarch64", table, re.M).group(1)
gdb.execute("attach " + vmm)
second = subprocess.run(
    ["gdb-multiarch", "-nx", "-batch", "-ex", "set remotetimeout 30", "-ex", "set confirm off",
     "-ex", "target extended-remote " + ADDR, "-ex", "attach " + qemu, "-ex", "info threads",
     "-ex", "echo second vg1:\\n", "-ex", "p $vg", "-ex", "thread 2", "-ex", "echo second vg2:\\n", "-ex", "p $vg",
     "-ex", "thread 1", "-ex", "echo second z0:\\n", "-ex", "p/x $z0.b.u[63]", "-ex", "info os processes",
     "-ex", "detach", "-ex", "attach " + vmm, "-ex", "echo second end\\n"],
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240)
for line in second.stdout.splitlines():
    print("second: " + line)
end
info threads
echo first vg:\n
p $vg
echo first z0:\n
p/x $z0.b.u[63]
p/x $z0.b.u[64]
detach
