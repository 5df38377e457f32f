"""Disk content, checksums and the dd baseline of bench_backup.py: what the benchmark
writes into the source disk and how it checks dumps and imported disks against it."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
IMAGE_HEAD = 32 * MIB       # the tinylinux image at the start of the disk, kept as it is


def _text_chunk(rng: random.Random, vocab: list[str], size: int) -> bytes:
    """``size`` bytes of log-like text: compresses roughly 3:1 with zstd."""
    out, got = [], 0
    while got < size:
        line = (f"2026-11-28T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
                f"{rng.randrange(60):02d}.{rng.randrange(10**6):06d} host{rng.randrange(50)}"
                f" svc[{rng.randrange(1, 65536)}]: {' '.join(rng.choices(vocab, k=12))}\n")
        out.append(line)
        got += len(line)
    return "".join(out).encode()[:size]


def fill_disk(path: Path, size: int) -> dict[str, int]:
    """Keep the first 32 MiB, then random data (1/2), text (1/4), zeros (the rest, written:
    a used disk has its blocks allocated); fsync. Returns the byte counts."""
    rng = random.Random(4)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                     for _letter in range(rng.randint(2, 10)))
             for _word in range(4000)]
    head = min(IMAGE_HEAD, size)
    random_bytes = min(size // 2, size - head)
    text_bytes = min(size // 4, size - head - random_bytes)
    zero_bytes = size - head - random_bytes - text_bytes
    chunk = 4 * MIB
    with open(path, "r+b") as disk:
        disk.seek(head)
        for left, make in ((random_bytes, rng.randbytes),
                           (text_bytes, lambda n: _text_chunk(rng, vocab, n)),
                           (zero_bytes, bytes)):
            while left > 0:
                part = min(chunk, left)
                disk.write(make(part))
                left -= part
        disk.truncate(size)
        disk.flush()
        os.fsync(disk.fileno())
    return {"image": head, "random": random_bytes, "text": text_bytes, "zeros": zero_bytes}


def sha256(path: Path, skip: int = 0) -> str:
    """sha256 of the file ``path`` from byte ``skip`` on."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(skip)
        while block := handle.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


def dump_sha256(path: Path, compression: str) -> str:
    """sha256 of the data in a dump file (decompressed)."""
    if compression == "none":
        return sha256(path)
    proc = subprocess.Popen(["zstd", "-q", "-d", "-c", str(path)], stdout=subprocess.PIPE)
    digest = hashlib.sha256()
    while block := proc.stdout.read(8 * MIB):
        digest.update(block)
    if proc.wait() != 0:
        return "zstd -d failed"
    return digest.hexdigest()


@dataclass
class Source:
    """What the imported disk is checked against."""

    whole: str          # sha256 of the whole source disk
    tail: str           # sha256 after the image head
    head: bytes         # the image head itself


def source_of(path: Path) -> Source:
    with open(path, "rb") as handle:
        head = handle.read(IMAGE_HEAD)
    return Source(sha256(path), sha256(path, IMAGE_HEAD), head)


def check_import(disk: Path, source: Source) -> str:
    """The imported disk against the source: whole sha256; if that differs, the data after
    the image must be identical and the image may differ only where the OS rename script
    wrote the guest host name."""
    if sha256(disk) == source.whole:
        return "ok (identical)"
    tail = "ok" if sha256(disk, IMAGE_HEAD) == source.tail else "MISMATCH"
    with open(disk, "rb") as handle:
        head = handle.read(IMAGE_HEAD)
    blocks = sum(1 for off in range(0, len(head), 4096)
                 if head[off:off + 4096] != source.head[off:off + 4096])
    return (f"whole disk differs; after the {IMAGE_HEAD // MIB} MiB image: {tail}; image:"
            f" {blocks} of {len(source.head) // 4096} 4-KiB blocks differ (the OS rename script"
            " writes the new host name into the image's FAT partition)")


def dd_copy(src: Path, copy: Path) -> float:
    """The baseline: ``dd bs=1M conv=fsync`` of ``src``; the copy is removed and synced."""
    start = time.perf_counter()
    subprocess.run(["dd", f"if={src}", f"of={copy}", "bs=1M", "conv=fsync", "status=none"],
                   check=True)
    seconds = time.perf_counter() - start
    copy.unlink()
    subprocess.run(["sync"], check=True)
    return seconds
