"""# masterclass.capstone

The final project: train, evaluate, quantize, export and report on a small language model.
"""
