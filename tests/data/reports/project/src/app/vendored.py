# SPDX-License-Identifier: GPL-3.0-only
"""Vendored helper."""


def clamp(value, low, high):
    """Limit a value to the closed range [low, high]."""
    return max(low, min(high, value))
