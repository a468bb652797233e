"""The bottom layer: settings, clients (SQL, Airflow, Spark sessions), Assets and dbt config.

Imports nothing of the project; every other package may import it.
"""
