"""The ModifyDBInstanceSSL request for a desired state: built once, shown in the plan, sent by apply.

The plan and apply call the same :func:`build_parameters`, so what is reviewed and what is sent
cannot drift apart: the plan stores the displayed parameters and their digest, apply rebuilds them
from the specs and refuses if the digest differs. Every parameter knows how to *display* itself
(secrets as reference + public-key fingerprint) and how to produce its *wire* value; only apply asks
for wire values, immediately before the call.

The request carries only what the pending changes need (see :func:`build_parameters`), and all of
them at once, so all pending fields land in one restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rdsssl_reconcile.live.model import LiveInstance
from rdsssl_reconcile.pki.authority import IssuedCertificate
from rdsssl_reconcile.planning.endpoints import connection_string, disable_connection_string
from rdsssl_reconcile.planning.model import FieldChange, PlannedRequest, RequestParameter
from rdsssl_reconcile.spec.model import (
    AliyunCertificate,
    CertificateMaterial,
    CrlMaterial,
    CustomCertificate,
    DesiredInstance,
    IssuerCertificate,
    SecretKey,
)


class MissingIssuedCertificate(RuntimeError):
    """A wire value for an ``issuer`` certificate was asked for before the certificate was issued."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: str

    def display(self) -> str:
        return self.value

    def wire(self, issued: IssuedCertificate | None) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class CertificateValue:
    material: CertificateMaterial

    def display(self) -> str:
        chain = self.material.chain_sha256
        extra = f" + chain {', '.join(f'sha256 {f[:23]}' for f in chain)}" if chain else ""
        return f"<certificate sha256 {self.material.summary.sha256}{extra} from {self.material.ref.describe()}>"

    def wire(self, issued: IssuedCertificate | None) -> str:
        return self.material.pem()


@dataclass(frozen=True, slots=True)
class CrlValue:
    material: CrlMaterial

    def display(self) -> str:
        return f"<CRL sha256 {self.material.summary.sha256} from {self.material.ref.describe()}>"

    def wire(self, issued: IssuedCertificate | None) -> str:
        return self.material.pem()


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: SecretKey

    def display(self) -> str:
        return f"(sensitive) <private key from {self.key.ref.describe()}, public key sha256 {self.key.summary.public_key_sha256}>"

    def wire(self, issued: IssuedCertificate | None) -> str:
        return self.key.pkcs8_pem()


@dataclass(frozen=True, slots=True)
class IssuedCertificateValue:
    issuer: IssuerCertificate
    endpoints: tuple[str, ...]

    def display(self) -> str:
        return (
            f"<new certificate for {', '.join(self.endpoints)} signed by {self.issuer.ca_cert.summary.subject}, "
            f"{self.issuer.validity_days} days, {self.issuer.key_type.value}: issued at apply>"
        )

    def wire(self, issued: IssuedCertificate | None) -> str:
        if issued is None:
            raise MissingIssuedCertificate("the certificate is issued at apply time")
        return issued.cert_pem()


@dataclass(frozen=True, slots=True)
class IssuedKeyValue:
    issuer: IssuerCertificate

    def display(self) -> str:
        return f"(sensitive) <new {self.issuer.key_type.value} private key generated at apply, never stored>"

    def wire(self, issued: IssuedCertificate | None) -> str:
        if issued is None:
            raise MissingIssuedCertificate("the key is generated at apply time")
        return issued.key_pem()


ParameterValue = Literal | CertificateValue | CrlValue | KeyValue | IssuedCertificateValue | IssuedKeyValue
_SENSITIVE = (KeyValue, IssuedKeyValue)
_AFTER_APPLY = (IssuedCertificateValue, IssuedKeyValue)


#: Changes that go through the server-certificate group (SSLEnabled=1 + CAType [+ ServerCert + ServerKey]).
SERVER_FIELDS = frozenset(
    {
        "ssl.enabled",
        "ssl.certificate.source",
        "ssl.endpoints",
        "ssl.certificate",
        "ssl.certificate.chain",
        "ssl.certificate.key",
    }
)


def build_parameters(
    desired: DesiredInstance, live: LiveInstance, changes: Sequence[FieldChange]
) -> tuple[tuple[str, ParameterValue], ...]:
    """The wire parameters for ``changes``, in the API reference's order: only what they need.

    ``DBInstanceId`` and ``ConnectionString`` always (both required), then one group per kind of pending
    change, as the Terraform provider sends them (``alicloud/resource_alicloud_db_readonly_instance.go``,
    ModifyDBInstanceSSL only with the fields whose configuration changed) within the constraints of the
    API page "ModifyDBInstanceSSL":

    * SSL off: ``SSLEnabled=0`` and nothing else;
    * SSL turned on, or any server-certificate change (source, endpoints, certificate, chain, key, a
      cloud-certificate renewal): ``SSLEnabled=1`` + ``CAType`` (+ ``ServerCert`` + ``ServerKey`` for
      ``custom``, which CAType=custom requires);
    * client CA enabled or changed: ``ClientCAEnabled=1`` + ``ClientCACert`` (required together);
      removed: ``ClientCAEnabled=0``;
    * CRL set or changed: ``ClientCrlEnabled=1`` + ``ClientCertRevocationList``; removed: ``ClientCrlEnabled=0``;
    * ``ACL`` alone, ``ReplicationACL`` alone.

    So an ACL change never re-sends ``CAType=aliyun``, which would re-issue a cloud certificate.
    """
    ssl = desired.ssl
    params: list[tuple[str, ParameterValue]] = [("DBInstanceId", Literal(desired.id))]
    if not ssl.enabled:
        fallback = live.facts.connection_string if live.facts else ""
        connection = disable_connection_string(live.ssl, ssl.endpoints, live.endpoints, fallback)
        params += [("ConnectionString", Literal(connection)), ("SSLEnabled", Literal("0"))]
        return tuple(params)
    fields = {change.field for change in changes}
    params.append(("ConnectionString", Literal(connection_string(ssl.endpoints))))
    if fields & SERVER_FIELDS:
        params.append(("SSLEnabled", Literal("1")))
        match ssl.certificate:
            case AliyunCertificate():
                params.append(("CAType", Literal("aliyun")))
            case CustomCertificate(cert=cert, key=key):
                params += [
                    ("CAType", Literal("custom")),
                    ("ServerCert", CertificateValue(cert)),
                    ("ServerKey", KeyValue(key)),
                ]
            case IssuerCertificate() as issuer:
                params += [
                    ("CAType", Literal("custom")),
                    ("ServerCert", IssuedCertificateValue(issuer, ssl.endpoints)),
                    ("ServerKey", IssuedKeyValue(issuer)),
                ]
    client_ca = ssl.client_ca
    if "ssl.client_ca" in fields:
        if client_ca is None:
            params.append(("ClientCAEnabled", Literal("0")))
        else:
            params += [("ClientCAEnabled", Literal("1")), ("ClientCACert", CertificateValue(client_ca.cert))]
    if client_ca is None:
        return tuple(params)
    if "ssl.client_ca.crl" in fields:
        if client_ca.crl is not None:
            params += [("ClientCrlEnabled", Literal("1")), ("ClientCertRevocationList", CrlValue(client_ca.crl))]
        else:
            params.append(("ClientCrlEnabled", Literal("0")))
    if "ssl.client_ca.acl" in fields and client_ca.acl:
        params.append(("ACL", Literal(client_ca.acl)))
    if "ssl.client_ca.replication_acl" in fields and client_ca.replication_acl:
        params.append(("ReplicationACL", Literal(client_ca.replication_acl)))
    return tuple(params)


def planned_request(parameters: tuple[tuple[str, ParameterValue], ...]) -> PlannedRequest:
    return PlannedRequest(
        parameters=tuple(
            RequestParameter(
                name=name,
                display=value.display(),
                sensitive=isinstance(value, _SENSITIVE),
                known_after_apply=isinstance(value, _AFTER_APPLY),
            )
            for name, value in parameters
        )
    )


def wire_parameters(
    parameters: tuple[tuple[str, ParameterValue], ...], issued: IssuedCertificate | None
) -> dict[str, str]:
    """The values to send. Secret: the caller passes them straight to the SDK and drops them."""
    return {name: value.wire(issued) for name, value in parameters}


def needs_issued_certificate(parameters: tuple[tuple[str, ParameterValue], ...]) -> IssuerCertificate | None:
    for _, value in parameters:
        if isinstance(value, IssuedCertificateValue):
            return value.issuer
    return None
