"""Pure, jitted kernels over padded arrays: one home per concept.

Every function here takes arrays (with ``where=``/mask arguments for padding) and keyword-only
static knobs, and has no host side effects; planning, chunking and caching live in
:mod:`jaxvet.engine`.
"""
