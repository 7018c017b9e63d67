"""Principals: access keys (their secrets sealed under a master key) and users."""

from __future__ import annotations

from sealbox.storage.meta.base import Credential, User
from sealbox.storage.meta.sqlrows import SqlStore


class PrincipalsMixin(SqlStore):
    # -- credentials ----------------------------------------------------------------------------
    def get_credential(self, access_key: str) -> Credential | None:
        row = self._conn().execute("SELECT access_key, principal, sealed_secret, created FROM credentials"
                                   " WHERE access_key=?", (access_key,)).fetchone()
        return Credential(*row) if row else None

    def put_credential(self, credential: Credential) -> None:
        with self._write() as db:
            db.execute("INSERT INTO credentials(access_key, principal, sealed_secret, created) VALUES (?,?,?,?)"
                       " ON CONFLICT(access_key) DO UPDATE SET principal=excluded.principal,"
                       " sealed_secret=excluded.sealed_secret, created=excluded.created", (credential.access_key, credential.principal,
                                             credential.sealed_secret, credential.created))

    def list_credentials(self) -> list[Credential]:
        rows = self._conn().execute("SELECT access_key, principal, sealed_secret, created FROM credentials"
                                    " ORDER BY created").fetchall()
        return [Credential(*r) for r in rows]

    def delete_credential(self, access_key: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM credentials WHERE access_key=?", (access_key,)).rowcount > 0

    # -- users (issue #5: principals) ----------------------------------------------------------------
    def create_user(self, user: User) -> bool:
        with self._write() as db:
            return db.execute("INSERT INTO users(name, created) VALUES (?,?) ON CONFLICT DO NOTHING",
                              (user.name, user.created)).rowcount > 0

    def get_user(self, name: str) -> User | None:
        row = self._conn().execute("SELECT name, created FROM users WHERE name=?", (name,)).fetchone()
        return User(*row) if row else None

    def list_users(self) -> list[User]:
        return [User(*r) for r in self._conn().execute("SELECT name, created FROM users ORDER BY name")]

    def delete_user(self, name: str) -> list[str] | None:
        with self._write() as db:
            if db.execute("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
                return None
            keys = [r[0] for r in db.execute("SELECT access_key FROM credentials WHERE principal=?", (name,))]
            db.execute("DELETE FROM credentials WHERE principal=?", (name,))
        return keys
