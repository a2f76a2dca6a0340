"""The vetting engine: run context, option validation, planning, chunking, host transfers,
threads and the error policy.  Checks (:mod:`jaxvet.checks`) call core kernels through it."""
