"""# masterclass.training

Module 8: training methodology: the pretraining loop, schedules, losses, fine-tuning.
"""
