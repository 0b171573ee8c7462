"""Plan renderers: ``text`` (reads like terraform plan), ``markdown`` (pull-request comments); JSON is
:func:`rdsssl_reconcile.planning.model.plan_to_json`."""
