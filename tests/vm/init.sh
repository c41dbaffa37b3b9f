#!/bin/bash
# PID 1 of the cgroup-v2 test guest booted by tests/vm/guest.py.
#
# The initramfs has mounted the host's / read-only over 9p (cache=loose) as the new root, a tmpfs on /run
# with a static busybox in /run/mkpy, moved its devtmpfs to /dev and switch_root'ed to `bash <this file>`.
# Setup commands go through that busybox: under TCG exec'ing it costs ~16 ms, a dynamically linked host
# binary ~60-130 ms.  Parameters come from the kernel command line (the kernel does not pass dotted names
# to init's environment, so they are read from /proc/cmdline):
#   mk.repo=DIR      working directory of the command (the repository root); DIR/.venv/bin goes on PATH
#   mk.host=NAME     hostname
#   mk.out=DIR       mount the writable 9p share tagged "out" on DIR (same path as on the host)
#   mk.cmd=BASE64    the shell command, base64-encoded  (or mk.cmdfile=PATH, a file on the out share)
#   mk.ip=CIDR mk.gw=IP   optional static eth0 (virtio-net); there is no NIC unless the caller adds one
# The command's exit status is printed as "@@mkpy-guest-exit=N@@" on the console (exact, 0..255) and
# reported through QEMU's isa-debug-exit device (QEMU exits with 2*min(N,127)+1), then the guest powers off.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 022
bb=/run/mkpy/busybox
[[ -x $bb ]] || bb=""  # used unquoted: without it, the host's tools run instead

log() { echo "mkpy-init: $*" >&2; }

# Report the status and stop the machine.  Never returns.
power_off() {
    local rc=$1 hex
    echo "@@mkpy-guest-exit=${rc}@@"
    $bb sleep 0.05  # let the serial driver drain the console before QEMU exits
    printf -v hex %02x $((rc > 127 ? 127 : rc))
    # isa-debug-exit at port 0xf4 (=244): QEMU exits at once with (code << 1) | 1.
    printf "\\x$hex" | $bb dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
    echo o > /proc/sysrq-trigger  # fallback: plain power-off (QEMU exits 0; the console marker still counts)
    $bb sleep 10
    exit "$rc"  # last resort: init exits -> panic=-1 -> reboot -> QEMU (-no-reboot) exits
}

$bb mount -t proc -o nosuid,nodev,noexec proc /proc
$bb mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
[[ -e /dev/null ]] || $bb mount -t devtmpfs devtmpfs /dev

declare -A param=()
read -r -a cmdline_words < /proc/cmdline
for word in "${cmdline_words[@]}"; do
    [[ "$word" == mk.*=* ]] && param["${word%%=*}"]="${word#*=}"
done

overlay_dirs=(/etc /var /root /home)
$bb mkdir -p /dev/pts /dev/shm "${overlay_dirs[@]/#//run/mkpy/upper}" "${overlay_dirs[@]/#//run/mkpy/work}"
$bb mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
$bb mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm

# A clean /tmp, never the host's files.  A checkout under /tmp (CI clones to /tmp/ci-*/) stays visible: it is
# bind-mounted from the 9p root onto the same path inside the new tmpfs.
repo="${param[mk.repo]:-/}"
[[ "$repo" == /tmp/* ]] && $bb mkdir -p /run/mkpy/repo && $bb mount --bind "$repo" /run/mkpy/repo
$bb mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
[[ "$repo" == /tmp/* ]] && $bb mkdir -p "$repo" && $bb mount --move /run/mkpy/repo "$repo"

# Writable views of the directories programs write to: an overlay (host lower, tmpfs upper) keeps the
# host's content visible (/etc/passwd, /root/.pyenv, ...) while writes stay in guest RAM.
for dir in "${overlay_dirs[@]}"; do
    if ! $bb mount -t overlay overlay -o "lowerdir=$dir,upperdir=/run/mkpy/upper$dir,workdir=/run/mkpy/work$dir" "$dir"
    then
        log "overlay on $dir failed, using an empty tmpfs"
        $bb mount -t tmpfs -o mode=755 tmpfs "$dir"
    fi
done

# A pure cgroup v2 hierarchy with the controllers the node agent's v2 driver uses enabled for children.
$bb mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup
for controller in cpu memory pids io cpuset; do
    echo "+$controller" > /sys/fs/cgroup/cgroup.subtree_control || log "cannot enable cgroup controller $controller"
done

hostname="${param[mk.host]:-cgv2guest}"
echo "$hostname" > /proc/sys/kernel/hostname
echo "$hostname" > /etc/hostname
$bb ip link set lo up || log "cannot bring up lo"

if [[ -n "${param[mk.ip]:-}" ]]; then
    modprobe virtio_net
    $bb ip addr add "${param[mk.ip]}" dev eth0 && $bb ip link set eth0 up
    [[ -n "${param[mk.gw]:-}" ]] && $bb ip route add default via "${param[mk.gw]}"
fi

out_dir="${param[mk.out]:-}"
if [[ -n "$out_dir" ]]; then
    # No cache: every write is a 9p request, so the host sees the results (junit.xml) as soon as they
    # are written.  mkdir: under /tmp (a fresh tmpfs here) the host path does not exist yet.
    $bb mkdir -p "$out_dir"
    $bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none,rw out "$out_dir" \
        || { log "cannot mount the out share on $out_dir"; power_off 125; }
fi

if [[ -n "${param[mk.cmdfile]:-}" ]]; then
    command=$(<"${param[mk.cmdfile]}") || power_off 125
else
    command=$(printf %s "${param[mk.cmd]:-}" | $bb base64 -d) || power_off 125
fi

cd "$repo" || power_off 125
$bb env -i \
    HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8 \
    PATH="$repo/.venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1 MKPY_IN_GUEST=1 \
    /bin/bash -c "$command" < /dev/null
power_off $?
