"""# masterclass.autograd

Module 2: a from-scratch autodiff engine and the PyTorch fundamentals it explains.
"""
