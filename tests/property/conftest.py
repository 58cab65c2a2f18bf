"""Property tests: no per-example deadline. A loaded 2-core CI machine can stall any one
example past hypothesis's default 200 ms; what these tests pin down is behaviour, not speed."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("spotter-properties", deadline=None)
settings.load_profile("spotter-properties")
