//! Provider version constraints as Terraform reads them (`>= 5.0, < 6.0`, `~> 1.2`):
//! a comma-separated AND of conditions, Ruby style as in apparentlymart/go-versions.
//!
//! Prereleases match only a condition that names them exactly (`= 1.2.0-beta1`), never a
//! range: that is what `terraform init` selects, so a mirror filtered by a constraint
//! offers exactly the versions a configuration with that constraint can use.

use std::cmp::Ordering;
use std::fmt;

use crate::version::{ProviderVersion, Version};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version constraint {input:?}: {reason}")]
pub struct ConstraintError {
    pub input: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Exact,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    /// `~>`: the rightmost written segment may grow.
    Pessimistic,
}

impl Operator {
    fn symbol(self) -> &'static str {
        match self {
            Operator::Exact => "=",
            Operator::NotEqual => "!=",
            Operator::Greater => ">",
            Operator::GreaterOrEqual => ">=",
            Operator::Less => "<",
            Operator::LessOrEqual => "<=",
            Operator::Pessimistic => "~>",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    operator: Operator,
    operand: Version,
    /// Numeric segments as written (1-3): `~> 1.2` differs from `~> 1.2.0`.
    written_segments: usize,
}

impl Condition {
    fn parse(text: &str, whole: &str) -> Result<Self, ConstraintError> {
        let err = |reason: String| ConstraintError {
            input: whole.to_string(),
            reason,
        };
        let text = text.trim();
        let (operator, rest) = [
            ("~>", Operator::Pessimistic),
            (">=", Operator::GreaterOrEqual),
            ("<=", Operator::LessOrEqual),
            ("!=", Operator::NotEqual),
            (">", Operator::Greater),
            ("<", Operator::Less),
            ("=", Operator::Exact),
        ]
        .iter()
        .find_map(|(sym, op)| text.strip_prefix(sym).map(|rest| (*op, rest)))
        .unwrap_or((Operator::Exact, text));
        let rest = rest.trim();
        if rest.is_empty() {
            return Err(err("a condition needs a version, such as \">= 5.0\"".into()));
        }
        if rest.starts_with('v') {
            return Err(err(format!(
                "{rest:?}: provider versions must not have a \"v\" prefix"
            )));
        }
        let operand = Version::parse_constraint_operand(rest).map_err(|e| err(e.to_string()))?;
        let numbers = rest.split(['-', '+']).next().unwrap_or(rest);
        let written_segments = numbers.split('.').count();
        Ok(Self {
            operator,
            operand,
            written_segments,
        })
    }

    fn matches(&self, version: &Version) -> bool {
        let ord = version.cmp_precedence(&self.operand);
        match self.operator {
            Operator::Exact => ord == Ordering::Equal,
            Operator::NotEqual => ord != Ordering::Equal,
            Operator::Greater => ord == Ordering::Greater,
            Operator::GreaterOrEqual => ord != Ordering::Less,
            Operator::Less => ord == Ordering::Less,
            Operator::LessOrEqual => ord != Ordering::Greater,
            Operator::Pessimistic => ord != Ordering::Less && self.below_pessimistic_bound(version),
        }
    }

    /// Whether `version` is below the exclusive upper bound of `~>`: the segment before
    /// the last written one plus one (`~> 1.2.3` is `< 1.3.0`, `~> 1.2` is `< 2.0.0`,
    /// `~> 1` is `< 2.0.0`). Compared segment by segment in `u128`: the bound of an
    /// 18-digit segment has 19 digits, which is not a parseable `Version`.
    fn below_pessimistic_bound(&self, version: &Version) -> bool {
        let segs = self.operand.segments();
        let bump = self.written_segments.saturating_sub(2);
        let mut bound = [0u128; 3];
        for (b, s) in bound.iter_mut().zip(&segs[..bump]) {
            *b = u128::from(*s);
        }
        bound[bump] = u128::from(segs[bump]) + 1;
        let v = version.segments();
        for (i, b) in bound.iter().enumerate() {
            match u128::from(v.get(i).copied().unwrap_or(0)).cmp(b) {
                Ordering::Less => return true,
                Ordering::Greater => return false,
                Ordering::Equal => {}
            }
        }
        // Numerically the bound itself (or above it, with extra segments): only a
        // prerelease of the bound sorts below it.
        v.iter().skip(3).all(|s| *s == 0) && version.is_prerelease()
    }

    /// A prerelease is allowed only by an exact condition naming it.
    fn names_exactly(&self, version: &Version) -> bool {
        self.operator == Operator::Exact && version.cmp_precedence(&self.operand).is_eq()
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let segs = self.operand.segments();
        let nums: Vec<String> = segs[..self.written_segments.min(segs.len())]
            .iter()
            .map(u64::to_string)
            .collect();
        write!(f, "{} {}", self.operator.symbol(), nums.join("."))?;
        if let Some(pre) = self.operand.prerelease() {
            write!(f, "-{pre}")?;
        }
        if let Some(build) = self.operand.build() {
            write!(f, "+{build}")?;
        }
        Ok(())
    }
}

/// A parsed constraint; `Display` gives its normalised text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConstraint(Vec<Condition>);

/// Longest constraint text accepted.
pub const MAX_CONSTRAINT_LEN: usize = 256;

impl VersionConstraint {
    pub fn parse(input: &str) -> Result<Self, ConstraintError> {
        if input.len() > MAX_CONSTRAINT_LEN {
            return Err(ConstraintError {
                input: input.chars().take(40).collect(),
                reason: format!("longer than {MAX_CONSTRAINT_LEN} characters"),
            });
        }
        if input.trim().is_empty() {
            return Err(ConstraintError {
                input: input.to_string(),
                reason: "empty; leave the constraint out to allow every version".into(),
            });
        }
        input
            .split(',')
            .map(|part| Condition::parse(part, input))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `version` satisfies every condition (with Terraform's prerelease rule).
    pub fn matches(&self, version: &ProviderVersion) -> bool {
        let v = version.version();
        if v.is_prerelease() && !self.0.iter().any(|c| c.names_exactly(v)) {
            return false;
        }
        self.0.iter().all(|c| c.matches(v))
    }
}

impl fmt::Display for VersionConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            c.fmt(f)?;
        }
        Ok(())
    }
}
