"""# masterclass.kernels

Triton kernels, each beside its PyTorch reference, each a ladder from the reference through a
naive kernel to the optimised one. On a machine without a GPU the tests run the kernels through
Triton's interpreter (`TRITON_INTERPRET=1`).

Import the kernels from their modules, e.g.
`from masterclass.kernels.flash_attention import flash_attention`: importing this package alone does
not import Triton.
"""
