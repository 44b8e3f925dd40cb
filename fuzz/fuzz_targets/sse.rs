//! An upstream's event stream, cut into pieces anywhere: split into events
//! and assembled into the recorded output, as the relay stage does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proviso_gateway::sse::{Assembler, SseSplitter};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the stream is cut.
    let Some((&cut, rest)) = data.split_first() else { return };
    let step = usize::from(cut).max(1);
    let mut splitter = SseSplitter::default();
    let mut asm = Assembler::default();
    for chunk in rest.chunks(step) {
        for ev in splitter.feed(chunk) {
            if let Some(d) = ev.data.as_deref()
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(d)
            {
                asm.observe(&v);
            }
        }
    }
    let _ = splitter.rest();
    let _ = asm.output();
});
