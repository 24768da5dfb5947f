//! A stable-Rust mutation smoke run for machines without cargo-fuzz: each target gets N inputs
//! made by a few random byte edits (flips, inserts, deletes, JSON/XML punctuation) of its
//! committed corpus files, through the same harnesses. No coverage guidance: libFuzzer
//! (`fuzz/campaign.sh`) is the real campaign.
//! `cargo run --release -p polaris-fuzz --example mutate -- [N] [SEED]`; the input being run is
//! kept in `$TMPDIR/polaris-mutate-<target>` so a failure leaves its reproducer behind.

use std::path::Path;

/// xorshift64: reproducible from the seed argument.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PUNCTUATION: &[u8] = b"{}[]\",:0-9eE.\\\n\0<>/";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        if data.is_empty() {
            data.push(0);
        }
        let at = rng.below(data.len());
        match rng.below(4) {
            0 => data[at] = rng.next() as u8,
            1 => data.insert(at, rng.next() as u8),
            2 => {
                data.remove(at);
            }
            _ => data[at] = PUNCTUATION[rng.below(PUNCTUATION.len())],
        }
    }
    data
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let seed: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1234_5678);
    let mut rng = Rng(seed.max(1));
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (name, harness) in polaris_fuzz::TARGETS {
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(corpus.join(name))
            .expect("a corpus directory")
            .map(|entry| std::fs::read(entry.expect("an entry").path()).expect("a file"))
            .collect();
        let keep = std::env::temp_dir().join(format!("polaris-mutate-{name}"));
        let start = std::time::Instant::now();
        for _ in 0..runs {
            let pick = rng.below(seeds.len());
            let data = mutate(&mut rng, &seeds[pick]);
            std::fs::write(&keep, &data).expect("keep the input");
            harness(&data);
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {runs} inputs in {secs:.1} s ({:.0}/s), seed {seed}",
            runs as f64 / secs
        );
    }
}
