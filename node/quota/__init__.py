"""Quotas: per-tenant and per-bucket limits, decided by one desk per tenant (desk.py) on usage counters
kept by the metadata homes (node/store/usage.py)."""
