"""Throw-away QEMU guests with a pure cgroup v2 hierarchy, for testing the cgroup v2 driver for real.

The host uses cgroup v1, so the v2 tests run in a guest booted per test session.  Facts behind the recipe
(measured, see /work/shared/reference/cgroup-v2-guests.md):

* TCG, not KVM: /dev/kvm on this fleet is ``kvm_pvm``, which only runs PVM-enlightened kernels; a stock
  kernel hangs without output.  KVM is used only with real vmx/svm and no kvm_pvm.
* An uncompressed PVH ``vmlinux`` (extracted from Debian's bzImage) is booted by QEMU's PVH loader, which
  skips the firmware path and the XZ decompression that costs seconds under TCG.
* ``q35``: ``microvm`` hangs about 1 boot in 3 under TCG (TSC calibration).
* The host's ``/`` is the guest root, read-only over 9p with ``cache=loose`` (fast; a fresh guest per run,
  so nothing goes stale); the repository's venv runs unchanged.  Results come back through a second,
  writable, uncached 9p share mounted at the same path as on the host.
* The guest's PID 1 is ``init.sh`` (bash, no udev/systemd): a boot takes ~5-6 s instead of ~17 s.

Usage: ``python -m tests.vm.guest prepare`` (run by ``make install``) and
``python -m tests.vm.guest run [--mem 512M] [--cpus 1] [--out DIR] [--timeout S] -- 'shell command'``.
From Python: :func:`run_in_guest` (boot, run, power off) or :func:`start_guest` (a :class:`GuestProcess`
left running in the background, e.g. the networked node VMs of tests/vm/cluster.py).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TextIO

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = REPO_ROOT / ".guest"
INIT_SCRIPT = Path(__file__).resolve().with_name("init.sh")

# Exit status when the guest stopped without reporting one (crash, failed boot), and on timeout.
STATUS_NO_REPORT = 125
STATUS_TIMEOUT = 124

QEMU_BINARY = "qemu-system-x86_64"
# Modules the initramfs loads (9p root, overlays in init.sh); dependencies are added from modules.dep.
INITRAMFS_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
# Bump when the initramfs layout or /init changes, so that `prepare` rebuilds it.
ASSETS_FORMAT = 1
# Kernel command line limit on x86 is 2048 bytes; longer commands go through a file on the out share.
MAX_INLINE_COMMAND_B64 = 1200

EXIT_MARKER = re.compile(r"@@mkpy-guest-exit=(\d+)@@")

# Which package provides what, for clear "missing package" messages.
PACKAGE_HINTS = {
    "qemu": "qemu-system-x86",
    "kernel": "linux-image-amd64",
    "busybox": "busybox-static",
    "modprobe": "kmod",
}

# /init of the initramfs (busybox ash): load the 9p/virtio/overlay modules, mount the host's / read-only over
# 9p, put a tmpfs on its /run holding a copy of the static busybox (init.sh uses it for the setup commands:
# under TCG exec'ing a static binary costs ~16 ms against ~60-130 ms for a dynamically linked one), hand
# /dev over and switch_root to `bash <mk.init>`.  cache=loose: the guest caches what it reads from the
# read-only root (fresh per boot, so nothing goes stale), which makes Python imports much faster.
INITRAMFS_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /dev /newroot
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
fail() { echo "mkpy-initramfs: $*"; poweroff -f; }
for module in $(cat /lib/modules/load-order); do
    insmod "/lib/modules/$module" || echo "mkpy-initramfs: insmod $module failed"
done
init=
for word in $(cat /proc/cmdline); do
    case "$word" in mk.init=*) init="${word#mk.init=}" ;; esac
done
tries=0
until mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=262144 /dev/root /newroot; do
    tries=$((tries + 1))
    [ "$tries" -lt 50 ] || fail "cannot mount the 9p root"
    sleep 0.1
done
[ -n "$init" ] && [ -f "/newroot$init" ] || fail "mk.init=$init not found on the 9p root"
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /newroot/run || fail "cannot mount /run"
mkdir -p /newroot/run/mkpy
cp /bin/busybox /newroot/run/mkpy/busybox
umount /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash "$init"
"""


def inside_guest() -> bool:
    """True in a guest booted by this module: its kernel command line carries init.sh's ``mk.init=``.

    ``MKPY_IN_GUEST=1`` alone proves nothing: it is also set on the host to run the tests without their guest
    twins.  Tests use this for time bounds that must allow for an emulated (TCG) guest, where Python runs ~20x
    slower.
    """
    try:
        words = Path("/proc/cmdline").read_text().split()
    except OSError:
        return False
    return any(word.startswith("mk.init=") for word in words)


class GuestSetupError(RuntimeError):
    """A package or a prepared asset is missing; the message says what to install or run."""


@dataclasses.dataclass(frozen=True)
class GuestAssets:
    kernel_version: str
    vmlinux: Path
    initramfs: Path
    init_script: Path


@dataclasses.dataclass(frozen=True)
class GuestResult:
    returncode: int
    console_output: str
    duration: float
    timed_out: bool = False

    def console_tail(self, lines: int = 60) -> str:
        return "\n".join(self.console_output.splitlines()[-lines:])


# ----------------------------------------------------------------------------------------------------
# prepare


def _version_key(version: str) -> tuple[int | str, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version) if part)


def find_kernel() -> tuple[str, Path]:
    """The newest /boot/vmlinuz-*-amd64 whose modules are installed: (version, path)."""
    candidates = []
    for image in Path("/boot").glob("vmlinuz-*-amd64"):
        version = image.name.removeprefix("vmlinuz-")
        if (Path("/lib/modules") / version / "modules.dep").is_file():
            candidates.append((version, image))
    if not candidates:
        raise GuestSetupError(
            f"no /boot/vmlinuz-*-amd64 with modules in /lib/modules: install {PACKAGE_HINTS['kernel']}"
            " (run `make install`)"
        )
    return max(candidates, key=lambda candidate: _version_key(candidate[0]))


def _elf_program_headers(image: bytes) -> Iterable[tuple[int, int, int]]:
    """(p_type, p_offset, p_filesz) of each program header of a 64-bit little-endian ELF image."""
    if image[:4] != b"\x7fELF" or image[4] != 2 or image[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (phoff,) = struct.unpack_from("<Q", image, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", image, 0x36)
    for index in range(phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", image, phoff + index * phentsize
        )
        yield p_type, p_offset, p_filesz


PT_INTERP = 3
PT_NOTE = 4
XEN_ELFNOTE_PHYS32_ENTRY = 18  # the PVH entry point that QEMU's -kernel loader looks for


def has_pvh_entry(vmlinux: bytes) -> bool:
    for p_type, offset, size in _elf_program_headers(vmlinux):
        if p_type != PT_NOTE:
            continue
        position, end = offset, offset + size
        while position + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from("<III", vmlinux, position)
            name = vmlinux[position + 12 : position + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and note_type == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            position += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def is_static_elf(path: Path) -> bool:
    data = path.read_bytes()
    return all(p_type != PT_INTERP for p_type, _, _ in _elf_program_headers(data))


def _decompress_xz(data: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)


def _decompress_lzma(data: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)


def _decompress_gzip(data: bytes) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        out = bytearray()
        try:
            while chunk := stream.read(1 << 20):
                out += chunk
        except (EOFError, gzip.BadGzipFile):  # trailing bytes after the gzip member
            pass
        return bytes(out)


def _decompress_by_command(*argv: str) -> Callable[[bytes], bytes]:
    def decompress(data: bytes) -> bytes:
        if shutil.which(argv[0]) is None:
            raise ValueError(f"{argv[0]} is not installed")
        # Trailing garbage makes these tools fail after writing the full output: keep stdout regardless.
        return subprocess.run(argv, input=data, capture_output=True, check=False).stdout

    return decompress


# Compressed payload magics inside a bzImage, as scripts/extract-vmlinux scans for them.
PAYLOAD_FORMATS: tuple[tuple[str, bytes, Callable[[bytes], bytes]], ...] = (
    ("xz", b"\xfd7zXZ\x00", _decompress_xz),
    ("gzip", b"\x1f\x8b\x08", _decompress_gzip),
    ("zstd", b"\x28\xb5\x2f\xfd", _decompress_by_command("zstd", "-dcq")),
    ("lzma", b"\x5d\x00\x00\x00", _decompress_lzma),
    ("lz4", b"\x02\x21\x4c\x18", _decompress_by_command("lz4", "-dcq")),
)


def extract_vmlinux(bzimage: Path) -> tuple[bytes, str, int]:
    """Find the compressed kernel inside a bzImage: (vmlinux ELF, format name, payload offset)."""
    data = bzimage.read_bytes()
    for format_name, magic, decompress in PAYLOAD_FORMATS:
        for match in re.finditer(re.escape(magic), data):
            try:
                payload = decompress(data[match.start() :])
            except (lzma.LZMAError, OSError, EOFError, ValueError):
                continue
            if payload[:4] == b"\x7fELF":
                return payload, format_name, match.start()
    raise GuestSetupError(f"no compressed ELF kernel found in {bzimage} (tried xz, gzip, zstd, lzma, lz4)")


def _cpio_entry(
    name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0), ino: int = 0
) -> bytes:
    """One entry of a cpio archive in the kernel's "newc" format."""
    encoded_name = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded_name), 0)
    header = b"070701" + b"".join(b"%08X" % field for field in fields)
    entry = header + encoded_name
    entry += b"\0" * (-len(entry) % 4)
    entry += data + b"\0" * (-len(data) % 4)
    return entry


def build_cpio(files: Sequence[tuple[str, int, bytes, tuple[int, int]]]) -> bytes:
    """files: (path without leading '/', st_mode, content or symlink target, (rdev major, minor))."""
    archive = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(files, start=1):
        archive += _cpio_entry(name, mode, data, rdev, ino)
    archive += _cpio_entry("TRAILER!!!", 0)
    archive += b"\0" * (-len(archive) % 512)
    return bytes(archive)


def _read_module(path: Path) -> bytes:
    """A module's ELF bytes (busybox insmod cannot decompress)."""
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".zst":
        return _decompress_by_command("zstd", "-dcq")(data)
    return data


def module_load_order(kernel_version: str, wanted: Iterable[str]) -> list[Path]:
    """Paths of the wanted modules and their dependencies, dependencies first; built-ins are skipped."""
    module_dir = Path("/lib/modules") / kernel_version
    dependencies: dict[str, tuple[str, list[str]]] = {}
    for line in (module_dir / "modules.dep").read_text().splitlines():
        module, _, deps = line.partition(":")
        name = Path(module).name.split(".ko")[0].replace("-", "_")
        dependencies[name] = (module, deps.split())
    builtin_path = module_dir / "modules.builtin"
    builtin = builtin_path.read_text() if builtin_path.exists() else ""
    builtin_names = {Path(line).name.split(".ko")[0].replace("-", "_") for line in builtin.splitlines()}
    by_path = {path: name for name, (path, _) in dependencies.items()}

    order: list[Path] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if name not in dependencies:
            if name in builtin_names:
                return
            raise GuestSetupError(f"kernel module {name} not found for {kernel_version}")
        module, deps = dependencies[name]
        for dep in reversed(deps):  # modules.dep lists the deepest dependency last
            visit(by_path[dep])
        order.append(module_dir / module)

    for name in wanted:
        visit(name)
    return order


def _busybox_path() -> Path:
    for candidate in (Path("/bin/busybox"), Path("/usr/bin/busybox")):
        if candidate.is_file() and is_static_elf(candidate):
            return candidate
    raise GuestSetupError(f"no static busybox: install {PACKAGE_HINTS['busybox']} (run `make install`)")


def check_host_tools() -> list[str]:
    """Names of missing packages the guest needs (empty when all are installed)."""
    missing = []
    if shutil.which(QEMU_BINARY) is None:
        missing.append(PACKAGE_HINTS["qemu"])
    if not any(Path(d, "modprobe").exists() for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin")):
        missing.append(PACKAGE_HINTS["modprobe"])
    try:
        _busybox_path()
    except GuestSetupError:
        missing.append(PACKAGE_HINTS["busybox"])
    try:
        find_kernel()
    except GuestSetupError:
        missing.append(PACKAGE_HINTS["kernel"])
    return missing


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _fingerprint(*paths: Path) -> list[list[object]]:
    return [[str(path), path.stat().st_size, path.stat().st_mtime_ns] for path in paths]


def prepare(cache_dir: Path = DEFAULT_CACHE_DIR, log: Callable[[str], None] | None = None) -> GuestAssets:
    """Extract the kernel and build the initramfs into cache_dir; a quick no-op when up to date."""
    say = log or (lambda message: None)
    missing = check_host_tools()
    if missing:
        raise GuestSetupError(
            f"missing Debian packages for the cgroup v2 guest: {' '.join(missing)} (run `make install`)"
        )
    if not INIT_SCRIPT.is_file():
        raise GuestSetupError(f"guest init script {INIT_SCRIPT} is missing")
    version, bzimage = find_kernel()
    busybox = _busybox_path()
    modules = module_load_order(version, INITRAMFS_MODULES)
    cache_dir.mkdir(parents=True, exist_ok=True)
    vmlinux = cache_dir / f"vmlinux-{version}"
    initramfs = cache_dir / f"initramfs-{version}.cpio"
    assets = GuestAssets(version, vmlinux, initramfs, INIT_SCRIPT)

    stamp_path = cache_dir / "assets.json"
    wanted_stamp = {
        "format": ASSETS_FORMAT,
        "kernel": version,
        "sources": _fingerprint(bzimage, busybox, *modules),
        "init": hashlib.sha256(INITRAMFS_INIT.encode()).hexdigest(),
    }
    try:
        current_stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        current_stamp = None
    if current_stamp == wanted_stamp and vmlinux.is_file() and initramfs.is_file():
        say(f"guest assets up to date in {cache_dir} (kernel {version})")
        return assets

    started = time.monotonic()
    image, format_name, offset = extract_vmlinux(bzimage)
    if not has_pvh_entry(image):
        raise GuestSetupError(f"{bzimage} has no PVH entry note: QEMU cannot boot its vmlinux directly")
    _write_atomically(vmlinux, image)
    say(
        f"extracted {vmlinux} ({len(image) / 2**20:.1f} MiB, {format_name} payload at offset {offset}) "
        f"from {bzimage} in {time.monotonic() - started:.1f}s"
    )

    files: list[tuple[str, int, bytes, tuple[int, int]]] = [
        ("bin", 0o040755, b"", (0, 0)),
        ("dev", 0o040755, b"", (0, 0)),
        ("dev/console", 0o020600, b"", (5, 1)),  # the kernel opens it before running /init
        ("lib", 0o040755, b"", (0, 0)),
        ("lib/modules", 0o040755, b"", (0, 0)),
        ("newroot", 0o040755, b"", (0, 0)),
        ("proc", 0o040755, b"", (0, 0)),
        ("bin/busybox", 0o100755, busybox.read_bytes(), (0, 0)),
        ("bin/sh", 0o120777, b"busybox", (0, 0)),
        ("init", 0o100755, INITRAMFS_INIT.encode(), (0, 0)),
    ]
    load_order = []
    for module in modules:
        name = module.name.split(".ko")[0] + ".ko"
        files.append((f"lib/modules/{name}", 0o100644, _read_module(module), (0, 0)))
        load_order.append(name)
    files.append(("lib/modules/load-order", 0o100644, "\n".join(load_order).encode() + b"\n", (0, 0)))
    _write_atomically(initramfs, build_cpio(files))
    say(f"built {initramfs} (busybox + {', '.join(load_order)})")

    for stale in [*cache_dir.glob("vmlinux-*"), *cache_dir.glob("initramfs-*.cpio")]:
        if stale not in (vmlinux, initramfs):
            stale.unlink()
            say(f"removed stale {stale}")
    _write_atomically(stamp_path, json.dumps(wanted_stamp, indent=1).encode())
    return assets


# ----------------------------------------------------------------------------------------------------
# run


def choose_accelerator() -> str:
    """'kvm' only with hardware virtualisation and a normal KVM; 'tcg' otherwise (e.g. under kvm_pvm)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "tcg"
    hardware = re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.MULTILINE) is not None
    pvm = Path("/sys/module/kvm_pvm").exists()
    usable = os.access("/dev/kvm", os.R_OK | os.W_OK)
    return "kvm" if hardware and not pvm and usable else "tcg"


def _check_kernel_arg(name: str, value: str) -> str:
    if not value or any(char.isspace() or char == '"' for char in value):
        raise ValueError(f"{name}={value!r} cannot go on the kernel command line (empty or whitespace)")
    return value


def _qemu_option_value(value: object) -> str:
    """QEMU's option syntax separates with commas; a literal comma is written twice."""
    return str(value).replace(",", ",,")


def qemu_command(
    assets: GuestAssets,
    *,
    kernel_args: Sequence[str],
    out_dir: Path | None,
    mem: str,
    cpus: int,
    extra_qemu_args: Sequence[str] = (),
) -> list[str]:
    accelerator = choose_accelerator()
    command = [
        QEMU_BINARY,
        "-name", "mkpy-cgv2guest",
        "-M", "q35",
        *(["-accel", "kvm", "-cpu", "host"] if accelerator == "kvm" else
          ["-accel", "tcg,thread=multi", "-cpu", "max"]),
        "-m", mem,
        "-smp", str(cpus),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        # readonly=on: the guest can never write the host's files; multidevs=remap: / spans several
        # host filesystems, whose inode numbers would otherwise collide in the guest.
        "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=root,mount_tag=/dev/root",
    ]  # fmt: skip
    if out_dir is not None:
        command += [
            "-fsdev", f"local,id=out,path={_qemu_option_value(out_dir)},security_model=none",
            "-device", "virtio-9p-pci,fsdev=out,mount_tag=out",
        ]  # fmt: skip
    command += [
        "-kernel", str(assets.vmlinux),
        "-initrd", str(assets.initramfs),
        "-append", " ".join(kernel_args),
        *extra_qemu_args,
    ]  # fmt: skip
    return command


def _pump(fd: int, chunks: list[bytes], echo: TextIO | None) -> None:
    """Collect QEMU's output (the guest's serial console) until EOF; copy it to echo if given."""
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
        if echo is not None:
            with contextlib.suppress(OSError, ValueError):
                echo.write(chunk.decode(errors="replace").replace("\r\n", "\n"))
                echo.flush()


class GuestProcess:
    """A guest running in the background: QEMU plus a thread collecting its serial console.

    Made by :func:`start_guest`; :meth:`wait` or :meth:`stop` ends it and gives the :class:`GuestResult`.
    QEMU runs in its own session and is killed by :meth:`stop` (idempotent), so a caller that uses this in a
    ``with`` block or a ``finally`` never leaves it behind.
    """

    def __init__(
        self, argv: Sequence[str], *, echo: TextIO | None = None, command_file: Path | None = None
    ) -> None:
        self.argv = list(argv)
        self._chunks: list[bytes] = []
        self._command_file = command_file
        self._result: GuestResult | None = None
        self.timed_out = False
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self._reader = threading.Thread(
            target=_pump, args=(self.process.stdout.fileno(), self._chunks, echo), daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def console(self) -> str:
        """The console output so far (a snapshot while the guest runs)."""
        return b"".join(list(self._chunks)).decode(errors="replace").replace("\r\n", "\n")

    def wait(self, timeout: float | None = None) -> GuestResult:
        """Wait for the guest to power off; after `timeout` seconds QEMU is killed (STATUS_TIMEOUT)."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
        return self.stop()

    def stop(self) -> GuestResult:
        """Kill QEMU if it still runs (the guest is throw-away: nothing in it needs a clean shutdown)."""
        if self._result is not None:
            return self._result
        try:
            if self.process.poll() is None:
                self.process.kill()
            qemu_status = self.process.wait()
            self._reader.join(timeout=10)
            assert self.process.stdout is not None
            self.process.stdout.close()
        finally:
            if self._command_file is not None:
                self._command_file.unlink(missing_ok=True)
        self._result = self._make_result(qemu_status, time.monotonic() - self.started)
        return self._result

    def _make_result(self, qemu_status: int, duration: float) -> GuestResult:
        console = self.console()
        reports = EXIT_MARKER.findall(console)
        if self.timed_out:
            returncode = STATUS_TIMEOUT
            console += f"\n[guest.py] timeout after {duration:.0f}s: QEMU killed\n"
        elif reports:
            returncode = int(reports[-1])
        elif qemu_status % 2 == 1 and qemu_status != 1:
            # isa-debug-exit without a console marker (should not happen): QEMU exits with (status << 1) | 1.
            # 1 is left out: QEMU also exits 1 on its own errors (bad option, missing kernel file).
            returncode = qemu_status >> 1
        else:
            returncode = STATUS_NO_REPORT
            console += (
                f"\n[guest.py] the guest stopped without reporting a status (QEMU exit {qemu_status})\n"
            )
        return GuestResult(
            returncode=returncode, console_output=console, duration=duration, timed_out=self.timed_out
        )

    def __enter__(self) -> GuestProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_guest(
    command: str,
    *,
    out_dir: Path,
    mem: str = "512M",
    cpus: int = 1,
    hostname: str = "cgv2guest",
    extra_qemu_args: Sequence[str] = (),
    extra_kernel_args: Sequence[str] = (),
    cache_dir: Path = DEFAULT_CACHE_DIR,
    echo: TextIO | None = None,
    qemu_prefix: Sequence[str] = (),
) -> GuestProcess:
    """Boot a guest that runs `command` with bash as root in the repository root, and return at once.

    out_dir (created if needed) is mounted writable at the same path inside the guest.  qemu_prefix is put
    before QEMU's argv (e.g. ``nsenter --net=...`` to run it in a network namespace).
    """
    assets = prepare(cache_dir)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    kernel_args = [
        "console=ttyS0", "quiet", "loglevel=3", "panic=-1",
        f"mk.init={_check_kernel_arg('init', str(assets.init_script))}",
        f"mk.repo={_check_kernel_arg('repo', str(REPO_ROOT))}",
        f"mk.host={_check_kernel_arg('hostname', hostname)}",
        f"mk.out={_check_kernel_arg('out', str(out_dir))}",
    ]  # fmt: skip
    kernel_args += [_check_kernel_arg("kernel arg", arg) for arg in extra_kernel_args]
    encoded = base64.b64encode(command.encode()).decode()
    command_file: Path | None = None
    if len(encoded) > MAX_INLINE_COMMAND_B64:
        command_file = (
            out_dir / f".guest-command-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}.sh"
        )
    kernel_args.append(f"mk.cmdfile={command_file}" if command_file else f"mk.cmd={encoded}")
    argv = qemu_command(
        assets, kernel_args=kernel_args, out_dir=out_dir, mem=mem, cpus=cpus, extra_qemu_args=extra_qemu_args
    )
    try:
        if command_file is not None:
            command_file.write_text(command)
        return GuestProcess([*qemu_prefix, *argv], echo=echo, command_file=command_file)
    except BaseException:
        if command_file is not None:
            command_file.unlink(missing_ok=True)
        raise


def run_in_guest(
    command: str,
    *,
    out_dir: Path,
    mem: str = "512M",
    cpus: int = 1,
    timeout: float = 600,
    hostname: str = "cgv2guest",
    extra_qemu_args: Sequence[str] = (),
    extra_kernel_args: Sequence[str] = (),
    cache_dir: Path = DEFAULT_CACHE_DIR,
    echo: TextIO | None = None,
) -> GuestResult:
    """Boot a guest, run `command` with bash as root in the repository root, power off.

    out_dir (created if needed) is mounted writable at the same path inside the guest.  The result has the
    command's exit status, STATUS_NO_REPORT (125) if the guest stopped without reporting one, or
    STATUS_TIMEOUT (124, timed_out=True) if QEMU was killed after `timeout` seconds.  echo, if given,
    receives the console output live.  QEMU never outlives this call.
    """
    guest = start_guest(
        command,
        out_dir=out_dir,
        mem=mem,
        cpus=cpus,
        hostname=hostname,
        extra_qemu_args=extra_qemu_args,
        extra_kernel_args=extra_kernel_args,
        cache_dir=cache_dir,
        echo=echo,
    )
    try:
        return guest.wait(timeout)
    finally:  # interrupted (e.g. KeyboardInterrupt): never leave QEMU behind
        guest.stop()


# ----------------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.vm.guest", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    prepare_parser = sub.add_parser("prepare", help="extract the kernel and build the initramfs (idempotent)")
    prepare_parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    run_parser = sub.add_parser("run", help="boot a guest and run a shell command in it")
    run_parser.add_argument("--mem", default="512M")
    run_parser.add_argument("--cpus", type=int, default=1)
    run_parser.add_argument("--out", type=Path, help="host directory mounted writable at the same path")
    run_parser.add_argument("--timeout", type=float, default=600)
    run_parser.add_argument("--hostname", default="cgv2guest")
    run_parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    run_parser.add_argument("command", nargs=argparse.REMAINDER, help="-- 'shell command'")
    args = parser.parse_args(argv)

    try:
        if args.action == "prepare":
            assets = prepare(args.cache_dir, log=lambda message: print(f"guest: {message}", flush=True))
            print(f"guest: ready: {assets.vmlinux}, {assets.initramfs}, init={assets.init_script}")
            return 0
        words = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not words:
            parser.error("run needs a command after --")
        temporary_out = args.out is None
        if temporary_out:
            args.cache_dir.mkdir(parents=True, exist_ok=True)
        out_dir = Path(tempfile.mkdtemp(prefix="out-", dir=args.cache_dir)) if temporary_out else args.out
        try:
            result = run_in_guest(
                " ".join(words), out_dir=out_dir, mem=args.mem, cpus=args.cpus, timeout=args.timeout,
                hostname=args.hostname, cache_dir=args.cache_dir, echo=sys.stdout,
            )  # fmt: skip
        finally:
            if temporary_out:
                shutil.rmtree(out_dir, ignore_errors=True)
        print(f"guest: exit status {result.returncode} after {result.duration:.1f}s", file=sys.stderr)
        return result.returncode
    except GuestSetupError as error:
        print(f"guest: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
