"""EmfFilter: CloudWatch EMF blobs stay off the terminal, everything else passes."""

from __future__ import annotations

import io
import threading

from localgw.terminal import EmfFilter


def test_emf_lines_are_dropped_and_other_lines_pass() -> None:
    out = io.StringIO()
    stream = EmfFilter(out)
    print('{"_aws": {"Timestamp": 1}, "Answers": [1.0]}', file=stream)
    print('{"level": "WARNING", "message": "kept"}', file=stream)
    print("plain text", file=stream)
    assert out.getvalue() == '{"level": "WARNING", "message": "kept"}\nplain text\n'
    assert stream.dropped == 1


def test_lines_written_in_pieces_are_judged_whole() -> None:
    out = io.StringIO()
    stream = EmfFilter(out)
    for piece in ('{"_a', 'ws": 1}', "\n", "{", '"level": 1}\n'):
        stream.write(piece)
    assert out.getvalue() == '{"level": 1}\n'


def test_threads_do_not_mix_their_lines() -> None:
    out = io.StringIO()
    stream = EmfFilter(out)

    def emit(text: str) -> None:
        for _ in range(200):
            print(text, file=stream)

    threads = [threading.Thread(target=emit, args=(t,)) for t in ('{"_aws": 1}', "kept")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert out.getvalue() == "kept\n" * 200
    assert stream.dropped == 200
