"""Baselines sharing GLAMOR's encoders, replay and training loop (paper §3.6, §4.3)."""
