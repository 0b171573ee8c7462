"""Spec files: the desired SSL state of each instance, as reviewed in Git.

``schema`` (the format, as JSON Schema), ``yaml_source`` (the only YAML reader), ``loader`` (files ->
validated :class:`~rdsssl_reconcile.spec.model.DesiredInstance` values), ``model`` and ``window``.
"""
