"""The frames between the consumer and its reader processes: every message kind comes back as
the same ``Message`` member, in one process and across two."""

from __future__ import annotations

import io
import subprocess
import sys

import pyarrow as pa
from kafka import TopicPartition

from core.settings import REPO_DIR
from spark_jobs.cdc.protocol import Message, read_frames, write_frame
from spark_jobs.cdc.reader import Batch


def test_every_message_kind_round_trips_through_the_frames():
    batch = Batch(3, tombstones=2, next_offsets={TopicPartition("t", 0): 11}, lag={"t": 5})
    batch.changes["t"].append(pa.table({"kafka_offset": [9, 10]}))
    sent = [(Message.POLLING,), (Message.BATCH, batch), (Message.DONE,), (Message.ERROR, "Traceback ...")]
    stream = io.BytesIO()
    for message in sent:
        write_frame(stream, message)
    stream.seek(0)
    received = list(read_frames(stream))
    assert [m[0] for m in received] == [Message.POLLING, Message.BATCH, Message.DONE, Message.ERROR]
    assert all(type(m[0]) is Message for m in received)
    got = received[1][1]
    assert (got.number, got.tombstones, got.next_offsets, got.lag) == (3, 2, {TopicPartition("t", 0): 11}, {"t": 5})
    assert got.changes["t"][0].column("kafka_offset").to_pylist() == [9, 10]
    assert received[3][1] == "Traceback ..."


def test_a_message_equals_its_old_string_tag():
    assert [m.value for m in Message] == ["polling", "batch", "done", "error", "gap", "exit", "idle"]
    assert Message.BATCH == "batch" and Message("done") is Message.DONE


def test_a_frame_cut_off_by_a_dying_writer_ends_the_stream():
    stream = io.BytesIO()
    write_frame(stream, (Message.POLLING,))
    write_frame(stream, (Message.DONE,))
    cut = io.BytesIO(stream.getvalue()[:-3])
    assert list(read_frames(cut)) == [(Message.POLLING,)]


def test_frames_written_by_another_process_unpickle_to_the_members():
    code = (
        "import sys\n"
        "from spark_jobs.cdc.protocol import Message, write_frame\n"
        "write_frame(sys.stdout.buffer, (Message.POLLING,))\n"
        "write_frame(sys.stdout.buffer, (Message.ERROR, 'boom'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_DIR, capture_output=True, check=True).stdout
    received = list(read_frames(io.BytesIO(out)))
    assert received == [(Message.POLLING,), (Message.ERROR, "boom")]
    assert received[0][0] is Message.POLLING
