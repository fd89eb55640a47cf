//! A target kind's section of the manifest, `targets.<kind>`. The manifest
//! does not know which kinds exist: the loader is handed each kind's
//! [`Section`] (the registry in `crate::targets` lists them), walks
//! `targets.<kind>.<name>` and lets the kind parse the settings of each
//! target, with the walker's located errors. Routes (`- <kind>: [name]`)
//! follow the kind's [`RouteRule`].

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;

use super::load::Walker;
use super::model::{Defaults, Pos, Spec, TargetKind};
use super::names;
use super::probe::KindProbe;

/// How a secret's route to a target of this kind names its key.
pub struct RouteRule {
    /// The entry key that names the key at the target (`as`; ESC's `path`).
    pub field: &'static str,
    /// What such a key is called in messages (`Fly secret name`).
    pub label: &'static str,
    /// What a valid key is.
    pub rule: names::Rule,
    /// Keys are compared without regard to case (GitHub's secret names).
    pub fold_case: bool,
    /// Dotted keys nest, so `a.b` and `a.b.c` cannot both be routed (ESC).
    pub nested: bool,
    /// Entries may also expose the value as an environment variable (`env_var`).
    pub env_var: bool,
}

impl RouteRule {
    /// A key named with `as`, checked by `rule`.
    pub const fn named(label: &'static str, rule: names::Rule) -> RouteRule {
        RouteRule { field: "as", label, rule, fold_case: false, nested: false, env_var: false }
    }
}

/// One target kind's part of the manifest.
pub trait Section: Sync {
    fn kind(&self) -> TargetKind;
    /// The keys one target's settings may have, `environment` included.
    fn keys(&self) -> &'static [&'static str];
    fn route(&self) -> RouteRule;
    /// One target's settings, or `None` after reporting what is wrong with
    /// them through `entry`.
    fn parse(&self, entry: &mut Entry<'_, '_>) -> Option<Spec>;
    /// The credential probe the kind contributes (its service's "who am I"
    /// call), which secrets name with `probe: <name>`; `None` by default.
    fn probe(&self) -> Option<&'static KindProbe> {
        None
    }
}

/// The kinds a manifest may name, in the order their sections are read.
pub type Sections = [&'static dyn Section];

/// One target's settings as the loader hands them to its kind.
pub struct Entry<'a, 'f> {
    /// The target's name (`targets.<kind>.<name>`).
    pub name: &'a str,
    /// Where the name is.
    pub pos: Pos,
    /// ``target `kind.name` ``, for messages.
    pub what: &'a str,
    pub map: &'a MarkedMappingNode,
    pub defaults: &'a Defaults,
    /// The walker: located errors and typed readers.
    pub w: &'a mut Walker<'f>,
}

impl<'a> Entry<'a, '_> {
    pub fn node(&self, key: &str) -> Option<&'a Node> {
        self.map.get_node(key)
    }

    /// An error at `pos`.
    pub fn err(&mut self, pos: Pos, title: &str, message: String) {
        self.w.err(pos, title, message);
    }

    /// A required single value, or an error at the target naming `hint`.
    pub fn required(&mut self, key: &str, hint: &str) -> Option<(String, Pos)> {
        let Some(n) = self.map.get_node(key) else {
            let message = format!("{} needs {hint}", self.what);
            self.w.err(self.pos, "missing key", message);
            return None;
        };
        let what = format!("`{key}` of {}", self.what);
        self.w.string(n, &what).map(|s| (s, super::load::pos_of(n)))
    }

    /// An optional single value.
    pub fn optional(&mut self, key: &str) -> Option<Option<(String, Pos)>> {
        match self.map.get_node(key) {
            None => Some(None),
            Some(n) => {
                let what = format!("`{key}` of {}", self.what);
                self.w.string(n, &what).map(|s| Some((s, super::load::pos_of(n))))
            }
        }
    }

    /// An optional `true`/`false`.
    pub fn flag(&mut self, key: &str) -> Option<Option<bool>> {
        match self.map.get_node(key) {
            None => Some(None),
            Some(n) => {
                let what = format!("`{key}` of {}", self.what);
                self.w.bool(n, &what).map(Some)
            }
        }
    }

    /// Checks `value` with `rule`; an error at `pos` otherwise.
    pub fn check(&mut self, pos: Pos, value: &str, what: &str, rule: names::Rule) -> bool {
        self.w.check_name(pos, value, what, rule)
    }

    /// A value named by `key`, or the target's name when the key is absent,
    /// checked by `rule` (`what` names it in messages).
    pub fn name_or_default(&mut self, key: &str, what: &str, rule: names::Rule) -> Option<String> {
        match self.optional(key)? {
            Some((v, pos)) => self.check(pos, &v, what, rule).then_some(v),
            None => {
                let (name, pos) = (self.name.to_string(), self.pos);
                self.check(pos, &name, &format!("{what} (from the target name)"), rule).then_some(name)
            }
        }
    }
}
