"""``python -m rdsssl_reconcile`` is the same as the ``rdsssl-reconcile`` command."""

from rdsssl_reconcile.cli import main

if __name__ == "__main__":
    main()
