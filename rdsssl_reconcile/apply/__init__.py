"""Apply: carry out exactly what was planned, within restart policy, and prove it landed.

``policy`` (may this instance restart now?), ``waiting`` (deadline + acceptor polling), ``executor``
(one instance from re-check to proof; the fleet with parallelism and a restart budget), ``audit``
(JSON lines of every mutating call), ``progress`` (live display or plain lines) and ``report``.
"""
