//! `warden fuzz flows`: the flow decoders' bounded fuzz run (DDOS-2), a million packets by
//! default, deterministic from `--seed` so a failure replays. It prints what it fed and what the
//! collector counted; a panic prints the packet (hex) and the packet number, and exits 1.

use std::cell::RefCell;
use std::time::Instant;

use warden_flow::fuzz::{CORPUS, run};

/// Arguments of `warden fuzz flows`.
#[derive(Debug, clap::Args)]
pub struct FlowsArgs {
    /// How many packets to feed.
    #[arg(long, default_value_t = 1_000_000)]
    pub packets: u64,
    /// The generator's seed (the same seed feeds the same packets).
    #[arg(long, default_value_t = 20_261_201)]
    pub seed: u64,
}

/// Runs it; the exit code.
pub fn flows(args: &FlowsArgs) -> u8 {
    let corpus: Vec<&[u8]> = CORPUS.iter().map(|(_, b)| *b).collect();
    let names: Vec<&str> = CORPUS.iter().map(|(n, _)| *n).collect();
    println!(
        "fuzzing the flow decoders: {} packets, seed {}, corpus {} (real exporters' datagrams)",
        args.packets,
        args.seed,
        names.join(", ")
    );
    let last: RefCell<(u64, Vec<u8>)> = RefCell::new((0, Vec::new()));
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&corpus, args.packets, args.seed, |i, p| {
            let mut l = last.borrow_mut();
            l.0 = i;
            l.1.clear();
            l.1.extend_from_slice(p);
        })
    }));
    let secs = started.elapsed().as_secs_f64();
    match outcome {
        Ok(r) => {
            let c = &r.counters;
            println!(
                "{} packets in {secs:.1} s ({:.0} packets/s): no panic",
                r.packets,
                r.packets as f64 / secs.max(1e-9)
            );
            println!(
                "decoded {} packets into {} records; dropped: {} truncated, {} garbage, {} oversized; {} sets without a template; {} templates held",
                c.packets_decoded,
                r.records,
                c.packets_truncated,
                c.packets_garbage,
                c.packets_oversized,
                c.sets_without_template,
                r.templates
            );
            0
        }
        Err(_) => {
            let (i, p) = &*last.borrow();
            eprintln!(
                "error: a decoder panicked on packet {i} (replay: warden fuzz flows --seed {} --packets {}); the packet, {} bytes: {}",
                args.seed,
                i + 1,
                p.len(),
                hex::encode(p)
            );
            1
        }
    }
}
