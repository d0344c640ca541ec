//! Any bytes given to the header reader give a value or an error, never a panic, and never
//! the reader's panic backstop (which would mean a bounds check is missing).
#![no_main]

use falco_artifacts_pkg_rpm::{RpmError, RpmInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(RpmError::Corrupt {
        offset: None, why, ..
    }) = RpmInfo::read(data)
    {
        panic!("the rpm crate panicked behind the bounds checks: {why}");
    }
});
