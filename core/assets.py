"""Airflow Assets of the lakehouse, declared once and shared by producers and consumers."""

from airflow.sdk import Asset

BRONZE_CRM_CUSTOMERS = Asset("lakehouse://bronze/crm_customers_changes")
CURRENT_CRM_CUSTOMERS = Asset("lakehouse://bronze/crm_customers")
GOLD_DIM_USER = Asset("lakehouse://gold/dim_user")
BRONZE_NETWORK_CELLS = Asset("lakehouse://bronze/network_cells")
BRONZE_NETWORK_CELL_KPIS = Asset("lakehouse://bronze/network_cell_kpis")
BRONZE_APP_EVENTS = Asset("lakehouse://bronze/app_events")
QUALITY_RESULTS = Asset("lakehouse://quality/validation_results")
