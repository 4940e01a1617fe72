#!/usr/bin/env python3
"""`svedbg ps` on this host's real /proc and KVM.

A tiny x86 VMM (below, in Python through ctypes) creates a VM with an
in-kernel irqchip and three vCPUs, one thread each: vCPU 0 executes `hlt`
with interrupts off and vCPU 1 is an AP waiting for INIT/SIPI, so both
threads sleep inside ioctl(fd, KVM_RUN) and /proc/PID/task/TID/syscall
names their fds; vCPU 2's thread ran KVM_RUN once (immediate_exit) and now
waits elsewhere, which only KVM's debugfs (vcpu2/pid) tells. ps must list
the pid, the VM fd, the vCPUs with their fds and threads (source kvm_run;
vCPU 2 unknown, or debugfs when debugfs is mounted, tried in a private
mount namespace), "-" for the VL columns (no SVE on this host), and the
same in --json. Run as another user (nobody), ps cannot read the VMM's fds:
it lists it (a thread is named "CPU 0/KVM") with the reason. Also: no VMM
-> exit 0 and one clear line; --vl without SVE says so. Where /dev/kvm,
root or debugfs cannot be used, the checks that need them are skipped and
the test ends as skipped (77), not passed.
"""
import json
import os
import pwd
import re
import subprocess
import sys
import tempfile
import time

from harness import *

VMM = r'''
import ctypes, mmap, os, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
def ioctl(fd, req, arg=None):
    r = libc.ioctl(fd, req, arg)
    if r < 0:
        raise OSError(ctypes.get_errno(), f"ioctl {req:#x}")
    return r
def name(n):
    libc.prctl(15, n.encode(), 0, 0, 0)  # PR_SET_NAME
name("fake-vmm")
kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
vm = ioctl(kvm, 0xAE01, 0)                        # KVM_CREATE_VM
ioctl(vm, 0xAE47, 0xFFFBD000)                     # KVM_SET_TSS_ADDR (VMX real mode)
ioctl(vm, 0xAE60)                                 # KVM_CREATE_IRQCHIP
ram = mmap.mmap(-1, 0x10000)
ram.write(b"\xf4" * 0x10000)                      # hlt everywhere; reset vector 0xfffffff0
class Region(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("gpa", ctypes.c_uint64),
                ("size", ctypes.c_uint64), ("hva", ctypes.c_uint64)]
hva = ctypes.addressof(ctypes.c_char.from_buffer(ram))
region = Region(0, 0, 0xFFFF0000, 0x10000, hva)
ioctl(vm, 0x4020AE46, ctypes.addressof(region))   # KVM_SET_USER_MEMORY_REGION
vcpus = [ioctl(vm, 0xAE41, i) for i in range(3)]   # KVM_CREATE_VCPU 0, 1, 2
run_size = ioctl(kvm, 0xAE04)                     # KVM_GET_VCPU_MMAP_SIZE
tids = [None, None, None]
def run(i, thread_name):
    name(thread_name)
    tids[i] = threading.get_native_id()
    while True:
        try:
            ioctl(vcpus[i], 0xAE80)               # KVM_RUN: sleeps in the kernel
        except OSError as e:
            print(f"vcpu {i}: {e}", file=sys.stderr, flush=True)
            return
        print(f"vcpu {i}: KVM_RUN returned", file=sys.stderr, flush=True)
def run_once(i, thread_name):
    name(thread_name)
    kvm_run = mmap.mmap(vcpus[i], run_size)
    kvm_run[1] = 1                                # immediate_exit: KVM_RUN returns EINTR at once
    try:
        ioctl(vcpus[i], 0xAE80)
    except OSError:
        pass
    tids[i] = threading.get_native_id()
    threading.Event().wait()                      # waits in futex, not in KVM_RUN
threads = [threading.Thread(target=run, args=(0, "CPU 0/KVM"), daemon=True),
           threading.Thread(target=run, args=(1, "vcpu-one-thr"), daemon=True),
           threading.Thread(target=run_once, args=(2, "worker"), daemon=True)]
for t in threads: t.start()
while None in tids: pass
print(f"ready vm={vm} vcpus={vcpus[0]},{vcpus[1]},{vcpus[2]} tids={tids[0]},{tids[1]},{tids[2]}", flush=True)
sys.stdin.read()  # until the test closes stdin
'''


def ps(*args, user=None, check=True):
    p = subprocess.run([SVEDBG, "ps", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60, user=user)
    if check and p.returncode != 0:
        raise AssertionError(f"svedbg ps {' '.join(args)} exited with {p.returncode}: {p.stderr}")
    return p


def until(fetch, ok, timeout=60):
    """fetch() until ok(result), bounded: the last result. A vCPU thread can be out of KVM_RUN for a
    moment (a request from the host kernel), and just after the VMM starts it may not be in it yet."""
    deadline = time.monotonic() + timeout
    while True:
        r = fetch()
        if ok(r) or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def mine_of(doc, pid):
    return [v for v in doc["vmms"] if v["pid"] == pid]


def in_kvm_run(doc, pid):
    """vCPUs 0 and 1 of the VMM `pid` listed with the threads blocked in their KVM_RUN."""
    m = mine_of(doc, pid)
    return bool(m) and len(m[0]["vcpus"]) >= 2 and all(x["thread_source"] == "kvm_run" for x in m[0]["vcpus"][:2])


c = Checker("e2e ps")

# The CLI on an empty fake /proc: exit 0 and one clear line; the JSON shape.
with tempfile.TemporaryDirectory() as root:
    for pid, comm in ((1, "init"), (7, "sh")):
        os.makedirs(f"{root}/{pid}/fd")
        with open(f"{root}/{pid}/comm", "w") as f:
            f.write(comm + "\n")
    p = ps("--proc-root", root)
    c.expect(p.stdout == "no KVM VMMs found (looked at 2 processes)\n", "no VMM: one line, exit 0", p.stdout)
    doc = json.loads(ps("--proc-root", root, "--json").stdout)
    c.expect(doc["vmms"] == [] and doc["processes"] == 2 and doc["svedbg_ps"] == 1, "no VMM: JSON", doc)
    p = ps("--proc-root", root, "--vl", check=False)
    c.expect(p.returncode == 2 and "--proc-root" in p.stderr, "--vl refuses a fake /proc", p.stderr)

# The real /proc.
doc = json.loads(ps("--json").stdout)
c.expect(doc["processes"] > 1, "the real /proc has processes", doc)

kvm_ok = os.access("/dev/kvm", os.R_OK | os.W_OK)
if not kvm_ok:
    c.skip("the checks with a real KVM VMM", "/dev/kvm not usable here")
else:
    vmm = subprocess.Popen([sys.executable, "-c", VMM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        line = vmm.stdout.readline()
        m = re.match(r"ready vm=(\d+) vcpus=(\d+),(\d+),(\d+) tids=(\d+),(\d+),(\d+)", line)
        if not m:
            vmm.kill()
            raise AssertionError(f"the test VMM did not start: {line!r} {vmm.stderr.read()!r}")
        vm_fd, fd0, fd1, fd2, tid0, tid1, tid2 = map(int, m.groups())
        # vCPUs 0 and 1 block in KVM_RUN within moments.
        doc = until(lambda: json.loads(ps("--json").stdout), lambda d: in_kvm_run(d, vmm.pid))
        mine = mine_of(doc, vmm.pid)
        c.expect(len(mine) == 1, "the test VMM is listed", json.dumps(doc, indent=1))
        if mine:
            e = mine[0]
            c.expect(e["comm"] == "fake-vmm" and e["vm_fds"] == [vm_fd], "pid, comm and VM fd", e)
            c.expect(e["cmdline"][0] == sys.executable, "cmdline", e)
            c.expect(e["traced_by"] is None and e["vl_error"] is None, "not traced, no VL error", e)
            got = [(x["id"], x["fd"], x["tid"], x["thread_name"], x["thread_source"]) for x in e["vcpus"]]
            want = [(0, fd0, tid0, "CPU 0/KVM", "kvm_run"), (1, fd1, tid1, "vcpu-one-thr", "kvm_run")]
            c.expect(got[:2] == want, "vCPUs 0 and 1: fds and the threads blocked in KVM_RUN", got)
            c.expect(len(got) == 3 and got[2][:2] == (2, fd2) and got[2][4] in (None, "debugfs"),
                     "vCPU 2: its fd; its thread unknown unless debugfs is mounted", got)
            # Python's mmap dup()s vCPU 2's fd: two fds, one vCPU.
            c.expect(len(got) == 3 and len(e["vcpus"][2].get("fds", [])) == 2 and e["vcpus"][2]["fds"][0] == fd2,
                     "vCPU 2: both of its fds", e["vcpus"])
            c.expect(all(x["sve"] is None and x["vls"] is None and x["effective_vl"] is None for x in e["vcpus"]),
                     "no VL fields without --vl", e)
            c.expect({t["tid"] for t in e["threads"]} >= {vmm.pid, tid0, tid1, tid2}, "threads listed", e)
            # x86 KVM's NX huge page recovery worker (Linux >= 6.13: a thread of the VMM, forked from a
            # vCPU thread inside KVM_RUN) shows that KVM_RUN in its syscall file: marked, never taken.
            workers = [t for t in e["threads"] if t.get("kernel_worker")]
            print(f"e2e ps: kernel workers in the VMM: {workers}")

        rows = [rf"^{vmm.pid} +fake-vmm +{vm_fd} +{vcpu} +{fd} +{tid} +{re.escape(name)} +kvm_run +- +-$"
                for vcpu, fd, tid, name in ((0, fd0, tid0, "CPU 0/KVM"), (1, fd1, tid1, "vcpu-one-thr"))]
        text = until(lambda: ps().stdout, lambda t: all(re.search(r, t, re.M) for r in rows))
        for vcpu, fd, tid, name in ((0, fd0, tid0, "CPU 0/KVM"), (1, fd1, tid1, "vcpu-one-thr")):
            c.expect_re(rf"^{vmm.pid} +fake-vmm +{vm_fd} +{vcpu} +{fd} +{tid} +{re.escape(name)} +kvm_run +- +-$",
                        text, f"text row of vCPU {vcpu}")
        c.expect(text.splitlines()[0].split() == ["PID", "COMMAND", "VM", "FD", "VCPU", "FD", "TID", "THREAD",
                                                  "SOURCE", "VLS", "VL"], "header", text)

        # KVM's debugfs names vCPU 2's thread (the last to run it): mounted in a private mount
        # namespace, so the host's mounts stay as they are.
        def ps_debugfs():
            return subprocess.run(["unshare", "-m", "sh", "-c",
                                   f"mount -t debugfs none /sys/kernel/debug && "
                                   f"ls -d /sys/kernel/debug/kvm/{vmm.pid}-*/vcpu2/pid >/dev/null && "
                                   f"exec {SVEDBG} ps --json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        p = until(ps_debugfs, lambda p: p.returncode != 0 or in_kvm_run(json.loads(p.stdout), vmm.pid))
        if p.returncode != 0:
            c.skip("vCPU 2's thread from KVM's debugfs", f"debugfs with vcpuN/pid not available ({p.stderr.strip()})")
        else:
            mine = [v for v in json.loads(p.stdout)["vmms"] if v["pid"] == vmm.pid]
            got = [(x["id"], x["tid"], x["thread_name"], x["thread_source"]) for x in mine[0]["vcpus"]] if mine else []
            c.expect(got == [(0, tid0, "CPU 0/KVM", "kvm_run"), (1, tid1, "vcpu-one-thr", "kvm_run"),
                             (2, tid2, "worker", "debugfs")], "with debugfs: vCPU 2's thread from KVM's vcpu2/pid", got)

        # --vl without SVE (x86_64): the list, a note, nothing stopped.
        p = until(lambda: ps("--vl"),
                  lambda p: re.search(rf"^{vmm.pid} +fake-vmm .* kvm_run +- +-$", p.stdout, re.M) is not None)
        c.expect_re(rf"^{vmm.pid} +fake-vmm .* kvm_run +- +-$", p.stdout, "--vl on x86: VL columns '-'")
        c.expect_in("--vl: vector lengths are arm64 SVE state", p.stdout, "--vl on x86: says why")
        c.expect(vmm.poll() is None, "the VMM runs on")

        # Another user: the fds are not readable; the VMM is listed by its thread name, with the reason.
        try:
            nobody = pwd.getpwnam("nobody").pw_uid
        except KeyError:
            nobody = None
        if os.geteuid() != 0 or nobody is None:
            c.skip("the unreadable-VMM check", "not root, or no user nobody")
        else:
            p = ps(user=nobody)
            c.expect_re(rf"^{vmm.pid} +fake-vmm .*not readable: another user's process \(uid {os.geteuid()}\): "
                        r"run svedbg ps as root", p.stdout, "as nobody: the VMM with the reason")
            doc = json.loads(ps("--json", user=nobody).stdout)
            c.expect(any(u["pid"] == vmm.pid for u in doc["unreadable_vmms"]) and doc["unreadable"] >= 1,
                     "as nobody: JSON unreadable_vmms", doc)
    finally:
        vmm.stdin.close()
        try:
            vmm.wait(timeout=10)
        except subprocess.TimeoutExpired:
            vmm.kill()
            vmm.wait()
c.done()
