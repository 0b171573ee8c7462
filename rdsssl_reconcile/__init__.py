"""rdsssl-reconcile: declare, plan, apply and drift-check SSL on ApsaraDB RDS for PostgreSQL."""

__version__ = "0.1.0"
