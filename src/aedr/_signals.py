"""Ctrl-C and SIGTERM held for a moment and then handed on, as the handler there was would have taken them.

numba compiles a kernel partly in LLVM's callbacks, where Python prints an exception a signal raises as
"Exception ignored" and drops it (:func:`signals_held` around the call); ``aedr fit`` holds a signal from
the end of training until the trained model is in its checkpoint (``aedr.cli.fit``). Either way the
signal then acts as it would have: :func:`hand_on`.
"""

from __future__ import annotations

import contextlib
import signal
import threading

HELD = (signal.SIGINT, signal.SIGTERM)


def hand_on(signum: int, handler) -> None:
    """Act on signal ``signum`` as ``handler`` (what ``signal.signal`` returned) would have: call it; for
    the default action, raise ``KeyboardInterrupt`` (SIGINT) or raise the signal again; nothing where it
    was ignored."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL and signum == signal.SIGINT:
        raise KeyboardInterrupt
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C and SIGTERM while the block runs, then hand each that came on (:func:`hand_on`) to the
    handler there was. Off the main thread, or where a handler was installed from C (it could not be put
    back), the block runs as it is."""
    if threading.current_thread() is not threading.main_thread() or any(signal.getsignal(s) is None for s in HELD):
        yield
        return
    came: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: came.append(signum)) for sig in HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(came):  # each signal once, as it would have been handled
            hand_on(signum, previous[signum])
