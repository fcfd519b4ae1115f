from aisys.parallel import comm, context


def ring_all_reduce(tensor):
    """Rank 0 waits for a message rank 1 never sends; rank 1 waits in a barrier rank 0 never reaches."""
    if context.rank() == 0:
        comm.recv(tensor.clone(), 1)
    else:
        comm.barrier()
    return tensor
