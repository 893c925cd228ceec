"""Storage back ends behind small protocols; pick one by URL with the ``open_*`` functions."""
