//! What GitHub knows about the secrets: names, visibility, and when each
//! value last changed, of the org and of the repository running the job.
//! Rotation and drift are judged from it in [`crate::rotation`].

use std::collections::HashMap;

use super::{GitHub, Scope, SecretMeta};
use crate::http::HttpError;

/// Secrets metadata of the org, and of the repository running the job.
pub struct Inventory {
    pub org: String,
    pub org_secrets: Vec<SecretMeta>,
    pub repo: Option<String>,
    pub repo_secrets: Vec<SecretMeta>,
    /// Why the repository's own secrets could not be read, if they could not.
    pub repo_error: Option<String>,
}

impl Inventory {
    pub async fn read(gh: &GitHub, org: &str, repo: Option<&str>) -> Result<Inventory, HttpError> {
        let org_secrets = gh.list(&Scope::Org(org.to_string())).await?;
        let (repo_secrets, repo_error) = match repo {
            Some(r) => match gh.list(&Scope::Repo(r.to_string())).await {
                Ok(s) => (s, None),
                Err(e) => (Vec::new(), Some(e.message)),
            },
            None => (Vec::new(), None),
        };
        Ok(Inventory { org: org.to_string(), org_secrets, repo: repo.map(str::to_string), repo_secrets, repo_error })
    }

    /// A source secret's metadata: the repository's secret wins over the
    /// org's (as it does in `toJSON(secrets)`). Names are case-insensitive.
    pub fn find(&self, name: &str) -> Option<(&SecretMeta, &'static str)> {
        let hit = |v: &[SecretMeta]| v.iter().position(|s| s.name.eq_ignore_ascii_case(name));
        if let Some(i) = hit(&self.repo_secrets) {
            return Some((&self.repo_secrets[i], "repository"));
        }
        hit(&self.org_secrets).map(|i| (&self.org_secrets[i], "org"))
    }

    /// Last change of each known source secret, for targets that cannot
    /// compare values (GitHub).
    pub fn updated_at(&self) -> HashMap<String, i64> {
        let mut m = HashMap::new();
        for s in self.org_secrets.iter().chain(&self.repo_secrets) {
            if let Some(t) = s.updated() {
                m.insert(s.name.to_ascii_uppercase(), t);
            }
        }
        m
    }
}
