"""Encryption at rest: envelope encryption, a versioned keyring and key sources.

The key hierarchy, from the root down::

    master key            32 bytes from SERVINFO_MASTER_KEY or a 0600 file (master)
    └── keyring           one JSON file of wrapped, versioned keys (keyring, sources)
        ├── kek:<region>  key-encryption key of one region
        │   └── data key  one per (subject, region, retention class), stored wrapped
        │       └── record   AES-256-GCM, bound to its row by associated data (envelope)
        ├── blind_index   HMAC key for searchable fields (keyed_hash)
        ├── pseudonym     HMAC key for audit pseudonyms (keyed_hash)
        ├── audit_signing Ed25519 key for signed tree heads
        └── export        key-encryption key of exports
            └── export key   one per export, stored wrapped, destroyed when it expires

Rotating a KEK only re-wraps data keys (:func:`rewrap`); destroying a data key
shreds its records. The master key can live in a cloud KMS instead: implement
:class:`KeyWrapper`.

Everything here chooses nonces, formats and associated data for the caller.
The raw AES-GCM primitives live in ``servinfo.crypto._aead``, which nothing
outside this package may import.
"""

from servinfo.crypto._files import write_new_file as write_secret_file
from servinfo.crypto.certificates import create_self_signed_certificate
from servinfo.crypto.envelope import (
    DataKey,
    KekWrapper,
    RecordBinding,
    Sealer,
    data_key_context,
    new_data_key,
    rewrap,
    unwrap_data_key,
    wrap_data_key,
)
from servinfo.crypto.errors import (
    CryptoError,
    IntegrityError,
    KeyringError,
    KeyringLocked,
    MasterKeyError,
    SealedIntegrityError,
    UnwrapError,
)
from servinfo.crypto.keyed_hash import (
    BLIND_INDEX_SIZE,
    BlindIndexer,
    Pseudonymizer,
    normalize_identifier,
)
from servinfo.crypto.keyring import (
    AUDIT_SIGNING,
    BLIND_INDEX,
    EXPORT,
    PSEUDONYM,
    Keyring,
    KeyStatus,
    KeyVersion,
    kek_purpose,
)
from servinfo.crypto.master import (
    MASTER_KEY_ENV,
    MASTER_KEY_SIZE,
    decode_master_key,
    encode_master_key,
    generate_master_key_file,
    load_master_key,
)
from servinfo.crypto.sources import KeyWrapper, LocalMasterKeyWrapper
from servinfo.crypto.tokens import hash_token, new_token, token_matches

__all__ = [
    "AUDIT_SIGNING",
    "BLIND_INDEX",
    "BLIND_INDEX_SIZE",
    "EXPORT",
    "MASTER_KEY_ENV",
    "MASTER_KEY_SIZE",
    "PSEUDONYM",
    "BlindIndexer",
    "CryptoError",
    "DataKey",
    "IntegrityError",
    "KekWrapper",
    "KeyStatus",
    "KeyVersion",
    "KeyWrapper",
    "Keyring",
    "KeyringError",
    "KeyringLocked",
    "LocalMasterKeyWrapper",
    "MasterKeyError",
    "Pseudonymizer",
    "RecordBinding",
    "SealedIntegrityError",
    "Sealer",
    "UnwrapError",
    "create_self_signed_certificate",
    "data_key_context",
    "decode_master_key",
    "encode_master_key",
    "generate_master_key_file",
    "hash_token",
    "kek_purpose",
    "load_master_key",
    "new_data_key",
    "new_token",
    "normalize_identifier",
    "rewrap",
    "token_matches",
    "unwrap_data_key",
    "wrap_data_key",
    "write_secret_file",
]
