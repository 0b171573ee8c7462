"""Reaching the RDS OpenAPI: the port (:mod:`.port`), the one SDK adapter (:mod:`.sdk`), retries
(:mod:`.retry`) and target resolution (:mod:`.target`). Only :mod:`.sdk` imports the vendor SDK."""
