"""Silence torch's compiler chatter (printed graphs, symbolic-shape warnings) while a
capture tool is *expected* to fail: the report says what happened, the noise doesn't."""
from __future__ import annotations

import contextlib
import io
import logging
from typing import Iterator


@contextlib.contextmanager
def quiet_torch() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "torch" or name.startswith("torch.")]
    saved = [(logger, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        for logger, disabled in saved:
            logger.disabled = disabled
