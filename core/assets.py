"""Airflow Assets of the lakehouse, declared once and shared by producers and consumers.

Every bronze table that changes is an asset of its own (``bronze_asset``): the capture service
posts an event for each current-state table its apply round changed, ``lakehouse_files`` for
each feed a run loaded, and ``lakehouse_refresh`` is scheduled on any of them."""

from airflow.sdk import Asset

from core.airflow_client import bronze_uri


def bronze_asset(table: str) -> Asset:
    """The asset of ``bronze.<table>`` (``<source>_<name>``)."""
    return Asset(bronze_uri(table))


CURRENT_CRM_CUSTOMERS = bronze_asset("crm_customers")
GOLD_DIM_USER = Asset("lakehouse://gold/dim_user")
GOLD_REFRESHED = Asset("lakehouse://gold/refreshed")
BRONZE_NETWORK_CELLS = bronze_asset("network_cells")
BRONZE_NETWORK_CELL_KPIS = bronze_asset("network_cell_kpis")
BRONZE_APP_EVENTS = bronze_asset("app_events")
QUALITY_RESULTS = Asset("lakehouse://quality/validation_results")
