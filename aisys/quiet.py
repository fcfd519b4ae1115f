"""Silence torch's compiler chatter (printed graphs, symbolic-shape warnings with timestamps)
while a capture tool is *expected* to fail: the report says what happened, the noise
doesn't — and a timestamped log line would make two gradings of the same code differ."""
from __future__ import annotations

import contextlib
import io
import logging
from typing import Iterator


@contextlib.contextmanager
def torch_logs_off() -> Iterator[None]:
    """Disable every `torch.*` logger (they write to the real stderr, not to sys.stderr)."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "torch" or name.startswith("torch.")]
    saved = [(logger, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in saved:
            logger.disabled = disabled


@contextlib.contextmanager
def quiet_torch() -> Iterator[None]:
    """Logs off, and stdout/stderr swallowed (torch prints graphs when export fails)."""
    sink = io.StringIO()
    with torch_logs_off(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield
