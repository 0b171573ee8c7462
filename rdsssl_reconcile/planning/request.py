"""The ModifyDBInstanceSSL request for a desired state: built once, shown in the plan, sent by apply.

The plan and apply call the same :func:`build_parameters`, so what is reviewed and what is sent
cannot drift apart: the plan stores the displayed parameters and their digest, apply rebuilds them
from the specs and refuses if the digest differs. Every parameter knows how to *display* itself
(secrets as reference + public-key fingerprint) and how to produce its *wire* value; only apply asks
for wire values, immediately before the call.

The request always carries the whole desired configuration (SSL, certificate, client CA, CRL, ACLs),
so all pending fields land in one restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdsssl_reconcile.live.model import LiveInstance
from rdsssl_reconcile.pki.authority import IssuedCertificate
from rdsssl_reconcile.planning.model import PlannedRequest, RequestParameter
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


def disable_connection_string(desired: DesiredInstance, live: LiveInstance) -> str:
    """ConnectionString is required even to disable SSL: use what is protected now."""
    if live.ssl and live.ssl.endpoints:
        return ",".join(live.ssl.endpoints)
    if desired.ssl.endpoints:
        return ",".join(desired.ssl.endpoints)
    return live.facts.connection_string if live.facts else ""


def build_parameters(desired: DesiredInstance, live: LiveInstance) -> tuple[tuple[str, ParameterValue], ...]:
    """Wire parameters, in the API reference's order, for the desired state of ``desired``."""
    ssl = desired.ssl
    params: list[tuple[str, ParameterValue]] = [("DBInstanceId", Literal(desired.id))]
    if not ssl.enabled:
        params += [
            ("ConnectionString", Literal(disable_connection_string(desired, live))),
            ("SSLEnabled", Literal("0")),
        ]
        return tuple(params)
    params += [("ConnectionString", Literal(",".join(ssl.endpoints))), ("SSLEnabled", Literal("1"))]
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
    if client_ca is None:
        params.append(("ClientCAEnabled", Literal("0")))
        return tuple(params)
    params += [("ClientCAEnabled", Literal("1")), ("ClientCACert", CertificateValue(client_ca.cert))]
    if client_ca.crl is not None:
        params += [("ClientCrlEnabled", Literal("1")), ("ClientCertRevocationList", CrlValue(client_ca.crl))]
    else:
        params.append(("ClientCrlEnabled", Literal("0")))
    if client_ca.acl:
        params.append(("ACL", Literal(client_ca.acl)))
    if client_ca.replication_acl:
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
