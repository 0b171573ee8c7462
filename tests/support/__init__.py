"""Test support shared across the suite (importable as ``tests.support``).

* :mod:`tests.support.openssl_procedure`: the custom-certificate page's literal openssl commands run at test time
  (single endpoint and SAN variants) and generators for the bad cases (encrypted, foreign, expired,
  other-host and PKCS#1 keys/certificates, CRLF re-wrapping). See its docstring for the API.
* :mod:`tests.support.tls`: a real TLS handshake on 127.0.0.1 with Python's ``ssl``, to prove a
  certificate works for a hostname (and that it fails when it should).

No key material is committed anywhere: every key is generated when the tests run.
"""
