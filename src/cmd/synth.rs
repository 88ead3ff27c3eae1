pub fn run(_s: crate::cli::Scale, _o: &std::path::Path, _seed: u64, _a: i32, _b: i32) -> i32 {
    0
}
