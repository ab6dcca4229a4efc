//! libFuzzer target: any input must parse or fail cleanly, as a cdef and as a type
//! string, and a failed declaration must leave the table as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moonjet_ffi::CTypeTable;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let mut table = CTypeTable::new();
    let before = table.len();
    if table.cdef(&src, &[]).is_err() {
        assert_eq!(table.len(), before);
    }
    if let Ok(id) = table.parse_type(&src, &[]) {
        let _ = table.type_name(id);
        let _ = table.sizeof(id);
        let _ = table.alignof(id);
    }
});
