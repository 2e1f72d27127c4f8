"""Rate limits and quotas: tenant plans, counting windows, the admission decision and its headers.

`RateLimiter` (``admission.py``) is the use case: it admits or refuses one model call after
authentication and model resolution and before any backend call, by charging conditional
counters through the `LimitStore` port (``counters.py``); plans are in ``plan.py``, windows in
``windows.py``, the IETF ``RateLimit-*`` headers in ``headers.py``, what a call costs in
``units.py``.
"""
