"""The bot's own certificate, for getting its Bot Connector token without a client secret.

Entra ID's client credentials flow accepts a client assertion in place of a secret: a short-lived JWT that names the
app (iss and sub), is meant for the token endpoint (aud), and is signed with the private key of a certificate
uploaded to the app registration, which the JWT names by thumbprint. As Microsoft documents it today: PS256, with
the certificate's SHA-256 thumbprint in `x5t#S256`.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import ConfigurationError

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Microsoft asks for 5 to 10 minutes at most; each token request makes a new one.
ASSERTION_LIFETIME = timedelta(minutes=5)
_HEX = re.compile(r"[^0-9a-fA-F]")


@dataclass(frozen=True)
class BotCertificate:
    private_key: rsa.RSAPrivateKey
    # Base64url (unpadded) SHA-256 of the certificate's DER encoding, as Entra ID reads it from `x5t#S256`.
    sha256_thumbprint: str
    # Upper-case hex SHA-1 of the same, as the Azure portal lists it.
    sha1_thumbprint: str

    def client_assertion(self, *, app_id: str, token_url: str, now: datetime) -> str:
        claims = {
            "aud": token_url,
            "iss": app_id,
            "sub": app_id,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        headers = {"typ": "JWT", "x5t#S256": self.sha256_thumbprint}
        return jwt.encode(claims, self.private_key, algorithm="PS256", headers=headers)


def load_certificate(path: str, *, thumbprint: str | None = None) -> BotCertificate:
    """The certificate and its private key from one PEM file; refuses, naming the setting, anything it cannot use."""
    try:
        pem = Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(
            f"TEAMS_APP_CERTIFICATE_PATH={path!r} cannot be read ({error.strerror}): "
            "point it at the PEM file holding the bot's certificate and its private key"
        ) from error
    try:
        certificate = x509.load_pem_x509_certificate(pem)
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"TEAMS_APP_CERTIFICATE_PATH={path!r} does not hold both a PEM certificate and its unencrypted private "
            "key: put both in the file (for example `cat bot.crt bot.key > bot.pem`)"
        ) from error
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ConfigurationError(
            f"TEAMS_APP_CERTIFICATE_PATH={path!r} holds a key that is not RSA: Entra ID needs an RSA certificate"
        )
    # SHA-1 only names the certificate here, the way the Azure portal lists it; nothing is signed with it.
    sha1 = certificate.fingerprint(hashes.SHA1()).hex().upper()
    if thumbprint is not None and _HEX.sub("", thumbprint).upper() != sha1:
        raise ConfigurationError(
            f"TEAMS_APP_CERTIFICATE_THUMBPRINT does not match the certificate in TEAMS_APP_CERTIFICATE_PATH "
            f"(its thumbprint is {sha1}): upload that certificate to the app registration, or fix the setting"
        )
    sha256 = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
    return BotCertificate(private_key=private_key, sha256_thumbprint=sha256, sha1_thumbprint=sha1)
