//! The gateway's side of the policy check: a key is the policy's
//! [`Caller`], a deployment its [`Target`]. The check itself is
//! [`proviso_policy::Policy::evaluate`] (and `evaluate_explained`), shared
//! by the pipeline's check stage, the admin API's `/admin/policy/check` and
//! `proviso policy check`, so all three answer alike.

use proviso_access::KeyRecord;
use proviso_policy::{Ask, Caller, Destination, Target};

use crate::upstream::Deployment;

/// `key` asking for `model` with the `declared` purpose.
pub fn ask<'a>(key: &'a KeyRecord, declared: Option<&'a str>, model: &'a str) -> Ask<'a> {
    Ask {
        caller: Caller {
            team: &key.team,
            key_id: &key.id.0,
            purposes: &key.purposes,
            models: &key.models,
            implied_purpose: key.implied_purpose(),
        },
        declared,
        model,
    }
}

impl Target for Deployment {
    fn destination(&self) -> Destination<'_> {
        Destination {
            upstream: &self.upstream.name,
            kind: self.upstream.kind_name(),
            region: self.upstream.region.as_deref(),
        }
    }
}
