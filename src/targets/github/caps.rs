//! GitHub's limits on secrets, checked in the plan so that a target that
//! would pass one fails before anything is written (docs/service-facts.md,
//! "GitHub: secrets limits"; docs.github.com "Secrets reference", limits for
//! secrets): 100 secrets per repository, 100 per environment, 1,000 per
//! organization; a secret's value at most 48 KB.

use crate::github::Scope;

/// Secrets a repository or an environment can hold.
pub const PER_REPOSITORY: usize = 100;
/// Secrets an organization can hold.
pub const PER_ORGANIZATION: usize = 1000;
/// A secret's size. Whether GitHub counts the value or its encryption is
/// not documented: the value is checked, so a value just under the cap may
/// still be refused by GitHub (its answer then fails the target).
pub const VALUE_BYTES: usize = 48 * 1024;

/// The count limit of a scope.
pub fn count_limit(scope: &Scope) -> usize {
    match scope.is_org() {
        true => PER_ORGANIZATION,
        false => PER_REPOSITORY,
    }
}

/// Why the plan cannot be written, if a limit would be passed: `after` is
/// how many secrets the scope would hold; `sizes` each key written and its
/// value's length in bytes.
pub fn check<'a>(scope: &Scope, after: usize, sizes: impl Iterator<Item = (&'a str, usize)>) -> Option<String> {
    let mut problems = Vec::new();
    let limit = count_limit(scope);
    if after > limit {
        problems.push(format!(
            "{} would hold {after} secrets, more than GitHub's limit of {limit} per {}",
            scope.describe(),
            match scope {
                Scope::Org(_) | Scope::OrgApp(..) => "organization",
                Scope::Env(..) => "environment",
                Scope::Repo(_) | Scope::RepoApp(..) => "repository",
            }
        ));
    }
    let big: Vec<String> = sizes.filter(|(_, n)| *n > VALUE_BYTES).map(|(k, n)| format!("`{k}` ({n} bytes)")).collect();
    if !big.is_empty() {
        problems.push(format!("{} larger than GitHub's limit of 48 KB per secret", big.join(", ")));
    }
    (!problems.is_empty()).then(|| format!("{}; nothing was written to this target", problems.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_limit_passed() {
        let repo = Scope::Repo("o/r".into());
        assert_eq!(check(&repo, 100, std::iter::empty()), None);
        let e = check(&repo, 101, std::iter::empty()).unwrap();
        assert_eq!(
            e,
            "repository `o/r` would hold 101 secrets, more than GitHub's limit of 100 per repository; nothing was written to this target"
        );
        let env = Scope::Env("o/r".into(), "prod".into());
        assert!(check(&env, 101, std::iter::empty()).unwrap().contains("100 per environment"));
        let org = Scope::Org("o".into());
        assert_eq!(check(&org, 1000, std::iter::empty()), None);
        assert!(check(&org, 1001, std::iter::empty()).unwrap().contains("1000 per organization"));
        let e = check(&repo, 1, [("SMALL", VALUE_BYTES), ("BIG", VALUE_BYTES + 1)].into_iter()).unwrap();
        assert!(e.starts_with("`BIG` (49153 bytes) larger than GitHub's limit of 48 KB"), "{e}");
    }
}
