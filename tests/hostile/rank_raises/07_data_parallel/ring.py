import time

from aisys.parallel import comm, context


def ring_all_reduce(tensor):
    """The last rank raises; the others wait for its message forever."""
    if context.rank() == context.world_size() - 1:
        time.sleep(0.5)
        raise RuntimeError("rank gave up")
    comm.recv(tensor.clone(), context.world_size() - 1)
    return tensor
