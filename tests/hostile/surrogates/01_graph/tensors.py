"""Strings no format can hold: lone surrogates, NUL and other control bytes, in messages and output."""
import sys

BAD = "\ud800 \udfff \x00 \x07 \x1b[31m \u202e reversed \ufffe"


def row_major_strides(shape):
    print(BAD)
    sys.stdout.write(BAD + "\n")
    raise ValueError(BAD)


def flat_offset(shape, index, strides=None, offset=0):
    raise KeyError(BAD)


def tensor_info(t):
    return {BAD: BAD}
