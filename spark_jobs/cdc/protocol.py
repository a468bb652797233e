"""What the consumer (``consumer``) and its reader processes (``reader``) say to each other.

The consumer writes a reader's ``ReaderConfig`` to its stdin as one frame, ``(config,)``, and
closes that stdin to say "stop". The reader writes frames to its stdout, each a tuple whose
first item is a ``Message``: ``(POLLING,)`` after its first poll, ``(BATCH, Batch)`` per poll
that returned records, ``(DONE,)`` when it is caught up (if asked to stop there) or stopped, ``(GAP, topic, partition,
position, earliest, end)`` when Kafka no longer has the records at a partition's position (it
stops reading that topic),
``(ERROR, traceback)`` when it fails. The consumer adds two of its own: ``(EXIT, returncode)``
when a reader process ends (or ``(ERROR, traceback)`` when its frames cannot be read), and
``(IDLE,)`` when no message came for a while.

A frame is a pickle after its length (8 bytes, big-endian). A ``Message`` pickles by its value
and equals its value as a string, so both ends need only import this module.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterator
from enum import StrEnum
from typing import IO, Any

_FRAME = struct.Struct(">Q")


class Message(StrEnum):
    """The kind of a message: the first item of its tuple."""

    POLLING = "polling"  # the reader has polled once (a benchmark starts its load then)
    BATCH = "batch"  # (BATCH, Batch): one poll, parsed
    DONE = "done"  # the reader is caught up (if asked to stop there) or stopped
    ERROR = "error"  # (ERROR, traceback): the reader failed, or its frames could not be read
    GAP = "gap"  # (GAP, topic, partition, position, earliest, end): records past bronze's position are gone
    EXIT = "exit"  # (EXIT, returncode): the consumer's, when a reader process has ended
    IDLE = "idle"  # the consumer's, when no message came for a while


def write_frame(out: IO[bytes], message: tuple[Any, ...]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_FRAME.pack(len(data)))
    out.write(data)
    out.flush()


def read_frames(stream: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    """Each frame's message until the stream ends (or breaks off mid-frame: the writer died)."""
    while header := stream.read(_FRAME.size):
        if len(header) < _FRAME.size:
            return
        (size,) = _FRAME.unpack(header)
        data = stream.read(size)
        if len(data) < size:
            return
        yield pickle.loads(data)
