"""Batch work shared by ``check -i``, ``scan -i`` and the Python API: records in, one result each out."""

from bluecodeagent.batch.records import Record, parse_records, read_records
from bluecodeagent.batch.runner import Outcome, PartialChunk, run

__all__ = ["Outcome", "PartialChunk", "Record", "parse_records", "read_records", "run"]
