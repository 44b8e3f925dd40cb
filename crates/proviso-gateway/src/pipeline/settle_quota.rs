//! Stage: settle quota with the tokens the upstream reports (for streams,
//! when the stream ends however it ends). Without a usage report the full
//! reservation stands; a request that never reached an upstream's model
//! (refused or failed) used no tokens.

use proviso_types::Usage;

use crate::pipeline::Context;

/// Settles the reservation, if any.
pub fn run(ctx: &mut Context, usage: Option<Usage>) {
    if let Some(r) = ctx.reservation.take() {
        r.settle(usage.map(|u| u.total_tokens));
    }
}

/// Settles a request that failed before producing anything.
pub fn nothing_used(ctx: &mut Context) {
    if let Some(r) = ctx.reservation.take() {
        r.settle(Some(0));
    }
}
