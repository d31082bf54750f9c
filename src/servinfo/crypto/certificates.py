"""The self-signed TLS certificate that ``servinfo init`` makes for the server.

HTTPS is the default (the notice promises encryption in transit), so a fresh
deployment needs a certificate before anything else. Operators replace it with
their own by pointing ``server.tls_cert_file``/``tls_key_file`` elsewhere.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from servinfo.crypto._files import write_new_file

CERTIFICATE_VALIDITY = dt.timedelta(days=397)


def create_self_signed_certificate(
    cert_path: Path,
    key_path: Path,
    hostnames: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
    *,
    organization: str = "servinfo",
    now: dt.datetime | None = None,
) -> None:
    """Write a new P-256 key (0600) and a certificate for ``hostnames``; never overwrite."""
    # Imported here: only ``servinfo init`` makes a certificate, and cryptography's
    # X.509 machinery would add to the start of every command that opens a deployment.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0]),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CERTIFICATE_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    write_new_file(key_path, key_pem)
    write_new_file(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
