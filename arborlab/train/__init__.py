"""Training: SFT from scratch (sft.py); RL and self-improvement build on the same run folders."""
