//! An upstream's non-streamed answer, read in one pass from its bytes
//! (`answer_bytes::output`) and as a tree of values
//! (`sse::non_stream_output`): whenever the one-pass reader takes an
//! answer, the body must be JSON and both must read the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proviso_gateway::{answer_bytes, sse};

fuzz_target!(|data: &[u8]| {
    let Some(lean) = answer_bytes::output(data) else { return };
    let tree: serde_json::Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => panic!("taken by the one-pass reader, refused as a tree: {e}"),
    };
    assert_eq!(lean, sse::non_stream_output(&tree));
});
