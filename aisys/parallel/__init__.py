"""The distributed runtime shared by labs 07, 08 and 09.

- `policy.choose_backend`: nccl / gloo and cuda / cpu from the machine and the flags;
- `launch.launch(fn, nproc, *args)`: real processes through torch.distributed (or join torchrun);
- `context`: rank(), world_size(), device(), scope() inside a rank; `grid`: dp × tp process grids;
- `comm`: the collectives every lab uses, each call logged in a `CommLog`;
- `suite.DistributedSuite`: a lab's checks run on ranks launched once.

Importing this package does not import torch.
"""

from aisys.parallel import comm, context  # noqa: E402,F401 - light: no torch at import
from aisys.parallel.context import device, rank, world_size  # noqa: E402,F401
