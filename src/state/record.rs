//! The state record: what secret-sync wrote at Fly apps and GitHub
//! repositories, which cannot hold a record of their own (ESC definitions
//! carry theirs in `values.secretSyncManaged`).
//!
//! Per target and key: the target's own evidence right after the write (Fly:
//! the digest the write returned, sealed with the state key since a digest
//! may derive from the value; GitHub: the secret's `updated_at`), when it
//! was written, and — with a state key — a fingerprint of the value: an
//! HMAC-SHA-256 keyed by the user's secret, over the target, the key and the
//! value. Never a value, a line of one, or an unkeyed hash of one (a
//! low-entropy password would fall to a dictionary), so the record is safe to
//! show to anyone who can read the repository's artifacts. Binding the
//! target and key into the HMAC keeps equal values at two keys from showing
//! as equal fingerprints.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The record's format; a record of another version is not trusted.
pub const RECORD_VERSION: u32 = 1;

/// Why a state key or a record is not usable (a record's MAC is
/// [`Unverified`]'s business).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the state key must be at least 16 characters (use a random string, e.g. `openssl rand -hex 32`)")]
    ShortKey,
    #[error("it has format version {found}, this build reads {RECORD_VERSION}")]
    Version { found: u32 },
    #[error(
        "it is the record of `{manifest}` environment `{environment}`, not of `{want_manifest}` environment `{want_environment}`"
    )]
    OtherRecord { manifest: String, environment: String, want_manifest: String, want_environment: String },
}

/// The user's secret that keys fingerprints (`state-key` input,
/// `SECRET_SYNC_STATE_KEY` locally).
pub struct StateKey(SecretString);

impl StateKey {
    /// Refuses keys too short to resist guessing: the key is what stands
    /// between a fingerprint and a dictionary attack on the value.
    pub fn new(key: SecretString) -> Result<StateKey, RecordError> {
        if key.expose_secret().chars().count() < 16 {
            return Err(RecordError::ShortKey);
        }
        Ok(StateKey(key))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(self.0.expose_secret().as_bytes()).expect("HMAC takes a key of any length")
    }

    /// A fingerprint of `value` as written to `key` at `target`.
    pub fn fingerprint(&self, target: &str, key: &str, value: &SecretString) -> String {
        let mut mac = self.mac();
        for part in ["secret-sync fingerprint v1", target, key] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac.update(value.expose_secret().as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Evidence that may derive from the value (a Fly digest: opaque, and
    /// MD5 of the value on legacy apps) kept keyed, so the record holds no
    /// unkeyed hash of a value whatever the digest turns out to be.
    pub fn seal_evidence(&self, target: &str, key: &str, evidence: &str) -> String {
        let mut mac = self.mac();
        for part in ["secret-sync evidence v1", target, key] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac.update(evidence.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// The record's MAC: HMAC-SHA-256 with the state key over the record's
    /// canonical bytes ([`Record::canonical`]), apart from every other use
    /// of the key by its label.
    fn record_mac(&self, canonical: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac();
        mac.update(b"secret-sync record v1");
        mac.update(&[0]);
        mac.update(canonical);
        mac
    }

    /// Names the key without revealing it, so a record written with another
    /// key is recognised (its fingerprints then prove nothing).
    pub fn id(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"secret-sync key id v1");
        hex(&mac.finalize().into_bytes()[..8])
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// What secret-sync wrote, per manifest and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub record_version: u32,
    pub manifest: String,
    pub environment: String,
    /// When the record was last written (RFC 3339).
    pub updated_at: String,
    /// [`StateKey::id`] of the key the fingerprints were made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Target id (`fly:lambda`) → key → what was written there.
    pub targets: BTreeMap<String, BTreeMap<String, Written>>,
    /// HMAC-SHA-256 with the state key over [`Record::canonical`]: without
    /// it, or when it does not verify, the record is not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// Why a record read from storage is not used: it does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unverified {
    NoKey,
    NoMac,
    OtherKey,
    BadMac,
}

impl std::fmt::Display for Unverified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unverified::NoKey => "no `state-key` is set, so it cannot be verified",
            Unverified::NoMac => "it carries no MAC: written without a `state-key`, or not by secret-sync",
            Unverified::OtherKey => "it was made with another `state-key`",
            Unverified::BadMac => "its MAC does not verify: it was changed after secret-sync wrote it",
        })
    }
}

impl std::error::Error for Unverified {}

/// One key secret-sync wrote at one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// The target's evidence right after the write: GitHub's `updated_at`,
    /// or Fly's digest sealed with the state key ([`StateKey::seal_evidence`];
    /// empty without a key).
    pub evidence: String,
    pub written_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What the record proves about one key now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Written by secret-sync, the target's evidence unchanged since, and the
    /// value's fingerprint equal to today's: no write needed.
    Unchanged,
    /// Written by secret-sync, but something moved (the evidence, the value)
    /// or nothing can be compared (no state key): write it.
    Owned,
    /// Not written by secret-sync (as far as the record knows).
    Unknown,
}

impl Record {
    pub fn new(manifest: &str, environment: &str, key: Option<&StateKey>) -> Record {
        Record {
            record_version: RECORD_VERSION,
            manifest: manifest.to_string(),
            environment: environment.to_string(),
            updated_at: String::new(),
            key_id: key.map(StateKey::id),
            targets: BTreeMap::new(),
            mac: None,
        }
    }

    /// The bytes the MAC covers: the record as parsed, without its MAC, in
    /// compact JSON (fields in declaration order, maps sorted by key). Being
    /// the parsed record, not the stored text, it covers exactly what a run
    /// uses: fields a reader does not know are dropped, never trusted.
    pub fn canonical(&self) -> Vec<u8> {
        let bare = Record { mac: None, ..self.clone() };
        serde_json::to_vec(&bare).expect("a record serialises")
    }

    /// Stamps the record with `key`'s id and its MAC.
    pub fn seal(&mut self, key: &StateKey) {
        self.key_id = Some(key.id());
        let mac = key.record_mac(&self.canonical());
        self.mac = Some(hex(&mac.finalize().into_bytes()));
    }

    /// Whether the record was written by secret-sync with `key` and not
    /// changed since (the MAC compared in constant time).
    pub fn verify(&self, key: Option<&StateKey>) -> Result<(), Unverified> {
        let key = key.ok_or(Unverified::NoKey)?;
        let mac = self.mac.as_deref().ok_or(Unverified::NoMac)?;
        if self.key_id.as_deref() != Some(key.id().as_str()) {
            return Err(Unverified::OtherKey);
        }
        let bytes = unhex(mac).ok_or(Unverified::BadMac)?;
        key.record_mac(&self.canonical()).verify_slice(&bytes).map_err(|_| Unverified::BadMac)
    }

    /// Whether a record read from storage belongs to this run; `Err` says why not.
    pub fn check(&self, manifest: &str, environment: &str) -> Result<(), RecordError> {
        if self.record_version != RECORD_VERSION {
            return Err(RecordError::Version { found: self.record_version });
        }
        if self.environment != environment || self.manifest != manifest {
            return Err(RecordError::OtherRecord {
                manifest: self.manifest.clone(),
                environment: self.environment.clone(),
                want_manifest: manifest.to_string(),
                want_environment: environment.to_string(),
            });
        }
        Ok(())
    }

    pub fn written(&self, target: &str, key: &str) -> Option<&Written> {
        self.targets.get(target)?.get(key)
    }

    /// Keys the record says secret-sync wrote at `target`.
    pub fn owned(&self, target: &str) -> Vec<&str> {
        self.targets.get(target).map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
    }

    /// What the record proves about `key` at `target`, given the target's
    /// evidence now and, with a state key, the fingerprint of today's value.
    pub fn prove(&self, target: &str, key: &str, evidence_now: &str, fingerprint_now: Option<&str>) -> Proof {
        let Some(w) = self.written(target, key) else { return Proof::Unknown };
        let same_value = match (&w.fingerprint, fingerprint_now) {
            (Some(then), Some(now)) => self.key_id.is_some() && then == now,
            _ => false,
        };
        if same_value && w.evidence == evidence_now {
            Proof::Unchanged
        } else {
            Proof::Owned
        }
    }

    /// Records a write (or an adoption: a key that existed before secret-sync
    /// first wrote it becomes owned once it is overwritten).
    pub fn wrote(&mut self, target: &str, key: &str, evidence: String, fingerprint: Option<String>, now: &str) {
        let w = Written { evidence, written_at: now.to_string(), fingerprint };
        self.targets.entry(target.to_string()).or_default().insert(key.to_string(), w);
    }

    /// Records a deletion: the key is no longer secret-sync's.
    pub fn deleted(&mut self, target: &str, key: &str) {
        if let Some(m) = self.targets.get_mut(target) {
            m.remove(key);
            if m.is_empty() {
                self.targets.remove(target);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> StateKey {
        StateKey::new(SecretString::from(s.to_string())).unwrap()
    }

    #[test]
    fn fingerprints_are_keyed_and_bound_to_their_place() {
        let k = key("0123456789abcdef-state-key");
        let v = SecretString::from("hunter2".to_string());
        let f = k.fingerprint("fly:api", "DB_PASSWORD", &v);
        assert_eq!(f.len(), 64);
        assert_eq!(f, k.fingerprint("fly:api", "DB_PASSWORD", &v), "stable");
        assert_ne!(f, k.fingerprint("fly:web", "DB_PASSWORD", &v), "bound to the target");
        assert_ne!(f, k.fingerprint("fly:api", "DB_PASS", &v), "bound to the key");
        assert_ne!(f, key("another-key-0123456789").fingerprint("fly:api", "DB_PASSWORD", &v), "keyed");
        // Not an unkeyed hash of the value.
        use sha2::Digest;
        assert_ne!(f, hex(&Sha256::digest(b"hunter2")));
        assert!(StateKey::new(SecretString::from("short".to_string())).is_err());
    }

    #[test]
    fn proof_needs_the_same_evidence_and_value() {
        let k = key("0123456789abcdef-state-key");
        let v = SecretString::from("value-one".to_string());
        let mut r = Record::new("m.yml", "production", Some(&k));
        let fp = k.fingerprint("fly:api", "A", &v);
        r.wrote("fly:api", "A", "d1".into(), Some(fp.clone()), "2026-11-23T00:00:00Z");
        assert_eq!(r.prove("fly:api", "A", "d1", Some(&fp)), Proof::Unchanged);
        assert_eq!(r.prove("fly:api", "A", "d2", Some(&fp)), Proof::Owned, "changed at the target");
        let other = k.fingerprint("fly:api", "A", &SecretString::from("value-two".to_string()));
        assert_eq!(r.prove("fly:api", "A", "d1", Some(&other)), Proof::Owned, "changed in the source");
        assert_eq!(r.prove("fly:api", "A", "d1", None), Proof::Owned, "no key: nothing to compare");
        assert_eq!(r.prove("fly:api", "B", "d1", Some(&fp)), Proof::Unknown);
        assert_eq!(r.owned("fly:api"), ["A"]);
        r.deleted("fly:api", "A");
        assert!(r.owned("fly:api").is_empty() && r.targets.is_empty());
    }

    #[test]
    fn the_mac_refuses_edits_other_keys_and_records_without_one() {
        let k = key("0123456789abcdef-state-key");
        let mut r = Record::new("m.yml", "production", Some(&k));
        r.wrote("github:app", "A", "2026-11-23T11:40:00Z".into(), None, "2026-11-23T11:40:00Z");
        assert_eq!(r.verify(Some(&k)), Err(Unverified::NoMac));
        r.seal(&k);
        assert_eq!(r.verify(Some(&k)), Ok(()));
        assert_eq!(r.verify(None), Err(Unverified::NoKey));
        // Read back from its JSON, it still verifies.
        let back: Record = serde_json::from_slice(&serde_json::to_vec_pretty(&r).unwrap()).unwrap();
        assert_eq!(back.verify(Some(&k)), Ok(()));
        // An extra ownership entry breaks it.
        let mut forged = back.clone();
        forged.wrote("fly:api", "REDIS_URL", String::new(), None, "2026-11-23T11:40:00Z");
        assert_eq!(forged.verify(Some(&k)), Err(Unverified::BadMac));
        // So does a MAC that is not hex, or cut short.
        let cut = Record { mac: back.mac.as_ref().map(|m| m[..40].to_string()), ..back.clone() };
        assert_eq!(cut.verify(Some(&k)), Err(Unverified::BadMac));
        // Another key: named as such, and a record sealed with it does not verify under this one.
        let other = key("another-state-key-0123456");
        assert_eq!(back.verify(Some(&other)), Err(Unverified::OtherKey));
        let mut resealed = forged.clone();
        resealed.seal(&other);
        resealed.key_id = back.key_id.clone();
        assert_eq!(resealed.verify(Some(&k)), Err(Unverified::BadMac));
        // The MAC is keyed: not an unkeyed hash of the record.
        use sha2::Digest;
        assert_ne!(back.mac.clone().unwrap(), hex(&Sha256::digest(back.canonical())));
    }

    #[test]
    fn records_of_other_runs_are_refused() {
        let r = Record::new("m.yml", "production", None);
        assert!(r.check("m.yml", "production").is_ok());
        assert!(r.check("m.yml", "staging").unwrap_err().to_string().contains("environment `production`"));
        let old = Record { record_version: 0, ..r };
        assert!(old.check("m.yml", "production").unwrap_err().to_string().contains("format version 0"));
    }
}
