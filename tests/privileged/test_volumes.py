"""emptyDir volumes for real: shared between a pod's containers, mounted at paths that don't exist on the
node without creating them there, read-only mounts, subPath, tmpfs-backed ``Memory`` volumes with their size
limit, disk usage, and nothing left behind.

Runs on the host's cgroup v1 and, through the ``cgv2guest`` twin, inside a pure cgroup v2 QEMU guest.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from minikube_py.node.cgroups.driver import CgroupResources, QOSTier
from minikube_py.node.runtime.model import ContainerConfig, Mount, PodSandboxConfig, VolumeConfig
from minikube_py.node.runtime.runtime import Runtime
from tests.privileged.logtext import stream_text

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]

PY = [sys.executable, "-S", "-c"]


def _sandbox(*volumes: VolumeConfig) -> PodSandboxConfig:
    return PodSandboxConfig(
        uid=str(uuid.uuid4()),
        name="vol",
        namespace="default",
        hostname="vol",
        tier=QOSTier.BESTEFFORT,
        volumes=volumes,
    )


def _container(name: str, code: str, out: Path, *mounts: Mount) -> ContainerConfig:
    return ContainerConfig(
        name=name,
        argv=[*PY, code],
        env=[("PATH", os.environ.get("PATH", "/usr/bin:/bin"))],
        resources=CgroupResources(cpu_shares=2),
        log_path=str(out / f"{name}.log"),
        mounts=mounts,
    )


def _mounted_at(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


async def test_containers_share_an_empty_dir_at_paths_missing_on_the_node(runtime: Runtime, tmp_path: Path) -> None:
    # Neither path exists on the node: the first shadows "/", the second a nested ancestor (/usr/share).
    top = f"/mkpy-data-{uuid.uuid4().hex[:8]}"
    nested = f"/usr/share/mkpy-cache-{uuid.uuid4().hex[:8]}/deep"
    assert not os.path.lexists(top) and not os.path.lexists(os.path.dirname(nested))
    sandbox = await runtime.run_pod_sandbox(_sandbox(VolumeConfig("shared")))
    writer_code = f"""
import os
open("{top}/greeting", "w").write("hello from the writer")
open("{nested}/second", "w").write("same volume")
print(sorted(os.listdir("/usr/share"))[:1] != [], os.path.isdir("/proc/self"), os.path.exists("/dev/null"))
"""
    writer = await runtime.start_container(
        sandbox,
        _container("writer", writer_code, tmp_path, Mount("shared", top), Mount("shared", nested)),
    )
    exit_ = await runtime.wait_container(writer)
    assert exit_.exit_code == 0, stream_text(tmp_path / "writer.log")
    # The node's file system is untouched; its other contents stayed visible to the container.
    assert "True True True" in stream_text(tmp_path / "writer.log")
    assert not os.path.lexists(top) and not os.path.lexists(os.path.dirname(nested))
    on_node = runtime.volume_path(sandbox.config.uid, "shared")
    assert Path(on_node, "greeting").read_text() == "hello from the writer"

    reader_code = 'print(open("/srv/in/greeting").read(), open("/srv/in/second").read())'
    reader = await runtime.start_container(
        sandbox, _container("reader", reader_code, tmp_path, Mount("shared", "/srv/in", read_only=True))
    )
    assert (await runtime.wait_container(reader)).exit_code == 0, stream_text(tmp_path / "reader.log")
    assert "hello from the writer same volume" in stream_text(tmp_path / "reader.log")

    used, inodes = runtime.volume_usage(sandbox)["shared"]
    assert inodes == 2 and used > 0

    await runtime.remove_pod_sandbox(sandbox)
    assert not os.path.exists(runtime.pod_dir(sandbox.config.uid))


async def test_read_only_mount_refuses_writes_and_sub_path_selects_a_directory(
    runtime: Runtime, tmp_path: Path
) -> None:
    sandbox = await runtime.run_pod_sandbox(_sandbox(VolumeConfig("data")))
    code = """
import errno
open("/work-dir/file", "w").write("x")
try:
    open("/ro/file2", "w")
except OSError as e:
    print("write refused:", errno.errorcode[e.errno])
"""
    c = await runtime.start_container(
        sandbox,
        _container(
            "c",
            code,
            tmp_path,
            Mount("data", "/work-dir", sub_path="app/state"),
            Mount("data", "/ro", read_only=True),
        ),
    )
    assert (await runtime.wait_container(c)).exit_code == 0, stream_text(tmp_path / "c.log")
    assert "write refused: EROFS" in stream_text(tmp_path / "c.log")
    volume = runtime.volume_path(sandbox.config.uid, "data")
    assert os.path.isfile(os.path.join(volume, "app", "state", "file"))
    assert not os.path.exists(os.path.join(volume, "file2"))


async def test_mount_of_an_unknown_volume_is_a_start_error(runtime: Runtime, tmp_path: Path) -> None:
    from minikube_py import errors

    sandbox = await runtime.run_pod_sandbox(_sandbox(VolumeConfig("data")))
    with pytest.raises(errors.SpawnError, match='no volume named "nope"'):
        await runtime.start_container(sandbox, _container("c", "pass", tmp_path, Mount("nope", "/x")))


async def test_memory_medium_is_a_tmpfs_with_the_size_limit(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(
        _sandbox(VolumeConfig("scratch", medium="Memory", size_limit_bytes=4 << 20))
    )
    path = runtime.volume_path(sandbox.config.uid, "scratch")
    assert _mounted_at(path)
    code = """
import errno, os
f = open("/scratch/fill", "wb")
try:
    for _ in range(16):
        f.write(b"x" * (1 << 20)); f.flush()
except OSError as e:
    print("full:", errno.errorcode[e.errno])
print("fs:", [l.split()[2] for l in open("/proc/self/mounts") if l.split()[1] == "/scratch"])
"""
    c = await runtime.start_container(sandbox, _container("c", code, tmp_path, Mount("scratch", "/scratch")))
    assert (await runtime.wait_container(c)).exit_code == 0, stream_text(tmp_path / "c.log")
    text = stream_text(tmp_path / "c.log")
    assert "full: ENOSPC" in text and "fs: ['tmpfs']" in text
    assert os.path.getsize(os.path.join(path, "fill")) <= 4 << 20
    await runtime.remove_pod_sandbox(sandbox)
    assert not _mounted_at(path)
    assert not os.path.exists(runtime.pod_dir(sandbox.config.uid))


async def test_volumes_survive_container_restarts(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(_sandbox(VolumeConfig("state")))
    code = """
import os
p = "/state/count"
n = int(open(p).read()) if os.path.exists(p) else 0
open(p, "w").write(str(n + 1))
print("count", n + 1)
"""
    for expected in (1, 2, 3):
        c = await runtime.start_container(sandbox, _container("c", code, tmp_path, Mount("state", "/state")))
        assert (await runtime.wait_container(c)).exit_code == 0
        assert Path(runtime.volume_path(sandbox.config.uid, "state"), "count").read_text() == str(expected)
