"""Read the records of a W&B run file (`run-<id>.wandb`) without a server.

The file is W&B's transaction log: a 7-byte header (`:W&B` + version), then blocks of
32 KiB in LevelDB's log format, each record a `wandb.proto` `Record` split into chunks.
"""

import struct
from collections.abc import Iterator
from pathlib import Path

BLOCK = 32768
HEADER = 7
_CHUNK = struct.Struct("<IHB")  # checksum, length, type
_FULL, _FIRST, _LAST = 1, 2, 4  # (3 is a middle chunk)


def iter_records(path: str | Path) -> Iterator:
    """Yield the `wandb_internal_pb2.Record`s of a `.wandb` file in order, reading lazily.

    Raises ValueError when the file is not a W&B run file.
    """
    from wandb.proto import wandb_internal_pb2

    with open(path, "rb") as file:
        block = file.read(BLOCK)
        if block[:4] != b":W&B":
            raise ValueError(f"{path} is not a W&B run file")
        position, pending = HEADER, b""
        while block:
            # Chunks never cross a block; a block's tail shorter than a chunk header is padding.
            while position + _CHUNK.size <= len(block):
                _, length, kind = _CHUNK.unpack_from(block, position)
                if kind == 0 and length == 0:
                    break
                start = position + _CHUNK.size
                payload, position = block[start : start + length], start + length
                pending = payload if kind in (_FULL, _FIRST) else pending + payload
                if kind in (_FULL, _LAST):
                    record = wandb_internal_pb2.Record()
                    record.ParseFromString(pending)
                    pending = b""
                    yield record
            block, position = file.read(BLOCK), 0
