"""``probe``: check the tool's assumptions about the RDS API against whatever target it is pointed at.

Why: every assumption the public record leaves open (how DescribeDBInstances reads several ids, how
several protected endpoints appear in ``ConnectionString``, the formats and empty-value markers of
DescribeDBInstanceSSL, the busy status string) is also an assumption of the client. ``probe`` asks the
target and says which reading it met, in a form fit to attach to a bug report.

Strictly read-only: :func:`run_probe` takes a :class:`~rdsssl_reconcile.cloud.port.ReadOnlyCloudClient`
(the CLI hands it a :class:`~rdsssl_reconcile.cloud.port.ReadOnlyView`, which has no ``modify_ssl``), and
every call goes through :class:`_Counting`, which records the action names for the report.

Nothing secret is reported: ``ServerKey`` never reaches this module (the adapter replaces it by the
fingerprint of its public half), certificates and CRLs are shown by SHA-256 fingerprint, and other values
only as their format (``iso8601-utc``, ``empty ""``, ``dash "-"``, ``on/off``...) unless they are short
enumerations or host names. The analysis functions are pure, to be tested on recorded answers.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from rdsssl_reconcile.cloud.port import MAX_PAGE_SIZE, RawBody, ReadOnlyCloudClient
from rdsssl_reconcile.errors import CloudError, PemError
from rdsssl_reconcile.live.discovery import ENGINE, items_of, split_answer, total_of
from rdsssl_reconcile.live.parse import parse_net_info
from rdsssl_reconcile.pki.hostname import name_matches
from rdsssl_reconcile.pki.pem import load_certificates, load_crl
from rdsssl_reconcile.pki.summary import sha256_fingerprint, summarize_certificate

#: DescribeDBInstanceSSL fields documented for PostgreSQL (its API page), in the page's order.
SSL_FIELDS = (
    "SSLEnabled",
    "CAType",
    "ConnectionString",
    "SSLExpireTime",
    "SSLCreateTime",
    "RequireUpdate",
    "RequireUpdateItem",
    "RequireUpdateReason",
    "LastModifyStatus",
    "ModifyStatusReason",
    "ServerCAUrl",
    "ServerCert",
    "ClientCACert",
    "ClientCACertExpireTime",
    "ClientCertRevocationList",
    "ACL",
    "ReplicationACL",
)
#: DescribeDBInstances paging fields (its API page).
PAGING_FIELDS = ("PageNumber", "PageRecordCount", "TotalRecordCount", "NextToken")
#: Values short and public enough to show as they are (still escaped for the terminal).
ENUM_FIELDS = frozenset(
    {"SSLEnabled", "CAType", "RequireUpdate", "RequireUpdateItem", "LastModifyStatus", "ACL", "ReplicationACL"}
)
#: How many instances are sampled when no --instance is given.
SAMPLE = 5
#: An id that cannot exist (ids are letters, digits, '-', '_' and '.'), to see the unknown-instance errors.
UNKNOWN_ID = "pgm-rdsssl-probe-no-such-instance"

_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_ISO_Z_MINUTES = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$")
_ISO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2})$")
_SPACE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_HOST = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9.*-]*$")


# ---------------------------------------------------------------------------------------------- formats


def value_format(name: str, value: Any) -> str:
    """The format of one response value, without its content (unless it is a short public enumeration)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value!r}" if name in ENUM_FIELDS or name in PAGING_FIELDS else "number"
    if not isinstance(value, str):
        return type(value).__name__
    if value == "":
        return 'empty ""'
    if value == "-":
        return 'dash "-"'
    if "-----BEGIN" in value:
        return _pem_format(value)
    if _ISO_Z.match(value):
        return "iso8601-utc (yyyy-MM-ddTHH:mm:ssZ)"
    if _ISO_Z_MINUTES.match(value):
        return "iso8601-utc without seconds (yyyy-MM-ddTHH:mmZ)"
    if _ISO_OFFSET.match(value):
        return "iso8601 with an offset"
    if _SPACE_TIME.match(value):
        return "date and time without zone (yyyy-MM-dd HH:mm:ss)"
    if name in ENUM_FIELDS and len(value) <= 40:
        return f"string {value!r}"
    if name == "ConnectionString":
        return f"string {value!r}"
    if value.startswith(("http://", "https://")):
        return "url"
    return f"string ({len(value)} characters)"


def _pem_format(value: str) -> str:
    try:
        certificates = load_certificates(value)
    except PemError:
        certificates = ()
    if certificates:
        fingerprints = ", ".join(sha256_fingerprint(c.public_bytes(Encoding.DER))[:23] for c in certificates)
        count = len(certificates)
        return f"pem: {count} certificate{'s' if count != 1 else ''} (sha256 {fingerprints}...)"
    try:
        crl = load_crl(value)
    except PemError:
        return "pem (unparseable)"
    return f"pem: CRL (sha256 {sha256_fingerprint(crl.public_bytes(Encoding.DER))[:23]}...)"


def fields_report(body: RawBody, names: Sequence[str]) -> dict[str, str]:
    """``{field: format}`` for every documented field, ``absent`` for the ones missing."""
    return {name: value_format(name, body[name]) if name in body else "absent" for name in names}


def empty_markers(bodies: Sequence[RawBody]) -> list[str]:
    """Which spellings of "no value" the SSL bodies use ("" and/or "-")."""
    seen = {value for body in bodies for name in SSL_FIELDS if (value := body.get(name)) in ("", "-")}
    return sorted(seen)


# ---------------------------------------------------------------------------------------------- multi-id


@dataclass(frozen=True, slots=True)
class MultiIdCheck:
    """One two-id DescribeDBInstances compared with single-id calls for the same ids."""

    reading: str  # list | first | ignored | literal | error | subset | single-ignored | not-checked
    detail: str
    asked: tuple[str, ...] = ()
    answered: tuple[str, ...] = ()
    extra_count: int = 0
    total_record_count: int | None = None
    error_code: str | None = None


def classify_multi_id(
    asked: Sequence[str],
    singles: Sequence[RawBody],
    pair: RawBody | None,
    pair_error: CloudError | None,
) -> MultiIdCheck:
    """Which reading a two-id answer shows, given that each id alone was answered by ``singles``."""
    a, b = asked[0], asked[1]
    for instance_id, body in zip(asked, singles, strict=True):
        single = split_answer([instance_id], body)
        if single.filter_ignored:
            return MultiIdCheck(
                reading="ignored",
                detail=f"even a single-id call returned instances not asked for ({len(single.extras)}): "
                "the DBInstanceId filter is ignored",
                asked=tuple(asked),
                extra_count=len(single.extras),
                total_record_count=single.total,
            )
        if instance_id not in single.answered:
            return MultiIdCheck(
                reading="not-checked", detail=f"{instance_id} alone was not answered", asked=tuple(asked)
            )
    if pair_error is not None:
        return MultiIdCheck(
            reading="error",
            detail=f"the two-id call failed with {pair_error.code}",
            asked=tuple(asked),
            error_code=pair_error.code,
        )
    assert pair is not None
    answer = split_answer(asked, pair)
    answered = tuple(i for i in asked if i in answer.answered)

    def check(reading: str, detail: str) -> MultiIdCheck:
        return MultiIdCheck(
            reading=reading,
            detail=detail,
            asked=tuple(asked),
            answered=answered,
            extra_count=len(answer.extras),
            total_record_count=answer.total,
        )

    if answer.filter_ignored:
        return check(
            "ignored",
            f"the two-id call returned {len(answer.extras)} instance(s) not asked for "
            f"(TotalRecordCount {answer.total}): the id list is ignored",
        )
    if set(answered) == {a, b}:
        return check("list", "both ids answered, nothing else: the list is honoured")
    if answered == (a,):
        return check("first", "only the first id was answered")
    if not answered:
        return check("literal", "nothing answered, though each id alone is: the list is read as one id")
    return check("subset", "only the second id was answered")


# ---------------------------------------------------------------------------------------------- endpoints


@dataclass(frozen=True, slots=True)
class EndpointCheck:
    """How one instance with SSL on reports its protected endpoints."""

    instance_id: str
    reading: str  # comma | semicolon | certificate-sans | single | other
    detail: str
    connection_string: str
    reported_hosts: tuple[str, ...]
    instance_endpoints: tuple[str, ...]
    covered_by_certificate: tuple[str, ...]


def classify_connection_string(
    instance_id: str, connection_string: str, endpoints: Sequence[str], cert_names: Sequence[str]
) -> EndpointCheck:
    """Which ConnectionString reading one answer shows, with the certificate's SANs as the evidence."""
    covered = tuple(e for e in endpoints if any(name_matches(n, e) for n in cert_names))
    separators = [s for s in (",", ";") if s in connection_string]
    hosts = tuple(h.strip() for h in re.split(r"[,;\s]+", connection_string) if h.strip())

    def check(reading: str, detail: str) -> EndpointCheck:
        return EndpointCheck(
            instance_id=instance_id,
            reading=reading,
            detail=detail,
            connection_string=connection_string,
            reported_hosts=hosts,
            instance_endpoints=tuple(endpoints),
            covered_by_certificate=covered,
        )

    if separators == [","]:
        return check("comma", f"{len(hosts)} hosts separated by commas")
    if separators == [";"]:
        return check("semicolon", f"{len(hosts)} hosts separated by semicolons")
    if separators or len(hosts) != 1 or not _HOST.match(hosts[0]):
        return check("other", "neither one host nor a comma or semicolon list")
    if len(covered) > 1:
        return check(
            "certificate-sans",
            f"one host reported while the certificate covers {len(covered)} of the instance's endpoints: "
            "the protected hosts follow the certificate's SANs",
        )
    return check("single", "one host, and the certificate covers no other endpoint: the readings look alike")


# ---------------------------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class InstanceProbe:
    instance_id: str
    status: str | None
    ssl_fields: dict[str, str]
    unexpected_fields: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeReport:
    target: str
    region: str
    calls: dict[str, int]
    paging_fields: dict[str, str]
    listed_total: int | None
    multi_id: MultiIdCheck
    instances: tuple[InstanceProbe, ...]
    endpoints: tuple[EndpointCheck, ...]
    empty_markers: tuple[str, ...]
    busy_statuses: dict[str, str]
    unknown_instance: dict[str, str]
    problems: tuple[str, ...] = ()

    @property
    def only_describe(self) -> bool:
        return all(action.startswith("Describe") for action in self.calls)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": "1.0",
            "target": self.target,
            "region": self.region,
            "calls": dict(self.calls),
            "only_describe_actions": self.only_describe,
            "describe_db_instances": {
                "paging_fields": self.paging_fields,
                "listed_total": self.listed_total,
                "multi_id": {
                    "reading": self.multi_id.reading,
                    "detail": self.multi_id.detail,
                    "asked": list(self.multi_id.asked),
                    "answered": list(self.multi_id.answered),
                    "extra_count": self.multi_id.extra_count,
                    "total_record_count": self.multi_id.total_record_count,
                    "error_code": self.multi_id.error_code,
                },
            },
            "connection_string": [
                {
                    "instance_id": e.instance_id,
                    "reading": e.reading,
                    "detail": e.detail,
                    "value": e.connection_string,
                    "reported_hosts": list(e.reported_hosts),
                    "instance_endpoints": list(e.instance_endpoints),
                    "covered_by_certificate": list(e.covered_by_certificate),
                }
                for e in self.endpoints
            ],
            "describe_db_instance_ssl": [
                {
                    "instance_id": i.instance_id,
                    "status": i.status,
                    "fields": i.ssl_fields,
                    "unexpected_fields": list(i.unexpected_fields),
                    "error": i.error,
                }
                for i in self.instances
            ],
            "empty_value_markers": list(self.empty_markers),
            "busy_statuses": self.busy_statuses,
            "unknown_instance": self.unknown_instance,
            "problems": list(self.problems),
        }


class _Counting:
    """A read-only client that counts the actions it is asked for (the report lists them)."""

    def __init__(self, inner: ReadOnlyCloudClient) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, action: str) -> None:
        with self._lock:
            self.calls[action] += 1

    def page(self, region: str, **kwargs: Any) -> RawBody:
        self._count("DescribeDBInstances")
        return self._inner.describe_instances_page(region, **kwargs)

    def attribute(self, region: str, instance_id: str) -> RawBody:
        self._count("DescribeDBInstanceAttribute")
        return self._inner.describe_instance(region, instance_id)

    def net_info(self, region: str, instance_id: str) -> RawBody:
        self._count("DescribeDBInstanceNetInfo")
        return self._inner.describe_net_info(region, instance_id)

    def ssl(self, region: str, instance_id: str) -> RawBody:
        self._count("DescribeDBInstanceSSL")
        return self._inner.describe_ssl(region, instance_id)


def _error_text(exc: CloudError) -> str:
    status = f" (HTTP {exc.status})" if exc.status else ""
    return f"{exc.code}{status}"


def _cert_names(body: RawBody) -> tuple[str, ...]:
    value = body.get("ServerCert")
    if not isinstance(value, str) or "-----BEGIN" not in value:
        return ()
    try:
        leaf = load_certificates(value)[0]
    except (PemError, IndexError):
        return ()
    summary = summarize_certificate(leaf)
    return summary.dns_names or ((summary.common_name,) if summary.common_name else ())


@dataclass
class _Work:
    problems: list[str] = field(default_factory=list)
    items: dict[str, RawBody] = field(default_factory=dict)


def run_probe(
    client: ReadOnlyCloudClient, region: str, instance_ids: Sequence[str] = (), *, target: str = ""
) -> ProbeReport:
    """Ask the target; every call is a Describe action (the client cannot do anything else)."""
    api = _Counting(client)
    work = _Work()
    listed_total: int | None = None
    paging: dict[str, str] = {}
    try:
        listing = api.page(region, engine=ENGINE, page_number=1, page_size=MAX_PAGE_SIZE)
        paging = fields_report(listing, PAGING_FIELDS)
        listed_total = total_of(listing)
        listed = items_of(listing)
    except CloudError as exc:
        work.problems.append(f"DescribeDBInstances (Engine=PostgreSQL) failed: {_error_text(exc)}")
        listed = []
    ids = list(dict.fromkeys(instance_ids)) or [str(i.get("DBInstanceId", "")) for i in listed[:SAMPLE]]
    for entry in listed:
        work.items.setdefault(str(entry.get("DBInstanceId", "")), entry)

    multi = _check_multi_id(api, region, ids, work)
    probes: list[InstanceProbe] = []
    bodies: list[RawBody] = []
    endpoints: list[EndpointCheck] = []
    busy: dict[str, str] = {}
    for instance_id in ids:
        item = work.items.get(instance_id)
        if item is None:
            try:
                item = api.attribute(region, instance_id)
            except CloudError as exc:
                probes.append(
                    InstanceProbe(instance_id, None, {}, (), error=f"DescribeDBInstanceAttribute: {_error_text(exc)}")
                )
                continue
        status = str(item.get("DBInstanceStatus", ""))
        try:
            body = api.ssl(region, instance_id)
        except CloudError as exc:
            probes.append(
                InstanceProbe(instance_id, status, {}, (), error=f"DescribeDBInstanceSSL: {_error_text(exc)}")
            )
            continue
        bodies.append(body)
        if status != "Running":
            reason = value_format("LastModifyStatus", body.get("LastModifyStatus"))
            busy[instance_id] = f"{status} (LastModifyStatus {reason})"
        known = set(SSL_FIELDS) | {"RequestId", "ServerKeyPublicSha256", "ForceEncryption", "TlsVersion"}
        probes.append(
            InstanceProbe(
                instance_id=instance_id,
                status=status,
                ssl_fields={**fields_report(body, SSL_FIELDS), "ServerKey": _server_key_note(body)},
                unexpected_fields=tuple(sorted(k for k in body if k not in known)),
            )
        )
        connection_string = body.get("ConnectionString")
        if str(body.get("SSLEnabled", "")).lower() in ("on", "yes", "1") and isinstance(connection_string, str):
            try:
                hosts = tuple(e.host for e in parse_net_info(api.net_info(region, instance_id)))
            except CloudError as exc:
                work.problems.append(f"DescribeDBInstanceNetInfo {instance_id}: {_error_text(exc)}")
                hosts = ()
            endpoints.append(classify_connection_string(instance_id, connection_string, hosts, _cert_names(body)))
    unknown = _unknown_instance(api, region)
    return ProbeReport(
        target=target,
        region=region,
        calls=dict(api.calls),
        paging_fields=paging,
        listed_total=listed_total,
        multi_id=multi,
        instances=tuple(probes),
        endpoints=tuple(endpoints),
        empty_markers=tuple(empty_markers(bodies)),
        busy_statuses=busy,
        unknown_instance=unknown,
        problems=tuple(work.problems),
    )


def _server_key_note(body: RawBody) -> str:
    fingerprint = body.get("ServerKeyPublicSha256")
    if fingerprint:
        return "returned (redacted by the tool: only its public-key fingerprint is kept)"
    return "not returned"


def _check_multi_id(api: _Counting, region: str, ids: Sequence[str], work: _Work) -> MultiIdCheck:
    pair = [i for i in ids if i][:2]
    if len(pair) < 2:
        return MultiIdCheck(reading="not-checked", detail="needs two instances in the region (pass --instance twice)")
    singles: list[RawBody] = []
    for instance_id in pair:
        try:
            singles.append(api.page(region, instance_ids=[instance_id]))
        except CloudError as exc:
            return MultiIdCheck(
                reading="not-checked",
                detail=f"a single-id call for {instance_id} failed with {_error_text(exc)}",
                asked=tuple(pair),
            )
    for instance_id, body in zip(pair, singles, strict=True):
        for item in items_of(body):
            if str(item.get("DBInstanceId", "")) == instance_id:
                work.items.setdefault(instance_id, item)
    try:
        body = api.page(region, instance_ids=pair)
    except CloudError as exc:
        return classify_multi_id(pair, singles, None, exc)
    return classify_multi_id(pair, singles, body, None)


def _unknown_instance(api: _Counting, region: str) -> dict[str, str]:
    """The error each single-instance action answers for an id that does not exist."""
    answers: dict[str, str] = {}
    for action, call in (
        ("DescribeDBInstanceAttribute", api.attribute),
        ("DescribeDBInstanceSSL", api.ssl),
    ):
        try:
            call(region, UNKNOWN_ID)
        except CloudError as exc:
            answers[action] = _error_text(exc)
        else:
            answers[action] = "answered without an error"
    return answers
