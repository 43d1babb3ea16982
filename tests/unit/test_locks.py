"""Shared work waits for its lock and says so."""

import logging
import threading

from crossling_asr.locks import exclusive


def test_a_second_holder_waits_and_says_so(tmp_path, caplog):
    lock_file = tmp_path / "sub" / ".lock"
    order = []
    first_holds, release_first = threading.Event(), threading.Event()

    def first():
        with exclusive(lock_file, "waiting for the first"):
            order.append("first in")
            first_holds.set()
            release_first.wait(10)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    first_holds.wait(10)
    threading.Timer(0.2, release_first.set).start()
    with caplog.at_level(logging.INFO, logger="crossling_asr.locks"), exclusive(lock_file, "waiting for the first"):
        order.append("second in")
    thread.join(10)
    assert order == ["first in", "first out", "second in"]
    assert "waiting for the first" in caplog.text
