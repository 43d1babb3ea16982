"""One process at a time on work that several runs share: a language's preparation, a feature cache.

The lock is filelock's FileLock (an flock on POSIX systems, released by the kernel however its
holder dies). What this adds is what every caller here wants: a line in the log saying that it
waits, and for what, instead of hanging silently behind another run.
"""

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import filelock

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def exclusive(lock_file: Path, waiting_message: str) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` for the `with` block; log `waiting_message` if it must wait."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(lock_file, thread_local=False)
    try:
        lock.acquire(blocking=False)
    except filelock.Timeout:
        logger.info(waiting_message)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
