//! The usage specification: who may call which model, through which
//! upstream, for which declared purpose.
//!
//! A request is allowed only if some rule allows it and no rule denies it;
//! when nothing matches it is denied. Every decision names the rule behind
//! it, the human reason, and the clause of the provider's terms it rests
//! on, and [`Policy::explain`] shows each rule's verdict.
//!
//! ```
//! use proviso_policy::{Policy, PolicyConfig, Request};
//! let policy = Policy::new(PolicyConfig::default()).unwrap();
//! let mut req = Request::new("ml", "key_1", "gpt-4o", "openai", "openai");
//! req.purpose = Some("product".into());
//! assert!(policy.decide(&req).allowed);
//! req.purpose = Some("model-training".into());
//! let d = policy.decide(&req);
//! assert!(!d.allowed);
//! assert_eq!(d.rule, "openai-terms-no-competing-models");
//! ```
#![deny(missing_docs)]

mod check;
mod config;
mod eval;
mod glob;
mod lint;
mod packs;

pub use check::{Ask, Caller, Destination, Evaluation, Target};
pub use config::{DEFAULT_PURPOSES, Effect, PolicyConfig, RuleConfig};
pub use eval::{Decision, Policy, PolicyError, Request, RuleTrace};
pub use glob::glob_match;
pub use lint::{Known, LintFinding, LintKind, lint};
pub use packs::{PACKS, pack_rules};
