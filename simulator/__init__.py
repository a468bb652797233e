"""The source simulator: generated CRM/BSS/network/app data with planted defects, the live
OLTP workload, and bronze fixtures for tests and benchmarks. Nothing in the pipeline imports it.
"""
