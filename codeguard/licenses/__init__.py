"""Licenses: detection in texts (``detect``), project and file licenses, and the policy.

Detection's public API lives in ``codeguard.licenses.detect``; importing this package stays
cheap (no NumPy, no index) so that policy code can use it alone.
"""
