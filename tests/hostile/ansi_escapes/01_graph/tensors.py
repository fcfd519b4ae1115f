"""Terminal and markup injection: clear the screen, retitle the window, fake a rich table."""

EVIL = "\x1b[2J\x1b[H\x1b]0;you passed\x07\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ [bold green]100/100[/] [link=x]y[/link]"


def row_major_strides(shape):
    print(EVIL)
    raise RuntimeError(EVIL)


def flat_offset(shape, index, strides=None, offset=0):
    raise RuntimeError("[/]" + EVIL)


def tensor_info(t):
    return {"shape": EVIL}
