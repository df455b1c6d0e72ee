"""Reusable components that turn registered models into governed Databricks serving endpoints."""
