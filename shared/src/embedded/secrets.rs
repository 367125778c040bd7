//! [`SecretStore`] on the `secrets` table, encrypted with XChaCha20-Poly1305.
//!
//! Each write draws a fresh 24-byte random nonce (XChaCha's nonce is long enough that
//! random nonces never collide in practice) and authenticates the instance id as
//! associated data: a ciphertext moved to another instance's row does not decrypt.

use super::{EmbeddedStore, Inner, db_error, row_id, writable_id};
use crate::ports::{PortError, SecretStore};
use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, params};

const NONCE_LEN: usize = 24;
const KEY_CHECK_NAME: &str = "key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"sage-events secret key check";
const KEY_CHECK_AAD: &[u8] = b"sage-events/key-check/v1";

fn secret_aad(instance: u64) -> Vec<u8> {
    format!("sage-events/secret/v1/instance/{instance}").into_bytes()
}

fn encrypt(
    cipher: &XChaCha20Poly1305,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), PortError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill(&mut nonce[..]);
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| PortError::other("secret encryption failed"))?;
    Ok((nonce, ciphertext))
}

/// `None` when the tag does not verify (wrong key, tampered or swapped row).
fn decrypt(
    cipher: &XChaCha20Poly1305,
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Option<Vec<u8>> {
    let nonce = <[u8; NONCE_LEN]>::try_from(nonce).ok()?;
    cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
}

/// On first open, store a value encrypted with the key; on later opens, check it, so a
/// wrong key fails at start-up (with `Corrupt`) instead of on every instance's first poll.
pub(super) fn check_key(
    conn: &mut Connection,
    cipher: &XChaCha20Poly1305,
) -> Result<(), PortError> {
    let err = db_error("check secret key");
    let stored: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM meta WHERE name = ?1",
            [KEY_CHECK_NAME],
            |row| row.get(0),
        )
        .optional()
        .map_err(&err)?;
    match stored {
        Some(value) => {
            let (nonce, ciphertext) = value.split_at(value.len().min(NONCE_LEN));
            match decrypt(cipher, nonce, ciphertext, KEY_CHECK_AAD) {
                Some(plaintext) if plaintext == KEY_CHECK_PLAINTEXT => Ok(()),
                _ => Err(PortError::corrupt(
                    "the secret key does not match the one this database was created with",
                )),
            }
        }
        None => {
            let (nonce, ciphertext) = encrypt(cipher, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)?;
            let mut value = nonce.to_vec();
            value.extend_from_slice(&ciphertext);
            conn.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![KEY_CHECK_NAME, value],
            )
            .map_err(&err)?;
            Ok(())
        }
    }
}

fn seal(
    inner: &Inner,
    instance: u64,
    value: &str,
) -> Result<([u8; NONCE_LEN], Vec<u8>), PortError> {
    encrypt(&inner.cipher, value.as_bytes(), &secret_aad(instance))
}

#[async_trait]
impl SecretStore for EmbeddedStore {
    async fn create(&self, instance: u64, value: &str) -> Result<(), PortError> {
        let key = writable_id(instance)?;
        let value = zeroize::Zeroizing::new(value.to_owned());
        self.run(move |conn, inner| {
            let (nonce, ciphertext) = seal(inner, instance, &value)?;
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO secrets (instance, nonce, ciphertext) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (instance) DO NOTHING",
                )
                .and_then(|mut statement| statement.execute(params![key, &nonce[..], ciphertext]))
                .map_err(db_error("create secret"))?;
            if inserted == 0 {
                return Err(PortError::conflict(format!(
                    "the secret of instance {instance} already exists"
                )));
            }
            Ok(())
        })
        .await
    }

    async fn get(&self, instance: u64) -> Result<Option<String>, PortError> {
        let Some(key) = row_id(instance) else {
            return Ok(None);
        };
        self.run(move |conn, inner| {
            let stored: Option<(Vec<u8>, Vec<u8>)> = conn
                .prepare_cached("SELECT nonce, ciphertext FROM secrets WHERE instance = ?1")
                .and_then(|mut statement| {
                    statement.query_row([key], |row| Ok((row.get(0)?, row.get(1)?)))
                })
                .optional()
                .map_err(db_error("get secret"))?;
            let Some((nonce, ciphertext)) = stored else {
                return Ok(None);
            };
            let plaintext = decrypt(&inner.cipher, &nonce, &ciphertext, &secret_aad(instance))
                .ok_or_else(|| {
                    PortError::corrupt(format!(
                        "the secret of instance {instance} cannot be decrypted \
                         (wrong key, or the row was altered)"
                    ))
                })?;
            String::from_utf8(plaintext).map(Some).map_err(|_| {
                PortError::corrupt(format!("the secret of instance {instance} is not UTF-8"))
            })
        })
        .await
    }

    async fn put(&self, instance: u64, value: &str) -> Result<(), PortError> {
        let not_found = move || PortError::not_found(format!("instance {instance} has no secret"));
        let Some(key) = row_id(instance) else {
            return Err(not_found());
        };
        let value = zeroize::Zeroizing::new(value.to_owned());
        self.run(move |conn, inner| {
            let (nonce, ciphertext) = seal(inner, instance, &value)?;
            let changed = conn
                .prepare_cached(
                    "UPDATE secrets SET nonce = ?2, ciphertext = ?3 WHERE instance = ?1",
                )
                .and_then(|mut statement| statement.execute(params![key, &nonce[..], ciphertext]))
                .map_err(db_error("put secret"))?;
            if changed == 0 {
                return Err(not_found());
            }
            Ok(())
        })
        .await
    }

    async fn delete(&self, instance: u64) -> Result<(), PortError> {
        self.delete_instance_row(
            instance,
            "DELETE FROM secrets WHERE instance = ?1",
            "delete secret",
        )
        .await
    }
}
