#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| polaris_fuzz::grpc::naming(data));
