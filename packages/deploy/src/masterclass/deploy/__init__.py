"""# masterclass.deploy

Module 10: optimization and deployment: quantization, pruning, distillation, efficient inference, serving.
"""
