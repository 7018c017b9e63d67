"""The key service (SSE-KMS): KMS keys inside sealbox, or an external service speaking the AWS KMS API.

    model.py     typed records (KmsKey, Alias, KeyState) and the KMS errors (KmsError, KmsCode)
    store.py     the KmsStore protocol (SQLite implementation: sealbox.storage.meta.kms_sqlite)
    policy.py    key policies: AWS's key-policy JSON, parsed once, evaluated like bucket policies
    service.py   KeyService: the built-in key service (management, Encrypt/Decrypt/GenerateDataKey)
    backend.py   KeyBackend: what SSE-KMS needs of a key service; the built-in and the external one
    external.py  the client of an external AWS-KMS-API endpoint (SigV4, JSON 1.1)

Key material is stored only sealed under the master keyring (``sealbox.crypto.kms_format``); object
data keys are sealed under key-encryption keys that the key service wraps (``service/kms_sse.py``).
"""
