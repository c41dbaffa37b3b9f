"""What a directory tree really uses on disk."""

from __future__ import annotations

import os


def disk_usage(path: str) -> tuple[int, int]:
    """(bytes, inodes) used below ``path``, each inode counted once, not crossing into other file systems'
    mounts below it (``du -x`` semantics); (0, 0) when it is gone."""
    try:
        root = os.lstat(path)
    except FileNotFoundError:
        return 0, 0
    seen: set[int] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if st.st_dev != root.st_dev or st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            total += st.st_blocks * 512
        dirnames[:] = [d for d in dirnames if _same_device(os.path.join(dirpath, d), root.st_dev)]
    return total, len(seen)


def _same_device(path: str, device: int) -> bool:
    try:
        return os.lstat(path).st_dev == device
    except FileNotFoundError:
        return False
