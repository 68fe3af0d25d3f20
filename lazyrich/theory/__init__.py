"""Closed forms: exact learning dynamics and kernels (spec: ../shared/spec/)."""

__all__: list[str] = []
