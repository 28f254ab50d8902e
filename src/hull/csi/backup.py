"""Back up a volume's files to a tar stream and restore them, as
Velero-style file-level backups expect.

The stream is POSIX pax; a global header carries the volume's size,
backend and fs type, so a restore into a new volume can recreate it as
it was. Restores extract with the tarfile "tar" filter: absolute names,
``..`` and links pointing outside the volume are refused.

A backup of a volume in use reads its files as they are (no freeze);
snapshot it first (CreateSnapshot) and back up a volume made from the
snapshot for a point-in-time copy.
"""

from __future__ import annotations

import logging
import os
import tarfile
from typing import BinaryIO

from hull.csi.driver import Driver
from hull.csi.state import Volume
from hull.errors import FailedPrecondition, InvalidArgument

log = logging.getLogger(__name__)

HEADER_PREFIX = "hull.volume."
# entries a fresh filesystem has and a restore target may hold
EMPTY_ENOUGH = {"lost+found"}


def _header(volume: Volume) -> dict[str, str]:
    return {f"{HEADER_PREFIX}id": volume.id, f"{HEADER_PREFIX}name": volume.name,
            f"{HEADER_PREFIX}capacity": str(volume.capacity),
            f"{HEADER_PREFIX}backend": volume.backend, f"{HEADER_PREFIX}fs_type": volume.fs_type}


def backup(driver: Driver, volume_id: str, out: BinaryIO) -> int:
    """Write the volume's files as a tar stream to ``out``; returns the entry count."""
    volume = driver.volume(volume_id, "back up volume")
    backend = driver.backend(volume)
    count = 0
    with backend.files(volume, driver.staged_mount(volume.id)) as top:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                          pax_headers=_header(volume)) as tar:
            for name in sorted(os.listdir(top)):
                if name in EMPTY_ENOUGH and os.path.isdir(os.path.join(top, name)) \
                        and not os.listdir(os.path.join(top, name)):
                    continue
                tar.add(os.path.join(top, name), arcname=name, recursive=True)
                count += 1
    log.info("backed up volume %s (%d top-level entries)", volume.id, count)
    return count


def read_header(stream: BinaryIO) -> tuple[tarfile.TarFile, dict[str, str]]:
    """Open a backup stream; its hull header (empty for a foreign tar)."""
    tar = tarfile.open(fileobj=stream, mode="r|")
    headers = {k.removeprefix(HEADER_PREFIX): v for k, v in tar.pax_headers.items()
               if k.startswith(HEADER_PREFIX)}
    return tar, headers


def restore(driver: Driver, volume_id: str, tar: tarfile.TarFile) -> int:
    """Extract an opened backup into an existing, empty volume."""
    volume = driver.volume(volume_id, "restore volume")
    backend = driver.backend(volume)
    count = 0
    if volume.block:
        raise FailedPrecondition(f"cannot restore files into volume {volume.id}: it is a "
                                 f"raw block volume")
    with backend.files(volume, driver.staged_mount(volume.id), format_blank=True) as top:
        leftovers = sorted(set(os.listdir(top)) - EMPTY_ENOUGH)
        if leftovers:
            raise FailedPrecondition(f"cannot restore into volume {volume.id}: it is not "
                                     f"empty ({', '.join(leftovers[:5])})")
        for member in tar:
            try:
                tar.extract(member, top, filter="tar")
            except tarfile.FilterError as e:
                raise InvalidArgument(f"cannot restore into volume {volume.id}: unsafe "
                                      f"entry {member.name!r}: {e}") from e
            count += 1
    log.info("restored %d entries into volume %s", count, volume.id)
    return count
