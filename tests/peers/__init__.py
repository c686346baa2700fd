"""Parity with reference implementations (PyTorch), from stored vectors or live."""
