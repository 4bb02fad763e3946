//! `warden fuzz flows`: the flow decoders' bounded fuzz run (DDOS-2), a million packets by
//! default, deterministic from `--seed` so a failure replays. It prints what it fed and what the
//! collector counted; a panic prints the packet (hex) and the packet number, and exits 1.
//!
//! `warden fuzz mail`: the same for the abuse-desk parsers (INT-2, `warden_intake::fuzz`):
//! a million inputs by default over the built-in corpus (ARF, X-ARF, IODEF XML and JSON,
//! Shadowserver CSV, free-form mail, gzip and zip) and every file of each `--corpus`
//! directory, each input through every parser (`parse_message`, `parse_xarf`,
//! `parse_document`, the free-form scanner, the MIME reader); it prints the reports reached per
//! format; a panic or a result outside its bounds exits 1 with the input.

use std::cell::RefCell;
use std::time::Instant;

use warden_flow::fuzz::{CORPUS, run};
use warden_intake::fuzz as mail_fuzz;

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

/// Arguments of `warden fuzz mail`.
#[derive(Debug, clap::Args)]
pub struct MailArgs {
    /// How many inputs to feed (each through every parser).
    #[arg(long, default_value_t = 1_000_000)]
    pub inputs: u64,
    /// The generator's seed (the same seed feeds the same inputs).
    #[arg(long, default_value_t = 20_261_201)]
    pub seed: u64,
    /// A directory whose files join the corpus (e.g. ../shared/data/arf/sisimai); repeatable.
    #[arg(long)]
    pub corpus: Vec<std::path::PathBuf>,
}

/// Runs `warden fuzz mail`; the exit code.
pub fn mail(args: &MailArgs) -> anyhow::Result<u8> {
    let mut owned: Vec<Vec<u8>> = mail_fuzz::CORPUS.iter().map(|(_, b)| b.to_vec()).collect();
    for dir in &args.corpus {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            owned.push(std::fs::read(&f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?);
        }
    }
    let corpus: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    println!(
        "fuzzing the mail and document parsers: {} inputs, seed {}, corpus of {} messages and documents ({} built in)",
        args.inputs,
        args.seed,
        corpus.len(),
        mail_fuzz::CORPUS.len()
    );
    let last: RefCell<(u64, Vec<u8>)> = RefCell::new((0, Vec::new()));
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mail_fuzz::run(&corpus, args.inputs, args.seed, |i, p| {
            let mut l = last.borrow_mut();
            l.0 = i;
            l.1.clear();
            l.1.extend_from_slice(p);
        })
    }));
    let secs = started.elapsed().as_secs_f64();
    match outcome {
        Ok(r) => {
            println!(
                "{} inputs in {secs:.1} s ({:.0} inputs/s): no panic",
                r.inputs,
                r.inputs as f64 / secs.max(1e-9)
            );
            let errors: Vec<String> = r.errors.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let formats: Vec<String> = r.formats.iter().map(|(c, n)| format!("{c} {n}")).collect();
            println!(
                "{} messages parsed into {} reports, {} bare documents parsed; reports by format: {}; refusals: {}",
                r.parsed,
                r.reports,
                r.documents,
                formats.join(", "),
                errors.join(", ")
            );
            if let Some((i, why)) = r.violations.first() {
                eprintln!(
                    "error: input {i} parsed outside its bounds ({why}); {} such inputs (replay: warden fuzz mail --seed {} --inputs {})",
                    r.violations.len(),
                    args.seed,
                    i + 1
                );
                return Ok(1);
            }
            Ok(0)
        }
        Err(_) => {
            let (i, p) = &*last.borrow();
            eprintln!(
                "error: a parser panicked on input {i} (replay: warden fuzz mail --seed {} --inputs {}); the input, {} bytes: {}",
                args.seed,
                i + 1,
                p.len(),
                hex::encode(p)
            );
            Ok(1)
        }
    }
}
