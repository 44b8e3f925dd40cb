//! An index segment file, as `proviso audit` and the follower open it:
//! opened without and with the full checks, then queried and its
//! references listed. Damage must be an error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("s.pvx");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(idx) = proviso_index::open_segment(&path) {
        let _ = idx.query("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty");
        let _ = proviso_index::check_opened(&idx, &path);
    }
    if let Ok(idx) = proviso_index::read_segment_copied(&path) {
        let _ = idx.references();
        let _ = idx.query("a b c d e f g h i j k l m n o p q r s t u v w x y z");
    }
});
