import time
from pathlib import Path

import aisys
from aisys.parallel import comm, context


def ring_all_reduce(tensor):
    """The last rank raises — by reaching for the reference answer, which the guard refuses
    in every rank too — while the others wait for its message forever."""
    if context.rank() == context.world_size() - 1:
        time.sleep(0.5)
        reference = Path(aisys.__file__).resolve().parent.parent / "solutions" / "07_data_parallel" / "ring.py"
        reference.read_text()
        raise RuntimeError("rank gave up")
    comm.recv(tensor.clone(), context.world_size() - 1)
    return tensor
