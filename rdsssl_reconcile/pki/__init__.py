"""Certificate and key handling on top of `cryptography`: parsing, summaries, hostname coverage, issuance.

Pure functions over bytes and explicit clocks; no files, no network, no cloud SDK. Shared by the spec
validator, the planner, the ``certs`` commands and the emulator (which checks uploaded certificates and
issues the emulated cloud certificates with it).
"""
